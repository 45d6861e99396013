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
	router  *xmpp.Router
	jid     string        // bound full JID
	sem     chan struct{} // one status at a time
	feeds   atomic.Int64  // news-feed messages received
	up      atomic.Bool   // Dial succeeded
	healthy atomic.Bool   // the server answered a ping

	connectDone  chan struct{} // closed when Client.Connect has returned
	done         chan struct{} // closed when the session is dead
	disconnected chan struct{} // closed when the library released the connection
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
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.dialTimeout,
		fmt.Errorf("no session within %s: %w", cfg.dialTimeout, context.DeadlineExceeded))
	defer cancel()
	addr := cfg.dialAddress(ctx, net.DefaultResolver.LookupSRV)
	for redirects := 0; ; redirects++ {
		s, err := dialAddr(ctx, parent, cfg, addr)
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

// dialAddr is one login attempt at addr. ctx bounds the login; parent is
// the caller's context.
func dialAddr(ctx, parent context.Context, cfg config, addr string) (*Session, error) {
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
	xc := &xmpp.Config{
		TransportConfiguration: xmpp.TransportConfiguration{
			Address: addr,
			// Domain is the stream 'to'. The server's 'from' is never
			// compared with it, so Renren answering talk.renren.com from
			// talk.xiaonei.com is fine.
			Domain:         cfg.domain,
			ConnectTimeout: int((cfg.dialTimeout + time.Second - 1) / time.Second),
			TLSConfig:      cfg.tlsConfig(s.setTLSErr),
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

	// Connect has no context and no read deadlines: run it aside and stop
	// waiting when ctx ends. disconnect waits for it before closing.
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
		// The connection failed mid-login. Connect returns only after its
		// own Disconnect waited up to ConnectTimeout for a stream close
		// that will not come; a certificate error is known already, and
		// anything else is worth that wait (past the dial deadline) to
		// learn whether the login was rejected.
		if tlsErr := s.getTLSErr(); tlsErr != nil {
			return nil, s.classify(addr, tlsErr)
		}
		if loginStreamError(s.Err()) {
			// Connect would wait ConnectTimeout for a stream close that
			// its read loop, already gone, can no longer see.
			return nil, errLoginStreamError
		}
		t := time.NewTimer(time.Duration(xc.ConnectTimeout)*time.Second + time.Second)
		defer t.Stop()
		select {
		case err = <-res:
		case <-parent.Done():
			return nil, fmt.Errorf("connect to %s: %w", addr, parent.Err())
		case <-t.C:
			return nil, fmt.Errorf("connect to %s: %w", addr, s.Err())
		}
	}
	if err != nil {
		if loginStreamError(err) {
			s.kill(errLoginStreamError)
			return nil, errLoginStreamError
		}
		err = s.classify(addr, err)
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
	return fmt.Errorf("connect to %s: %w", addr, err)
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

// SetStatus publishes text as the account's status and returns nil only
// once the server has processed it: the presence is followed by a ping,
// and since a stream is ordered, any reply to the ping (result or error)
// proves the presence arrived. Characters XML 1.0 cannot carry are dropped.
// Statuses are sent one at a time.
func (s *Session) SetStatus(ctx context.Context, text string) error {
	clean := daemon.SanitizeXML(text)
	if strings.TrimSpace(clean) == "" {
		return errors.New("set status: empty text")
	}
	if len(clean) != len(text) {
		s.log.Debug("dropped characters xml cannot carry", zap.Int("bytes", len(text)-len(clean)))
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return fmt.Errorf("set status: %w", ctx.Err())
	case <-s.done:
		return fmt.Errorf("set status: %w", s.Err())
	}
	p := stanza.NewPresence(stanza.Attrs{})
	p.Status = clean
	if err := s.send(ctx, p); err != nil {
		return fmt.Errorf("send status: %w", err)
	}
	if err := s.Ping(ctx); err != nil {
		return fmt.Errorf("confirm status: %w", err)
	}
	return nil
}

// Ping sends an XEP-0199 ping and waits for the reply, at most
// PingTimeout. An unanswered ping kills the session: that is how a
// connection the server ended without an error is found.
func (s *Session) Ping(ctx context.Context) error {
	if err := s.Err(); err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.pingTimeout)
	defer cancel()
	iq, err := stanza.NewIQ(stanza.Attrs{Type: stanza.IQTypeGet})
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	// No 'to': the server answers on behalf of the account (RFC 6120
	// 10.3.3), whatever name it goes by.
	iq.Payload = &ping{}
	// Register the reply route before sending. Client.SendIQ registers it
	// after the write, and a fast server's reply can come in between and be
	// dropped.
	replies := s.router.NewIQResultRoute(pctx, iq.Id)
	if err := s.send(pctx, iq); err != nil {
		go s.drain(replies)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("ping: %w", err)
	}
	start := time.Now()
	select {
	case reply := <-replies:
		s.healthy.Store(true)
		s.log.Debug("ping answered", zap.String("type", string(reply.Type)), zap.Duration("rtt", time.Since(start)))
		return nil
	case <-s.done:
		go s.drain(replies)
		return s.Err()
	case <-pctx.Done():
		go s.drain(replies)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err := fmt.Errorf("no ping reply within %s", s.cfg.pingTimeout)
		s.kill(err)
		return err
	}
}

// drain takes a late reply off a route that nobody waits for any more:
// the library's router blocks on the unbuffered channel until someone does.
func (s *Session) drain(replies <-chan stanza.IQ) {
	select {
	case <-replies:
	case <-s.disconnected:
	}
}

// send writes one stanza. Client.Send has no deadline, so it runs aside; if
// ctx ends before the write completes the connection is declared dead.
func (s *Session) send(ctx context.Context, p stanza.Packet) error {
	if err := s.Err(); err != nil {
		return err
	}
	res := make(chan error, 1)
	go func() { res <- s.client.Send(p) }()
	select {
	case err := <-res:
		if err != nil {
			err = fmt.Errorf("write: %w", err)
			s.kill(err)
		}
		return err
	case <-s.done:
		return s.Err()
	case <-ctx.Done():
		s.kill(errors.New("write did not complete"))
		return ctx.Err()
	}
}

// Close sends an unavailable presence, closes the stream and releases the
// connection. It waits for the server to close its side until ctx ends.
// Closing a dead session only releases it.
func (s *Session) Close(ctx context.Context) error {
	if s.Err() != nil {
		s.disconnect()
		return nil
	}
	var err error
	if e := s.send(ctx, stanza.NewPresence(stanza.Attrs{Type: stanza.PresenceTypeUnavailable})); e != nil {
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
	s.disconnect()
}

// disconnect has the library send </stream:stream>, wait for the server's
// (at most ConnectTimeout) and close the socket. The library's transport
// is not safe to close while Connect still runs, so it waits for that.
func (s *Session) disconnect() {
	s.discOnce.Do(func() {
		go func() {
			defer close(s.disconnected)
			<-s.connectDone
			_ = s.client.Disconnect()
		}()
	})
}

// onError is the library's ErrorHandler: any error there means the
// connection is gone. A stream error keeps its condition (conflict,
// system-shutdown, ...) for the caller to act on.
func (s *Session) onError(err error) {
	if se, ok := libStreamError(err); ok {
		err = se
	}
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
