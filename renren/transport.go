package renren

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"gosrc.io/xmpp"
	"gosrc.io/xmpp/stanza"
)

// dialFunc opens the TCP connection to addr, as net.Dialer.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

const (
	// maxWriters bounds the writes waiting for a connection. gosrc.io/xmpp
	// answers every <iq/> get or set it cannot route on a goroutine of its
	// own; a server that floods them and stops reading would pile those up
	// without end.
	maxWriters = 64
	// abortWriteTimeout bounds the courtesy </stream:stream> of a
	// connection closed for an error.
	abortWriteTimeout = 500 * time.Millisecond
)

// streamHeader opens a client stream; %s is the domain, which passed
// validHost and so holds no quote or markup.
const streamHeader = "<?xml version='1.0'?><stream:stream to='%s' xmlns='" + stanza.NSClient +
	"' xmlns:stream='" + stanza.NSStream + "' version='1.0'>"

// transport is the xmpp.Transport of every renren session, in place of the
// library's XMPPTransport, which reads without a limit (a server's endless
// attribute is buffered until memory runs out), has no deadline on the TLS
// handshake or on any step of the login (a server that stalls keeps the
// socket forever), writes without a deadline, and cannot be closed while
// Connect runs. This one:
//
//   - dials with the login context and puts the login deadline on the
//     socket, from the first byte to the end of resource binding;
//   - reads through a limiter that drops the connection when one stanza
//     passes maxStanzaBytes;
//   - gives every write after login a deadline and closes the connection
//     when a write fails, since a stream with half a stanza is unusable;
//   - closes the socket at once, whoever calls Close and whenever.
//
// It also runs the login up to SASL success itself (negotiate.go).
// Session installs it with useTransport.
type transport struct {
	addr, domain   string
	directTLS      bool
	tlsConfig      *tls.Config
	dial           dialFunc
	auth           authConfig
	maxStanza      int
	writeTimeout   time.Duration // per write once logged in
	onPeerClose    func()        // the server sent </stream:stream>
	connectTimeout time.Duration
	feed           *feedSeq // numbers <xfeed/>s in stream order; may be nil

	login       context.Context // bounds dial, handshake and negotiation
	cancelLogin context.CancelFunc

	peerClosed chan struct{} // closed when the server's </stream:stream> arrived
	peerOnce   sync.Once
	readEnded  chan struct{} // closed when a read from the connection failed
	readOnce   sync.Once
	closeNow   chan struct{} // closed by a second Close: stop waiting for the server
	nowOnce    sync.Once
	done       chan struct{} // closed when the socket is closed
	writers    atomic.Int32
	wsem       chan struct{} // one write at a time; Close can give up on it

	mu        sync.Mutex
	raw       net.Conn // the TCP connection: closing it ends everything
	conn      net.Conn // raw, or the TLS connection over it
	dec       *xml.Decoder
	open      bool // a stream is open (not mid-handshake): </stream:stream> makes sense
	secure    bool
	loggedIn  bool
	closed    bool
	stopTimer func() bool // stops the login deadline
	failure   error       // why the transport gave up on the connection
	swallow   bool        // drop writes: the library's PLAIN <auth/>
	mechanism string      // the SASL mechanism that logged in
	binding   string      // its channel binding type, if any
	tail      tailBuffer  // the last bytes read, for <see-other-host/>
	presence  []byte      // replaces the library's initial <presence/>
	decoders  []*xml.Decoder
}

// transportConfig is what a transport needs from a Session.
type transportConfig struct {
	addr, domain string
	directTLS    bool
	tlsConfig    *tls.Config
	dial         dialFunc // nil: net.Dialer
	auth         authConfig
	presence     []byte // the initial presence; nil: the library's
	writeTimeout time.Duration
	// connectTimeout bounds the TCP connect alone; 0: the login's deadline.
	connectTimeout time.Duration
	onPeerClose    func()
}

// newTransport returns a transport whose dial, TLS handshake and
// negotiation end with ctx.
func newTransport(ctx context.Context, c transportConfig) *transport {
	if c.dial == nil {
		c.dial = new(net.Dialer).DialContext
	}
	login, cancel := context.WithCancel(ctx)
	tc := c.tlsConfig
	if c.directTLS {
		// XEP-0368: a direct TLS client names its protocol.
		tc = tc.Clone()
		tc.NextProtos = []string{"xmpp-client"}
	}
	return &transport{
		addr:           c.addr,
		domain:         c.domain,
		directTLS:      c.directTLS,
		tlsConfig:      tc,
		dial:           c.dial,
		auth:           c.auth,
		presence:       c.presence,
		maxStanza:      maxStanzaBytes,
		writeTimeout:   c.writeTimeout,
		onPeerClose:    c.onPeerClose,
		connectTimeout: c.connectTimeout,
		login:          login,
		cancelLogin:    cancel,
		peerClosed:     make(chan struct{}),
		readEnded:      make(chan struct{}),
		closeNow:       make(chan struct{}),
		done:           make(chan struct{}),
		wsem:           make(chan struct{}, 1),
	}
}

var _ xmpp.Transport = (*transport)(nil)

// Connect dials and logs in up to SASL success (see negotiate).
func (t *transport) Connect() (string, error) {
	dctx := t.login
	if t.connectTimeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(t.login, t.connectTimeout)
		defer cancel()
	}
	nc, err := t.dial(dctx, "tcp", t.addr)
	if err != nil {
		return "", fmt.Errorf("dial: %w", err)
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		_ = nc.Close()
		return "", net.ErrClosed
	}
	t.raw, t.conn = nc, nc
	if dl, ok := t.login.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	// A deadline of the past makes every blocked read and write return.
	t.stopTimer = context.AfterFunc(t.login, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	t.mu.Unlock()
	id, err := t.negotiate()
	if err != nil {
		t.Close()
		return "", err
	}
	return id, nil
}

// StartStream opens a stream on the current connection, with a fresh
// decoder: after SASL the server starts a new document. The library calls
// it once, for the restart after (what it takes for) its SASL success.
func (t *transport) StartStream() (string, error) {
	t.mu.Lock()
	t.swallow = false
	t.mu.Unlock()
	if _, err := fmt.Fprintf(t, streamHeader, t.domain); err != nil {
		t.Close()
		return "", fmt.Errorf("open stream: %w", err)
	}
	t.mu.Lock()
	conn := t.conn
	t.mu.Unlock()
	dec := t.newDecoder(conn)
	t.mu.Lock()
	t.dec = dec
	t.mu.Unlock()
	id, err := stanza.InitStream(dec)
	if err != nil {
		t.Close()
		return "", fmt.Errorf("open stream: %w", t.why(err))
	}
	t.mu.Lock()
	t.open = true
	t.mu.Unlock()
	return id, nil
}

// newDecoder reads r through a limiter. It is tied to the session's
// feedSeq until the transport closes.
func (t *transport) newDecoder(r io.Reader) *xml.Decoder {
	lim := newLimiter(&connReader{t: t, r: r}, t.maxStanza, maxStanzaDepth)
	dec := xml.NewDecoder(bufio.NewReaderSize(&failReader{t: t, r: lim}, 16<<10))
	if t.feed != nil {
		t.mu.Lock()
		if !t.closed {
			t.feed.register(dec)
			t.decoders = append(t.decoders, dec)
		}
		t.mu.Unlock()
	}
	return dec
}

// connReader notes the first failed read: the server is gone, or we closed.
type connReader struct {
	t *transport
	r io.Reader
}

func (c *connReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.t.tail.write(p[:n])
	if err != nil {
		c.t.readOnce.Do(func() { close(c.t.readEnded) })
	}
	return n, err
}

// failReader drops the connection when the limiter fails.
type failReader struct {
	t *transport
	r *limiter
}

func (f *failReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	var le *limitError
	if errors.As(err, &le) {
		f.t.fail(err)
	}
	return n, err
}

// DoesStartTLS reports that this transport can upgrade to TLS.
func (t *transport) DoesStartTLS() bool { return true }

// StartTLS is never called: the transport is secure before the library
// looks (negotiate does STARTTLS).
func (t *transport) StartTLS() error { return errors.New("starttls: done by renren's negotiation") }

// handshake runs TLS over the TCP connection within the login deadline.
// Certificate checks are the tls.Config's (see config.tlsConfig).
func (t *transport) handshake() error {
	t.mu.Lock()
	raw := t.raw
	t.open = false
	t.mu.Unlock()
	tc := tls.Client(raw, t.tlsConfig)
	if err := tc.HandshakeContext(t.login); err != nil {
		return err
	}
	dec := t.newDecoder(tc)
	t.mu.Lock()
	t.conn, t.dec, t.secure = tc, dec, true
	t.mu.Unlock()
	return nil
}

// LogTraffic is ignored: a raw trace holds the SASL credentials.
func (t *transport) LogTraffic(io.Writer) {}

// GetDecoder returns the current stream's decoder.
func (t *transport) GetDecoder() *xml.Decoder {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dec
}

// IsSecure reports whether TLS is up.
func (t *transport) IsSecure() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.secure
}

// Ping is the library's whitespace keepalive.
func (t *transport) Ping() error {
	_, err := t.Write([]byte{'\n'})
	return err
}

// Read reads the connection past the decoder; the library never does.
func (t *transport) Read(p []byte) (int, error) {
	t.mu.Lock()
	conn := t.conn
	t.mu.Unlock()
	if conn == nil {
		return 0, errors.New("read: not connected")
	}
	return conn.Read(p)
}

// Write writes p whole or fails and closes the connection. After login
// each write has writeTimeout; before, the login deadline rules.
func (t *transport) Write(p []byte) (int, error) {
	if t.writers.Add(1) > maxWriters {
		t.writers.Add(-1)
		err := fmt.Errorf("more than %d writes waiting: the server does not read", maxWriters)
		t.fail(err)
		return 0, err
	}
	defer t.writers.Add(-1)
	t.wsem <- struct{}{}
	defer func() { <-t.wsem }()
	t.mu.Lock()
	conn, closed, swallow := t.conn, t.closed, t.swallow
	if conn != nil && !closed && t.loggedIn && t.writeTimeout > 0 {
		// Under mu, so that Close's shorter deadline cannot be undone.
		_ = t.raw.SetWriteDeadline(time.Now().Add(t.writeTimeout))
	}
	out := p
	if t.presence != nil && string(p) == xmpp.InitialPresence {
		// The library's initial presence, sent right after binding: ours
		// carries the priority, show and, after a reconnect where that is
		// wanted, the last status.
		out, t.presence = t.presence, nil
	}
	t.mu.Unlock()
	switch {
	case swallow && bytes.HasPrefix(p, []byte("<auth")):
		return len(p), nil // the library's <auth/>: renren has logged in
	case swallow:
		// A library that does more than its PLAIN <auth/> before the
		// restart would be out of step with the server: stop here.
		err := errors.New("gosrc.io/xmpp wrote something other than <auth/> before the stream restart: the library changed")
		t.fail(err)
		return 0, err
	case closed:
		return 0, net.ErrClosed
	case conn == nil:
		return 0, errors.New("write: not connected")
	}
	n, err := conn.Write(out)
	if err != nil {
		t.fail(err)
	}
	if n == len(out) {
		n = len(p)
	}
	return n, err
}

// authInfo returns the SASL mechanism that logged in and its channel
// binding type ("" for none).
func (t *transport) authInfo() (mechanism, binding string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mechanism, t.binding
}

// loginDone lifts the login deadline once the session is up.
func (t *transport) loginDone() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.stopTimer == nil {
		return net.ErrClosed
	}
	if !t.stopTimer() {
		return fmt.Errorf("login: %w", context.Cause(t.login))
	}
	t.loggedIn = true
	t.cancelLogin()
	return t.raw.SetDeadline(time.Time{})
}

// ReceivedStreamClose is the library telling that the server closed its
// stream. The library's own transport blocks its reader here until
// somebody closes the connection; this one reports it to the session.
func (t *transport) ReceivedStreamClose() {
	t.peerOnce.Do(func() {
		close(t.peerClosed)
		if t.onPeerClose != nil {
			t.onPeerClose()
		}
	})
}
