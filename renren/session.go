// Package renren publishes statuses on Renren (人人网, formerly Xiaonei
// 校内) over XMPP: a status is a <presence/> with a <status/>, and every
// status change became a public post on the user's profile.
//
// Renren's IM service is gone; the package works with any standard XMPP
// server (Prosody, ejabberd) and keeps Renren's quirks in mind: the domain
// answered in the stream header may differ from the one dialed, news-feed
// <xfeed/> messages arrive unasked, and a presence is never sent except for
// a status the user asked for, because away or idle presences became posts
// too.
//
// Session is one XMPP connection. Conn keeps sessions up for a daemon and
// implements daemon.Sink. gosrc.io/xmpp stays behind these two types.
package renren

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"gosrc.io/xmpp"
	"gosrc.io/xmpp/stanza"

	"github.com/r2sync/r2sync/daemon"
)

var (
	_ daemon.Sink = (*Session)(nil)
	_ daemon.Sink = (*Conn)(nil)
)

// Session is one logged-in XMPP connection. Its methods are safe for
// concurrent use. A Session never comes back once Done is closed: dial a
// new one (Conn does).
type Session struct {
	cfg     config
	log     *zap.Logger
	client  *xmpp.Client
	tr      *transport
	router  *xmpp.Router
	jid     string        // bound full JID
	sem     chan struct{} // one status at a time
	feeds   atomic.Int64  // news-feed messages received
	up      atomic.Bool   // Dial succeeded
	healthy atomic.Bool   // the server answered a ping

	connectDone  chan struct{} // closed when Client.Connect has returned
	done         chan struct{} // closed when the session is dead
	disconnected chan struct{} // closed when the socket is closed and Connect has returned
	discOnce     sync.Once

	mu     sync.Mutex
	err    error // why the session is dead; nil while live
	tlsErr error // certificate verification failure, if any
}

// Dial connects, negotiates STARTTLS (required), logs in with SASL PLAIN,
// binds a resource and sends the initial presence, which carries no status.
// A server that answers with a <see-other-host/> stream error is left for
// the host it names (at most maxRedirects times); the stream still goes to
// the JID domain and the certificate must still name ServerName.
//
// A login the server rejects returns an error matching ErrAuth. A
// certificate that fails verification returns an error wrapping the x509
// error (x509.UnknownAuthorityError, x509.HostnameError, ...). Any other
// stream error at login returns a *StreamError.
func Dial(ctx context.Context, opts Options) (*Session, error) {
	cfg, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	registerExtensions()
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.dialTimeout,
		fmt.Errorf("no session within %s: %w", cfg.dialTimeout, context.DeadlineExceeded))
	defer cancel()
	addr := cfg.dialAddress(ctx, net.DefaultResolver.LookupSRV)
	for redirects := 0; ; redirects++ {
		s, err := dialAddr(ctx, cfg, addr)
		if !errors.Is(err, errLoginStreamError) {
			return s, err
		}
		// The library dropped the stream error's content: ask again.
		se, perr := probeStreamError(ctx, cfg, addr)
		switch {
		case perr != nil:
			return nil, fmt.Errorf("connect to %s: %w (%w)", addr, err, perr)
		case se == nil:
			return nil, fmt.Errorf("connect to %s: %w", addr, err)
		case se.Condition != "see-other-host":
			return nil, fmt.Errorf("connect to %s: %w", addr, se)
		case redirects == maxRedirects:
			return nil, fmt.Errorf("connect to %s: %w: more than %d redirects", addr, se, maxRedirects)
		}
		next, ok := redirectAddress(se.Host)
		if !ok {
			return nil, fmt.Errorf("connect to %s: see-other-host names an invalid address %q", addr, se.Host)
		}
		cfg.log.Info("server redirects to another host", zap.String("from", addr), zap.String("to", next))
		addr = next
	}
}

// dialAddr is one login attempt at addr. ctx bounds the login: the dial,
// the TLS handshake and every step of the negotiation. A failed attempt
// has closed its connection when dialAddr returns or very soon after.
func dialAddr(ctx context.Context, cfg config, addr string) (*Session, error) {
	var err error
	s := &Session{
		cfg:          cfg,
		log:          cfg.log.With(zap.String("jid", cfg.bare)),
		router:       xmpp.NewRouter(),
		sem:          make(chan struct{}, 1),
		connectDone:  make(chan struct{}),
		done:         make(chan struct{}),
		disconnected: make(chan struct{}),
	}
	s.router.HandleFunc("message", s.handleMessage)
	s.tr = newTransport(ctx, transportConfig{
		addr: addr,
		// The stream 'to'. The server's 'from' is never compared with it,
		// so Renren answering talk.renren.com from talk.xiaonei.com is fine.
		domain:       cfg.domain,
		tlsConfig:    cfg.tlsConfig(s.setTLSErr),
		dial:         cfg.dial,
		writeTimeout: cfg.pingTimeout,
		onPeerClose:  func() { s.lost(errServerClosedStream) },
	})
	xc := &xmpp.Config{
		// The transport dials addr and checks the certificate; these only
		// keep NewClient from looking up SRV records and from making up
		// defaults.
		TransportConfiguration: xmpp.TransportConfiguration{
			Address:        addr,
			Domain:         cfg.domain,
			ConnectTimeout: int((cfg.dialTimeout + time.Second - 1) / time.Second),
		},
		Jid:        cfg.bare + "/" + cfg.resource,
		Credential: xmpp.Password(cfg.password),
		// StreamLogger stays nil: it would write the SASL PLAIN blob.
		// StreamManagementEnable stays false: its resume path skips TLS.
	}
	s.client, err = xmpp.NewClient(xc, s.router, s.onError)
	if err != nil {
		return nil, fmt.Errorf("configure xmpp client: %w", err)
	}
	if err := useTransport(s.client, s.tr); err != nil {
		return nil, fmt.Errorf("configure xmpp client: %w", err)
	}

	// Connect has no context: run it aside and stop waiting when ctx ends.
	// The transport ends its dial, handshake and reads with ctx too, and
	// closing it makes Connect return.
	res := make(chan error, 1)
	go func() {
		err := s.client.Connect()
		close(s.connectDone)
		res <- err
	}()
	select {
	case err = <-res:
	case <-ctx.Done():
		err := context.Cause(ctx)
		s.kill(err)
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	case <-s.done:
		// The connection failed mid-login; Connect returns soon with the
		// more telling error (a rejected login, a certificate), unless a
		// certificate error or a stream error is known already.
		if tlsErr := s.getTLSErr(); tlsErr != nil {
			return nil, s.classify(addr, tlsErr)
		}
		if loginStreamError(s.Err()) {
			return nil, errLoginStreamError
		}
		select {
		case err = <-res:
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to %s: %w", addr, s.Err())
		}
	}
	if err != nil {
		if loginStreamError(err) {
			s.kill(errLoginStreamError)
			return nil, errLoginStreamError
		}
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			// The login deadline on the socket ran out, and ctx's own timer
			// fires at any moment: report the deadline, not an i/o timeout.
			<-ctx.Done()
		}
		if cause := context.Cause(ctx); cause != nil && s.tr.failed() == nil && s.getTLSErr() == nil {
			err = cause
		}
		err = s.classify(addr, s.tr.why(err))
		s.kill(err)
		return nil, err
	}
	if err := s.tr.loginDone(); err != nil {
		err = fmt.Errorf("connect to %s: %w", addr, err)
		s.kill(err)
		return nil, err
	}
	s.jid = s.client.Session.BindJid
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	s.up.Store(true)
	s.log.Info("session up", zap.String("address", addr), zap.String("bound_jid", s.jid))
	return s, nil
}

// classify turns a failed Connect into an error a caller can act on.
func (s *Session) classify(addr string, err error) error {
	if tlsErr := s.getTLSErr(); tlsErr != nil {
		return fmt.Errorf("verify certificate of %s at %s: %w", s.cfg.serverName, addr, tlsErr)
	}
	if cond, ok := saslFailure(err); ok {
		// The condition is the server's text: keep it short and make sure
		// it cannot echo the password.
		if len(cond) > 64 || strings.Contains(cond, s.cfg.password) {
			cond = "failure"
		}
		ae := &authError{jid: s.cfg.bare, condition: cond}
		if transientSASL(cond) {
			return fmt.Errorf("connect to %s: %s", addr, ae.Error())
		}
		return ae
	}
	return fmt.Errorf("connect to %s: %w", addr, shorten(err))
}

func (s *Session) getTLSErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tlsErr
}

func (s *Session) setTLSErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tlsErr = err
}

// JID returns the full JID the server bound, e.g.
// "123456@talk.xiaonei.com/r2sync". Its domain may differ from the one
// dialed.
func (s *Session) JID() string { return s.jid }

// Done is closed when the session is dead: the connection failed, a ping
// went unanswered, or Close was called.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session is dead, or nil while it is live.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Healthy reports whether the server has answered a ping (including the
// one that confirms each status) on this session.
func (s *Session) Healthy() bool { return s.healthy.Load() }

// FeedEvents returns how many news-feed notifications arrived.
func (s *Session) FeedEvents() int64 { return s.feeds.Load() }

// Close sends an unavailable presence, closes the stream and releases the
// connection. It waits for the server to close its side until ctx ends.
// Closing a dead session only releases it.
func (s *Session) Close(ctx context.Context) error {
	if s.Err() != nil {
		// kill has started closing the connection: wait for the socket.
		select {
		case <-s.disconnected:
		case <-ctx.Done():
		}
		return nil
	}
	var err error
	if _, e := s.send(ctx, stanza.NewPresence(stanza.Attrs{Type: stanza.PresenceTypeUnavailable})); e != nil {
		err = fmt.Errorf("send unavailable presence: %w", e)
	}
	s.kill(ErrClosed)
	select {
	case <-s.disconnected:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("close stream: %w", ctx.Err())
		}
	}
	s.log.Info("session closed")
	return err
}

// kill marks the session dead with err (the first cause wins) and starts
// releasing the connection.
func (s *Session) kill(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	close(s.done)
	s.mu.Unlock()
	s.disconnect(errors.Is(err, ErrClosed))
}

// disconnect closes the connection: after Close, cleanly (</stream:stream>
// and a wait of at most PingTimeout for the server's), else at once. The
// transport may be closed while Connect runs, which then returns; waiting
// for that means no library goroutine outlives disconnected.
func (s *Session) disconnect(clean bool) {
	s.discOnce.Do(func() {
		go func() {
			defer close(s.disconnected)
			if clean {
				s.tr.shutdown(s.cfg.pingTimeout)
			} else {
				_ = s.tr.Close()
			}
			<-s.connectDone
		}()
	})
}

// onError is the library's ErrorHandler: any error there means the
// connection is gone. A stream error keeps its condition (conflict,
// system-shutdown, ...) for the caller to act on, and a limit the server
// crossed is reported as such rather than as the decoder's read error.
func (s *Session) onError(err error) {
	if se, ok := libStreamError(err); ok {
		err = se
	} else if msg, ok := strings.CutPrefix(err.Error(), "NextStart "); ok {
		err = errors.New(msg) // the library's prefix; it kept only the text
	}
	s.lost(shorten(s.tr.why(err)))
}

// lost kills the session for a connection that ended under it.
func (s *Session) lost(err error) {
	switch {
	case s.Err() != nil: // already dead; the library reports the close it was asked for
	case s.up.Load():
		s.log.Warn("connection lost", zap.Error(err))
	default: // Dial returns the reason
		s.log.Debug("connection lost during login", zap.Error(err))
	}
	s.kill(fmt.Errorf("connection lost: %w", err))
}

// handleMessage counts Renren news-feed notifications and ignores every
// other message: r2sync only writes.
func (s *Session) handleMessage(_ xmpp.Sender, p stanza.Packet) {
	m, ok := p.(stanza.Message)
	if !ok {
		return
	}
	for _, ext := range m.Extensions {
		if f, ok := ext.(*xfeed); ok {
			n := s.feeds.Add(1)
			s.cfg.events.FeedEvent()
			s.log.Debug("feed event", zap.String("from", m.From), zap.String("feed_type", f.Type),
				zap.Int("bytes", len(f.Inner)), zap.Int64("feed_events", n))
			return
		}
	}
	s.log.Debug("message ignored", zap.String("from", m.From), zap.String("type", string(m.Type)))
}
