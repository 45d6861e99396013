package renrentest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

const clientHeader = "<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Users == nil {
		opts.Users = map[string]string{"123456": "secret"}
	}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawClient is a hand-driven XMPP client for checking the server's
// answers to exactly the bytes a test sends.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	dec  *xml.Decoder
}

func dialRaw(t *testing.T, s *Server) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return &rawClient{t: t, conn: c, dec: xml.NewDecoder(c)}
}

func (c *rawClient) send(format string, args ...any) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.conn, format, args...); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// open sends a stream header and returns the server's header.
func (c *rawClient) open(to string) xml.StartElement {
	c.t.Helper()
	c.send(clientHeader, to)
	for {
		tok, err := c.dec.Token()
		if err != nil {
			c.t.Fatalf("read stream header: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se
		}
	}
}

// next returns the server's next top-level element, or nil at the end of
// its stream.
func (c *rawClient) next() *element {
	c.t.Helper()
	for {
		tok, err := c.dec.Token()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			el := new(element)
			if err := c.dec.DecodeElement(el, &t); err != nil {
				c.t.Fatalf("decode: %v", err)
			}
			return el
		case xml.EndElement:
			return nil
		}
	}
}

// closed reports whether the server closed the TCP connection.
func (c *rawClient) closed() bool {
	_, err := c.conn.Read(make([]byte, 1))
	return errors.Is(err, io.EOF)
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func TestStreamHeader(t *testing.T) {
	tests := []struct {
		name, to      string
		wantCondition string // stream error expected after the header, "" for features
	}{
		{"served domain", "talk.xiaonei.com", ""},
		{"alias answered from the served domain", "talk.renren.com", ""},
		{"unknown host", "jabber.org", "host-unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Options{})
			c := dialRaw(t, s)
			hdr := c.open(tt.to)
			if from := attr(hdr, "from"); from != "talk.xiaonei.com" {
				t.Errorf("stream from = %q, want talk.xiaonei.com", from)
			}
			el := c.next()
			if tt.wantCondition != "" {
				if !el.is(nsStream, "error") || el.child(nsStreams, tt.wantCondition) == nil {
					t.Fatalf("got %s, want stream error %s", el.describe(), tt.wantCondition)
				}
				if c.next() != nil {
					t.Error("stream not closed after the error")
				}
				return
			}
			tlsf := el.child(nsTLS, "starttls")
			if !el.is(nsStream, "features") || tlsf == nil || tlsf.child(nsTLS, "required") == nil {
				t.Fatalf("features = %+v, want <starttls><required/></starttls>", el)
			}
			if el.child(nsSASL, "mechanisms") != nil {
				t.Error("SASL offered before TLS")
			}
			if v := s.Violations(); len(v) != 0 {
				t.Errorf("violations = %q", v)
			}
		})
	}
}

func TestPreTLSViolations(t *testing.T) {
	plain := base64.StdEncoding.EncodeToString([]byte("\x00123456\x00secret"))
	tests := []struct {
		name          string
		send          string
		wantReply     string // local name of the reply, "" for none
		wantCondition string // stream error condition, "" for a plain close
		wantViolation string
	}{
		{"auth on plain stream", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + plain + "</auth>",
			"failure", "", "<auth> on a plain (pre-TLS) stream"},
		{"presence before tls", "<presence><status>hi</status></presence>",
			"", "not-authorized", "<presence xmlns='jabber:client'> before STARTTLS"},
		{"malformed xml", "<presence><status>hi</presence>",
			"", "not-well-formed", "malformed xml"},
		{"doctype", "<!DOCTYPE x [<!ENTITY a 'b'>]>",
			"", "restricted-xml", "restricted xml"},
		{"text between stanzas", "hello<presence/>",
			"", "restricted-xml", "text between stanzas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Options{})
			c := dialRaw(t, s)
			c.open("talk.xiaonei.com")
			c.next() // features
			c.send("%s", tt.send)
			el := c.next()
			if tt.wantReply != "" {
				if el == nil || el.XMLName.Local != tt.wantReply {
					t.Fatalf("reply = %v, want <%s>", el, tt.wantReply)
				}
				el = c.next()
			}
			if tt.wantCondition != "" {
				if el == nil || !el.is(nsStream, "error") || el.child(nsStreams, tt.wantCondition) == nil {
					t.Fatalf("got %+v, want stream error %s", el, tt.wantCondition)
				}
				el = c.next()
			}
			if el != nil {
				t.Fatalf("got %s, want the end of the stream", el.describe())
			}
			if !c.closed() {
				t.Error("connection still open")
			}
			v := s.Violations()
			want := 1
			if tt.name == "auth on plain stream" {
				// The password itself crossed the wire in the clear too.
				want = 2
				if len(v) == 2 && v[1] != "credentials of 123456 on a plain (pre-TLS) stream" {
					t.Errorf("second violation %q, want the credentials one", v[1])
				}
			}
			if len(v) != want || !strings.Contains(v[0], tt.wantViolation) {
				t.Errorf("violations = %q, want %d, the first containing %q", v, want, tt.wantViolation)
			}
			if len(s.Presences()) != 0 {
				t.Errorf("presences recorded before login: %+v", s.Presences())
			}
		})
	}
}

// TestLogin walks the whole login by hand, so the server is checked
// against the RFCs and not only against the client library.
func TestLogin(t *testing.T) {
	s := newTestServer(t, Options{FeedEvents: true})
	c := dialRaw(t, s)
	c.open("talk.renren.com")
	c.next() // features
	c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	if el := c.next(); el == nil || !el.is(nsTLS, "proceed") {
		t.Fatalf("got %v, want <proceed/>", el)
	}
	tc := tls.Client(c.conn, &tls.Config{RootCAs: s.CAPool(), ServerName: "talk.renren.com"})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("tls: %v", err)
	}
	c.dec = xml.NewDecoder(tc)
	c.conn = tc

	c.open("talk.renren.com")
	if el := c.next(); el.child(nsSASL, "mechanisms") == nil {
		t.Fatalf("features = %+v, want SASL mechanisms", el)
	}
	bad := base64.StdEncoding.EncodeToString([]byte("\x00123456\x00wrong"))
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>", bad)
	if el := c.next(); !el.is(nsSASL, "failure") || el.child(nsSASL, "not-authorized") == nil {
		t.Fatalf("got %+v, want <failure><not-authorized/></failure>", el)
	}
	good := base64.StdEncoding.EncodeToString([]byte("\x00123456\x00secret"))
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>", good)
	if el := c.next(); !el.is(nsSASL, "success") {
		t.Fatalf("got %+v, want <success/>", el)
	}

	c.dec = xml.NewDecoder(tc)
	c.open("talk.renren.com")
	f := c.next()
	if f.child(nsBind, "bind") == nil || f.child(nsSession, "session") == nil {
		t.Fatalf("features = %+v, want bind and session", f)
	}
	c.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r2</resource></bind></iq>")
	el := c.next()
	if jid := el.child(nsBind, "bind").child(nsBind, "jid"); el.attr("id") != "b1" || jid == nil || jid.Text != "123456@talk.xiaonei.com/r2" {
		t.Fatalf("bind result = %+v", el)
	}
	c.send("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
	if el := c.next(); el.attr("type") != "result" || el.attr("id") != "s1" {
		t.Fatalf("session result = %+v", el)
	}
	c.send("<iq type='get' id='p1' to='talk.renren.com'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := c.next(); el.attr("type") != "result" || el.attr("id") != "p1" || el.attr("from") != "talk.renren.com" {
		t.Fatalf("ping result = %+v", el)
	}
	c.send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
	if el := c.next(); el.attr("type") != "error" || el.child(nsClient, "error").child(nsStanzas, "service-unavailable") == nil {
		t.Fatalf("roster reply = %+v, want service-unavailable", el)
	}

	c.send("<presence/>")
	feed := c.next()
	if !feed.is(nsClient, "message") || feed.attr("from") != feedFrom || feed.child(nsClient, "xfeed") == nil {
		t.Fatalf("got %+v, want a feed message", feed)
	}
	if body := feed.child(nsClient, "body"); body == nil || body.Text != "" {
		t.Errorf("feed body = %+v, want empty", body)
	}
	c.send("<presence><status>a &amp; b &lt;c&gt; 人人</status></presence>")
	c.send("<presence to='friend@talk.xiaonei.com'><status>directed</status></presence>")
	c.send("<presence type='unavailable'/></stream:stream>")
	if el := c.next(); el != nil {
		t.Fatalf("got %s, want the end of the stream", el.describe())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.WaitStatuses(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Text != "a & b <c> 人人" || st[0].JID != "123456@talk.xiaonei.com/r2" {
		t.Errorf("statuses = %+v", st)
	}
	ps := s.Presences()
	if len(ps) != 4 || ps[0].HasStatus || ps[2].To == "" || ps[3].Type != "unavailable" {
		t.Errorf("presences = %+v", ps)
	}
	if v := s.Violations(); len(v) != 0 {
		t.Errorf("violations = %q", v)
	}
}

func TestWaitStatusesHonoursContext(t *testing.T) {
	s := newTestServer(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	got, err := s.WaitStatuses(ctx, 1)
	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 0 {
		t.Errorf("WaitStatuses = %v, %v; want nothing and DeadlineExceeded", got, err)
	}
}

func TestCertificate(t *testing.T) {
	s := newTestServer(t, Options{})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CAPEM()) {
		t.Fatal("CAPEM does not parse")
	}
	for _, name := range []string{"talk.xiaonei.com", "talk.renren.com", "localhost", "127.0.0.1"} {
		leaf, err := x509.ParseCertificate(s.certs.Cert.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("certificate for %s: %v", name, err)
		}
	}
}

func TestParsePlain(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, in         string
		authz, authc, pw string
		ok               bool
	}{
		{"no authzid", b64("\x00u\x00p"), "", "u", "p", true},
		{"authzid", b64("u@d\x00u\x00p"), "u@d", "u", "p", true},
		{"empty password", b64("\x00u\x00"), "", "u", "", true},
		{"empty user", b64("\x00\x00p"), "", "", "", false},
		{"two parts", b64("u\x00p"), "", "", "", false},
		{"four parts", b64("\x00u\x00p\x00x"), "", "", "", false},
		{"not base64", "!!!", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, c, p, ok := parsePlain(tt.in)
			if z != tt.authz || c != tt.authc || p != tt.pw || ok != tt.ok {
				t.Errorf("parsePlain = %q %q %q %v, want %q %q %q %v", z, c, p, ok, tt.authz, tt.authc, tt.pw, tt.ok)
			}
		})
	}
}

// FuzzServe feeds arbitrary client bytes to a connection handler: it must
// neither panic nor hang, whatever arrives.
func FuzzServe(f *testing.F) {
	hdr := fmt.Sprintf(clientHeader, "talk.xiaonei.com")
	for _, seed := range []string{
		"",
		hdr,
		hdr + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
		hdr + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\x16\x03\x01\x00\x05hello",
		hdr + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>ADEyMzQ1NgBzZWNyZXQ=</auth>",
		hdr + "<presence><status>x</status></presence></stream:stream>",
		hdr + "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
		hdr + "<a><b><c><d></d></c></b></a>",
		hdr + "<!-- comment -->",
		hdr + "<?pi x?>",
		hdr + "\xff\xfe",
		hdr + "</stream:stream>",
		"<?xml version='1.0' encoding='latin1'?>" + hdr,
		"<stream:stream xmlns:stream='wrong'>",
		"<x/>",
	} {
		f.Add([]byte(seed))
	}
	s, err := NewServer(Options{Users: map[string]string{"123456": "secret"}})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		c := s.track(server)
		if c == nil {
			t.Fatal("server closed")
		}
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			_, _ = io.Copy(io.Discard, client)
		}()
		go func() {
			_, _ = client.Write(in)
			_ = client.Close()
		}()
		served := make(chan struct{})
		go func() {
			defer close(served)
			defer s.wg.Done()
			c.serve()
		}()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatalf("handler hung on %q", in)
		}
		<-drained
	})
}
