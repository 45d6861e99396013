package renrentest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

const (
	// loginTimeout bounds everything before resource binding, so that a
	// client that stalls mid-login cannot hold a connection forever.
	loginTimeout = 30 * time.Second
	writeTimeout = 10 * time.Second
	maxAuthTries = 3
)

// feedFrom is the sender of Renren's news-feed notifications.
const feedFrom = "feed.talk.renren.com@feed.talk.renren.com"

// conn is one client connection. serve runs the stream phases in order:
// plain (STARTTLS only), TLS (SASL only), bound (stanzas).
type conn struct {
	srv *Server
	raw net.Conn
	log *zap.Logger

	wmu sync.Mutex
	w   io.Writer // raw, then the TLS connection

	r        *reader
	plain    *plainRecorder // what the client sent before TLS
	ended    atomic.Bool    // the server ended the stream (EndStreams, StreamError)
	user     string         // authenticated localpart
	jid      string         // bound full JID; written before the server's bind map sees it
	feedSent bool
}

func newConn(s *Server, nc net.Conn) *conn {
	plain := &plainRecorder{r: nc}
	return &conn{
		srv:   s,
		raw:   nc,
		log:   s.log.With(zap.String("remote", nc.RemoteAddr().String())),
		w:     nc,
		r:     newReader(plain),
		plain: plain,
	}
}

// errRedirected ends a stream answered with <see-other-host/>.
var errRedirected = errors.New("client redirected")

// serve runs the connection until it ends and then releases it.
func (c *conn) serve() {
	defer c.srv.untrack(c)
	defer c.raw.Close()
	defer c.checkPlaintext()
	c.log.Debug("connection opened")
	err := c.run()
	var se *streamError
	switch {
	case c.ended.Load(), errors.Is(err, errRedirected):
		// The server has closed its stream already.
	case errors.Is(err, errStreamEnd):
		_ = c.write("</stream:stream>")
	case errors.As(err, &se):
		if se.violation != "" {
			c.srv.recordViolation(se.violation)
		}
		_ = c.write(fmt.Sprintf("<stream:error><%s xmlns='%s'/></stream:error></stream:stream>",
			se.condition, nsStreams))
	}
	c.log.Debug("connection closed", zap.Error(err))
}

// shutdown ends the stream from the server side.
func (c *conn) shutdown() {
	_ = c.write("</stream:stream>")
	_ = c.raw.Close()
}

func (c *conn) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.raw.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	_, err := io.WriteString(c.w, s)
	return err
}

func (c *conn) violation(v string) { c.srv.recordViolation(v) }

func (c *conn) run() error {
	if err := c.raw.SetReadDeadline(time.Now().Add(loginTimeout)); err != nil {
		return err
	}
	if c.srv.directTLS {
		if err := c.handshake(); err != nil {
			return err
		}
	} else if err := c.plainStream(); err != nil {
		return err
	}
	if err := c.saslStream(); err != nil {
		return err
	}
	return c.boundStream()
}

// openStream reads the client's stream header and answers it. The answer
// comes from the served domain even when the client addressed AliasDomain:
// the Renren quirk that made PyXMPP fail with HostMismatch.
func (c *conn) openStream() error {
	hdr, err := c.r.openStream()
	if err != nil {
		if errors.As(err, new(*streamError)) {
			// A stream error needs a stream: answer the header first.
			_ = c.write(c.header())
		}
		return err
	}
	var to, version, ns string
	for _, a := range hdr.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "to":
			to = a.Value
		case a.Name.Space == "" && a.Name.Local == "version":
			version = a.Value
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			ns = a.Value
		}
	}
	if err := c.write(c.header()); err != nil {
		return err
	}
	switch {
	case ns != nsClient:
		return &streamError{condition: "invalid-namespace",
			violation: fmt.Sprintf("stream default namespace %q, want %q", ns, nsClient)}
	case version != "1.0":
		return &streamError{condition: "unsupported-version",
			violation: fmt.Sprintf("stream version %q, want \"1.0\"", version)}
	case !c.srv.servesDomain(to):
		return &streamError{condition: "host-unknown"}
	}
	return nil
}

func (c *conn) header() string {
	return fmt.Sprintf("<?xml version='1.0'?><stream:stream from='%s' id='%s' xmlns='%s' xmlns:stream='%s' version='1.0' xml:lang='en'>",
		esc(c.srv.domain), newID(), nsClient, nsStream)
}

// plainStream offers only STARTTLS (required) and upgrades the connection.
func (c *conn) plainStream() error {
	if err := c.openStream(); err != nil {
		return err
	}
	if c.srv.seeOtherHost != "" && c.srv.seeOtherHostBeforeTLS {
		return c.redirect()
	}
	err := c.write(fmt.Sprintf("<stream:features><starttls xmlns='%s'><required/></starttls></stream:features>", nsTLS))
	if err != nil {
		return err
	}
	el, err := c.r.next()
	if err != nil {
		return err
	}
	switch {
	case el.is(nsTLS, "starttls"):
		return c.startTLS()
	case el.is(nsSASL, "auth"):
		c.violation("<auth> on a plain (pre-TLS) stream")
		_ = c.write(fmt.Sprintf("<failure xmlns='%s'><encryption-required/></failure>", nsSASL))
		return errStreamEnd
	case isStanza(el):
		return &streamError{condition: "not-authorized", violation: el.describe() + " before STARTTLS"}
	default:
		return &streamError{condition: "unsupported-stanza-type", violation: el.describe() + " before STARTTLS"}
	}
}

func (c *conn) startTLS() error {
	if err := c.write(fmt.Sprintf("<proceed xmlns='%s'/>", nsTLS)); err != nil {
		return err
	}
	if c.r.buffered() > 0 {
		// Bytes sent before the handshake would be trusted as if encrypted
		// (the STARTTLS command injection class of bugs).
		c.violation("data after <starttls/> before the TLS handshake")
		return io.ErrUnexpectedEOF
	}
	return c.handshake()
}

// handshake runs TLS as the server and reads on from the TLS connection.
func (c *conn) handshake() error {
	tc := tls.Server(c.raw, c.srv.tlsConfig)
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	c.wmu.Lock()
	c.w = tc
	c.wmu.Unlock()
	c.r = newReader(tc)
	return nil
}

// boundStream offers resource binding and the legacy session, then serves
// stanzas until the stream ends.
func (c *conn) boundStream() error {
	if err := c.openStream(); err != nil {
		return err
	}
	// <session/> without <optional/>: what pre-RFC 6121 servers sent.
	err := c.write(fmt.Sprintf("<stream:features><bind xmlns='%s'/><session xmlns='%s'/></stream:features>", nsBind, nsSession))
	if err != nil {
		return err
	}
	for {
		el, err := c.r.next()
		if err != nil {
			return err
		}
		if c.ended.Load() || c.srv.silent.Load() {
			continue // a dead peer, or a stream the server has closed
		}
		if err := c.stanza(el); err != nil {
			return err
		}
	}
}

func isStanza(el *element) bool {
	return el.XMLName.Space == nsClient &&
		(el.XMLName.Local == "iq" || el.XMLName.Local == "presence" || el.XMLName.Local == "message")
}

func (c *conn) stanza(el *element) error {
	if !isStanza(el) {
		return &streamError{condition: "unsupported-stanza-type", violation: el.describe() + " after authentication"}
	}
	if el.XMLName.Local == "iq" {
		return c.iq(el)
	}
	if c.jid == "" {
		return &streamError{condition: "not-authorized", violation: el.describe() + " before resource binding"}
	}
	if el.XMLName.Local == "presence" {
		return c.presence(el)
	}
	return nil // messages to friends go nowhere: Renren has no one left to read them
}

func (c *conn) iq(el *element) error {
	typ, id := el.attr("type"), el.attr("id")
	switch typ {
	case "result", "error":
		return nil
	case "get", "set":
	default:
		return &streamError{condition: "invalid-xml", violation: fmt.Sprintf("<iq> with type %q", typ)}
	}
	if id == "" || len(el.Children) != 1 {
		c.violation("<iq> get/set without an id or exactly one payload")
		return c.iqError(el, "modify", "bad-request")
	}
	p := &el.Children[0]
	switch {
	case c.jid == "" && typ == "set" && p.is(nsBind, "bind"):
		return c.bind(el, p)
	case c.jid == "":
		return &streamError{condition: "not-authorized", violation: el.describe() + " before resource binding"}
	case typ == "set" && p.is(nsSession, "session"):
		return c.iqResult(el, "")
	case typ == "get" && p.is(nsPing, "ping"):
		c.srv.countPing()
		return c.iqResult(el, "")
	default:
		return c.iqError(el, "cancel", "service-unavailable")
	}
}

func (c *conn) bind(iq, b *element) error {
	resource := ""
	if r := b.child(nsBind, "resource"); r != nil {
		resource = strings.TrimSpace(r.Text)
	}
	if resource == "" || len(resource) > 1023 {
		resource = newID()
	}
	c.jid = c.user + "@" + c.srv.domain + "/" + resource
	if old := c.srv.bind(c.jid, c); old != nil {
		// Real servers end the older session of the same full JID.
		go func() {
			_ = old.write(fmt.Sprintf("<stream:error><conflict xmlns='%s'/></stream:error></stream:stream>", nsStreams))
			_ = old.raw.Close()
		}()
	}
	if err := c.raw.SetReadDeadline(time.Time{}); err != nil {
		return err
	}
	c.log = c.log.With(zap.String("jid", c.jid))
	c.log.Info("session bound")
	return c.iqResult(iq, fmt.Sprintf("<bind xmlns='%s'><jid>%s</jid></bind>", nsBind, esc(c.jid)))
}

func (c *conn) iqResult(iq *element, payload string) error {
	return c.write(fmt.Sprintf("<iq type='result' id='%s'%s>%s</iq>", esc(iq.attr("id")), c.replyAddr(iq), payload))
}

func (c *conn) iqError(iq *element, typ, condition string) error {
	return c.write(fmt.Sprintf("<iq type='error' id='%s'%s><error type='%s'><%s xmlns='%s'/></error></iq>",
		esc(iq.attr("id")), c.replyAddr(iq), typ, condition, nsStanzas))
}

// replyAddr addresses a reply: from the request's 'to' (if any) to the
// session's full JID.
func (c *conn) replyAddr(iq *element) string {
	s := ""
	if to := iq.attr("to"); to != "" {
		s = fmt.Sprintf(" from='%s'", esc(to))
	}
	if c.jid != "" {
		s += fmt.Sprintf(" to='%s'", esc(c.jid))
	}
	return s
}

func (c *conn) presence(el *element) error {
	p := Presence{JID: c.jid, Type: el.attr("type"), To: el.attr("to"), At: time.Now()}
	if st := el.child(nsClient, "status"); st != nil {
		p.Status, p.HasStatus = st.Text, true
	}
	if sh := el.child(nsClient, "show"); sh != nil {
		p.Show = sh.Text
	}
	if pr := el.child(nsClient, "priority"); pr != nil {
		p.Priority = pr.Text
	}
	c.srv.recordPresence(p)
	c.log.Info("presence", zap.String("type", p.Type), zap.Bool("has_status", p.HasStatus), zap.String("status", p.Status))
	if p.Type == "" && p.To == "" && p.HasStatus {
		if err := c.misbehave(c.srv.afterStatus); err != nil {
			return err
		}
	}
	if p.Type == "" && p.To == "" && c.srv.feedEvents && !c.feedSent {
		c.feedSent = true
		return c.write(feedMessage(c.jid))
	}
	return nil
}

// feedMessage is a news-feed notification in Renren's shape: an empty
// <body/> and a custom <xfeed/> child. The <body> nested inside <xfeed/>
// catches clients whose parser lets it leak into the message body.
func feedMessage(to string) string {
	return fmt.Sprintf("<message from='%s' to='%s' id='%s'><body/>"+
		"<xfeed type='status' fid='%s'><actor id='200000001'>人人小秘书</actor>"+
		"<title>你的好友更新了状态</title><body>今天天气不错 &amp; 心情也不错</body></xfeed></message>",
		feedFrom, esc(to), newID(), newID())
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
