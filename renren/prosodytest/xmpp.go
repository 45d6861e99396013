package prosodytest

// A deliberately small XMPP client (RFC 6120/6121 subset) built on the
// standard library only. It observes the library under test, so it must not
// share code with it.

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
	"sync"
	"time"
)

const (
	nsStream  = "http://etherx.jabber.org/streams"
	nsClient  = "jabber:client"
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsRoster  = "jabber:iq:roster"
	nsPing    = "urn:xmpp:ping"
	nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

type clientConfig struct {
	Addr     string // host:port to dial
	Domain   string // stream 'to' and TLS ServerName
	Pool     *x509.CertPool
	User     string // localpart
	Password string
	Resource string
}

type features struct {
	StartTLS *struct {
		Required *struct{} `xml:"required"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
	Mechanisms *struct {
		Mechanism []string `xml:"mechanism"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms"`
	Bind    *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	Session *struct {
		Optional *struct{} `xml:"optional"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-session session"`
}

func (f *features) hasMechanism(m string) bool {
	if f.Mechanisms == nil {
		return false
	}
	for _, x := range f.Mechanisms.Mechanism {
		if strings.TrimSpace(x) == m {
			return true
		}
	}
	return false
}

// anyChild is the first child element of a stream error or SASL failure:
// its local name is the defined condition.
type conditionElem struct {
	Children []struct {
		XMLName xml.Name
		Text    string `xml:",chardata"`
	} `xml:",any"`
}

func (c conditionElem) String() string {
	var cond, text []string
	for _, ch := range c.Children {
		if ch.XMLName.Local == "text" {
			text = append(text, strings.TrimSpace(ch.Text))
		} else {
			cond = append(cond, ch.XMLName.Local)
		}
	}
	s := strings.Join(cond, ",")
	if len(text) > 0 {
		s += " (" + strings.Join(text, " ") + ")"
	}
	return s
}

type iqStanza struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	Type    string `xml:"type,attr"`
	From    string `xml:"from,attr"`
	To      string `xml:"to,attr"`
	Bind    *struct {
		JID string `xml:"jid"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	Roster *struct {
		Items []struct {
			JID          string `xml:"jid,attr"`
			Subscription string `xml:"subscription,attr"`
		} `xml:"item"`
	} `xml:"jabber:iq:roster query"`
	Ping  *struct{}      `xml:"urn:xmpp:ping ping"`
	Error *conditionElem `xml:"error"`
}

type presenceStanza struct {
	From   string `xml:"from,attr"`
	Type   string `xml:"type,attr"`
	Show   string `xml:"show"`
	Status []struct {
		Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
		Text string `xml:",chardata"`
	} `xml:"status"`
}

// xmppConn is one authenticated, bound c2s stream.
type xmppConn struct {
	raw net.Conn
	nc  net.Conn // raw, or the TLS connection on top of it
	dec *xml.Decoder
	jid string // full JID assigned by the server

	wmu       sync.Mutex
	closeOnce sync.Once
}

func escapeXML(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (c *xmppConn) send(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := io.WriteString(c.nc, s)
	_ = c.nc.SetWriteDeadline(time.Time{})
	return err
}

// openStream sends a stream header on the current transport, reads the
// server's header and its <stream:features/>.
func (c *xmppConn) openStream(domain string) (*features, error) {
	c.dec = xml.NewDecoder(c.nc)
	hdr := "<?xml version='1.0'?><stream:stream xmlns='" + nsClient + "' xmlns:stream='" + nsStream +
		"' to='" + escapeXML(domain) + "' version='1.0'>"
	if err := c.send(hdr); err != nil {
		return nil, fmt.Errorf("send stream header: %w", err)
	}
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read stream header: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Space != nsStream || se.Name.Local != "stream" {
				return nil, fmt.Errorf("expected <stream:stream>, got <%s xmlns=%q>", se.Name.Local, se.Name.Space)
			}
			var from string
			for _, a := range se.Attr {
				if a.Name.Local == "from" && a.Name.Space == "" {
					from = a.Value
				}
			}
			if from != "" && !strings.EqualFold(from, domain) {
				return nil, fmt.Errorf("stream from %q, want %q", from, domain)
			}
			break
		}
	}
	se, err := c.nextElement()
	if err != nil {
		return nil, fmt.Errorf("read stream features: %w", err)
	}
	if se.Name.Space != nsStream || se.Name.Local != "features" {
		return nil, fmt.Errorf("expected <stream:features>, got <%s xmlns=%q>", se.Name.Local, se.Name.Space)
	}
	var f features
	if err := c.dec.DecodeElement(&f, &se); err != nil {
		return nil, fmt.Errorf("decode stream features: %w", err)
	}
	return &f, nil
}

var (
	errStreamClosed = errors.New("server closed the XMPP stream")
	errNoStartTLS   = errors.New("server does not offer STARTTLS (did mod_tls load the certificate? is lua-sec installed?)")
)

// nextElement returns the start of the next top-level element. A stream
// error is decoded and returned as an error; the end of the stream is
// errStreamClosed.
func (c *xmppConn) nextElement() (xml.StartElement, error) {
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space == nsStream && t.Name.Local == "error" {
				var ce conditionElem
				if err := c.dec.DecodeElement(&ce, &t); err != nil {
					return xml.StartElement{}, fmt.Errorf("stream error (undecodable: %v)", err)
				}
				return xml.StartElement{}, fmt.Errorf("stream error: %s", ce)
			}
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, errStreamClosed
		}
	}
}

// dialTLS connects, checks the stream, negotiates STARTTLS and verifies the
// server certificate against cfg.Pool with ServerName cfg.Domain. It returns
// the features of the stream opened over TLS.
func dialTLS(ctx context.Context, cfg clientConfig) (*xmppConn, *features, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, nil, err
	}
	c := &xmppConn{raw: raw, nc: raw}
	ok := false
	defer func() {
		if !ok {
			raw.Close()
		}
	}()
	if dl, has := ctx.Deadline(); has {
		_ = raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	f, err := c.openStream(cfg.Domain)
	if err != nil {
		return nil, nil, err
	}
	if f.StartTLS == nil {
		return nil, nil, errNoStartTLS
	}
	if err := c.send("<starttls xmlns='" + nsTLS + "'/>"); err != nil {
		return nil, nil, err
	}
	se, err := c.nextElement()
	if err != nil {
		return nil, nil, fmt.Errorf("STARTTLS: %w", err)
	}
	if se.Name.Space != nsTLS || se.Name.Local != "proceed" {
		return nil, nil, fmt.Errorf("STARTTLS: server answered <%s/>", se.Name.Local)
	}
	// Nothing follows <proceed/> until we start the handshake, so the
	// decoder's read-ahead buffer holds no TLS bytes.
	tc := tls.Client(raw, &tls.Config{
		RootCAs:    cfg.Pool,
		ServerName: cfg.Domain,
		MinVersion: tls.VersionTLS12,
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, nil, fmt.Errorf("TLS handshake: %w", err)
	}
	c.nc = tc
	f, err = c.openStream(cfg.Domain)
	if err != nil {
		return nil, nil, fmt.Errorf("after STARTTLS: %w", err)
	}
	ok = true
	return c, f, nil
}

// dialClient performs the full login: STARTTLS, SASL PLAIN, bind, session
// (if offered) and a roster get. It returns the roster JIDs. The connection
// has no deadline afterwards.
func dialClient(ctx context.Context, cfg clientConfig) (*xmppConn, []string, error) {
	c, f, err := dialTLS(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	ok := false
	defer func() {
		if !ok {
			c.nc.Close()
		}
	}()
	stop := context.AfterFunc(ctx, func() { _ = c.raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if !f.hasMechanism("PLAIN") {
		var ms []string
		if f.Mechanisms != nil {
			ms = f.Mechanisms.Mechanism
		}
		return nil, nil, fmt.Errorf("server does not offer SASL PLAIN over TLS (offers %q)", ms)
	}
	cred := base64.StdEncoding.EncodeToString([]byte("\x00" + cfg.User + "\x00" + cfg.Password))
	if err := c.send("<auth xmlns='" + nsSASL + "' mechanism='PLAIN'>" + cred + "</auth>"); err != nil {
		return nil, nil, err
	}
	se, err := c.nextElement()
	if err != nil {
		return nil, nil, fmt.Errorf("SASL: %w", err)
	}
	switch {
	case se.Name.Space == nsSASL && se.Name.Local == "success":
		if err := c.dec.Skip(); err != nil {
			return nil, nil, err
		}
	case se.Name.Space == nsSASL && se.Name.Local == "failure":
		var ce conditionElem
		_ = c.dec.DecodeElement(&ce, &se)
		return nil, nil, fmt.Errorf("SASL PLAIN as %q failed: %s (is the account registered with this password?)", cfg.User, ce)
	default:
		return nil, nil, fmt.Errorf("SASL: unexpected <%s/>", se.Name.Local)
	}

	// The decoder must not be reused across the stream restart.
	f, err = c.openStream(cfg.Domain)
	if err != nil {
		return nil, nil, fmt.Errorf("after SASL: %w", err)
	}
	if f.Bind == nil {
		return nil, nil, errors.New("server does not offer resource binding")
	}
	res := "<iq type='set' id='bind1'><bind xmlns='" + nsBind + "'>"
	if cfg.Resource != "" {
		res += "<resource>" + escapeXML(cfg.Resource) + "</resource>"
	}
	res += "</bind></iq>"
	iq, err := c.roundTrip("bind1", res)
	if err != nil {
		return nil, nil, fmt.Errorf("bind: %w", err)
	}
	if iq.Bind == nil || iq.Bind.JID == "" {
		return nil, nil, errors.New("bind: result without a JID")
	}
	c.jid = iq.Bind.JID

	if f.Session != nil {
		if _, err := c.roundTrip("sess1", "<iq type='set' id='sess1'><session xmlns='"+nsSession+"'/></iq>"); err != nil {
			return nil, nil, fmt.Errorf("session: %w", err)
		}
	}

	iq, err = c.roundTrip("roster1", "<iq type='get' id='roster1'><query xmlns='"+nsRoster+"'/></iq>")
	if err != nil {
		return nil, nil, fmt.Errorf("roster get: %w", err)
	}
	var roster []string
	if iq.Roster != nil {
		for _, it := range iq.Roster.Items {
			roster = append(roster, it.JID)
		}
	}
	_ = c.raw.SetDeadline(time.Time{})
	ok = true
	return c, roster, nil
}

// roundTrip sends an IQ and waits for the reply with the same id, answering
// any other IQ request on the way. Other stanzas are dropped (none are
// expected before initial presence).
func (c *xmppConn) roundTrip(id, req string) (*iqStanza, error) {
	if err := c.send(req); err != nil {
		return nil, err
	}
	for {
		se, err := c.nextElement()
		if err != nil {
			return nil, err
		}
		if se.Name.Local != "iq" {
			if err := c.dec.Skip(); err != nil {
				return nil, err
			}
			continue
		}
		var iq iqStanza
		if err := c.dec.DecodeElement(&iq, &se); err != nil {
			return nil, err
		}
		if iq.ID == id && (iq.Type == "result" || iq.Type == "error") {
			if iq.Type == "error" {
				cond := ""
				if iq.Error != nil {
					cond = iq.Error.String()
				}
				return nil, fmt.Errorf("iq error: %s", cond)
			}
			return &iq, nil
		}
		if err := c.answerIQ(&iq); err != nil {
			return nil, err
		}
	}
}

// answerIQ answers requests addressed to us: pings get a result, anything
// else service-unavailable, as RFC 6120 requires.
func (c *xmppConn) answerIQ(iq *iqStanza) error {
	if iq.Type != "get" && iq.Type != "set" {
		return nil
	}
	to := ""
	if iq.From != "" {
		to = " to='" + escapeXML(iq.From) + "'"
	}
	if iq.Ping != nil && iq.Type == "get" {
		return c.send("<iq type='result' id='" + escapeXML(iq.ID) + "'" + to + "/>")
	}
	return c.send("<iq type='error' id='" + escapeXML(iq.ID) + "'" + to + "><error type='cancel'>" +
		"<service-unavailable xmlns='" + nsStanzas + "'/></error></iq>")
}

// close ends the stream politely and closes the connection.
// It is idempotent.
func (c *xmppConn) close() {
	c.closeOnce.Do(func() {
		c.wmu.Lock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(c.nc, "</stream:stream>")
		c.wmu.Unlock()
		_ = c.nc.Close()
	})
}

func bareJID(j string) string {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}
