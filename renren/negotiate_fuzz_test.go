package renren

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/xdg-go/scram"
	"go.uber.org/zap"
)

// sink is a net.Conn that reads from r and swallows writes.
type sink struct {
	net.Conn
	r *bytes.Reader
}

func (s sink) Read(p []byte) (int, error)       { return s.r.Read(p) }
func (s sink) Write(p []byte) (int, error)      { return len(p), nil }
func (s sink) Close() error                     { return nil }
func (s sink) SetDeadline(time.Time) error      { return nil }
func (s sink) SetWriteDeadline(time.Time) error { return nil }
func (s sink) SetReadDeadline(time.Time) error  { return nil }
func (s sink) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (s sink) LocalAddr() net.Addr              { return &net.TCPAddr{} }

// FuzzLogin runs what a server sends during the login through renren's
// own negotiation: the stream header and features, STARTTLS, a stream
// error, and the SCRAM and PLAIN exchanges with arbitrary challenges.
// Nothing may panic or hang, and no login may succeed on bytes that do not
// prove the password.
func FuzzLogin(f *testing.F) {
	for _, s := range []string{
		"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' version='1.0' id='1'>" +
			"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
		"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>h:1</see-other-host></stream:error>",
		"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1hYmMsczpQUVIsaT00MDk2</challenge><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1h</success>",
		"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text>x</text></failure>",
		"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
	} {
		f.Add([]byte(s))
	}
	// i=2000000000: refused before any PBKDF2 work, or this would hang.
	f.Add([]byte("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1hYmMscz1QUVJTLGk9MjAwMDAwMDAwMA==</challenge>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		newTr := func() *transport {
			tr := newTransport(ctx, transportConfig{domain: "talk.xiaonei.com",
				auth: authConfig{user: "123456", password: "pw", mechanisms: mechanismPreference, log: zap.NewNop()}})
			tr.maxStanza = 4 << 10
			c := sink{r: bytes.NewReader(b)}
			tr.raw, tr.conn = c, c
			return tr
		}
		tr := newTr()
		_, _, _ = tr.openStream()
		_ = tr.startTLS()

		for _, mech := range []string{mechSHA256, mechSHA1Plus} {
			tr = newTr()
			tr.dec = tr.newDecoder(tr.conn)
			h, plus, _ := scramHash(mech)
			cb := scram.NewTLSUniqueBinding([]byte("0123456789ab"))
			if err := tr.scramLogin(mech, h, plus, cb, false); err == nil {
				t.Fatalf("%s login succeeded on %q", mech, b)
			}
		}
		tr = newTr()
		tr.dec = tr.newDecoder(tr.conn)
		_ = tr.plain()
	})
}
