package renren

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"gosrc.io/xmpp"
)

// Dial connects and logs in: TLS (direct, or STARTTLS, which is
// required), SASL with the strongest mechanism both sides allow (see
// Options.SASL), resource binding, and the initial presence, which carries
// no status. Without Options.Address it tries the targets of the domain's
// SRV records in turn (see Options.Address). A server that answers with a
// <see-other-host/> stream error is left for the host it names (at most
// maxRedirects times); the stream still goes to the JID domain and the
// certificate must still name ServerName.
//
// A login the server rejects returns an error matching ErrAuth. A
// certificate that fails verification returns an error wrapping the x509
// error (x509.UnknownAuthorityError, x509.HostnameError, ...) or a
// *PinError. Any other stream error at login returns a *StreamError.
func Dial(ctx context.Context, opts Options) (*Session, error) {
	cfg, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	own := false
	if cfg.feedLog == nil && cfg.feedPath != "" {
		if cfg.feedLog, err = OpenFeedLog(cfg.feedPath, opts.Logger); err != nil {
			return nil, err
		}
		own = true
	}
	s, err := dialConfig(ctx, cfg, dialParams{})
	if err != nil {
		if own {
			_ = cfg.feedLog.Close()
		}
		return nil, err
	}
	s.ownFeed = own
	return s, nil
}

// dialParams is what a Conn adds to a Dial.
type dialParams struct {
	first  *target // tried before the configured targets: a redirect
	status string  // put in the initial presence (ResendOnReconnect)
}

// dialConfig tries each target until one logs in. It moves on after any failure
// but a rejected login, which another server of the same domain would
// only repeat, and the end of ctx.
func dialConfig(ctx context.Context, cfg config, p dialParams) (*Session, error) {
	registerExtensions()
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.dialTimeout,
		fmt.Errorf("no session within %s: %w", cfg.dialTimeout, context.DeadlineExceeded))
	defer cancel()
	targets := cfg.targets(ctx)
	if p.first != nil {
		targets = slices.Insert(targets, 0, *p.first)
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("connect to %s: its SRV records say it offers no XMPP client service", cfg.domain)
	}
	var errs []error
	redirects := 0
	for i := 0; i < len(targets); i++ {
		tg := targets[i]
		// A target that accepts and then stalls must leave time for the
		// next: each but the last gets half of the dial timeout.
		actx, cancel := ctx, context.CancelFunc(func() {})
		if i+1 < len(targets) {
			actx, cancel = context.WithTimeout(ctx, cfg.dialTimeout/2)
		}
		s, err := dialTarget(actx, cfg, tg, p.status, len(targets) > 1)
		cancel()
		if err == nil {
			return s, nil
		}
		var se *StreamError
		if errors.As(err, &se) && se.Condition == "see-other-host" {
			next, ok := redirectAddress(se.Host)
			switch {
			case !ok:
				err = fmt.Errorf("connect to %s: see-other-host names an invalid address %q", tg, se.Host)
			case redirects == maxRedirects:
				err = fmt.Errorf("%w: more than %d redirects", err, maxRedirects)
			default:
				redirects++
				cfg.log.Info("server redirects to another host", zap.Stringer("from", tg), zap.String("to", next))
				targets = slices.Insert(targets, i+1, target{addr: next, directTLS: tg.directTLS})
				continue
			}
		}
		if errors.Is(err, ErrAuth) || ctx.Err() != nil {
			return nil, err
		}
		errs = append(errs, err)
		if i+1 < len(targets) {
			cfg.log.Warn("connect failed, trying the next server", zap.Stringer("target", tg), zap.Error(err))
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, &targetsError{errs: errs}
}

// targetsError is a Dial that failed on every target.
type targetsError struct{ errs []error }

func (e *targetsError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("all %d servers failed: %s", len(e.errs), strings.Join(msgs, "; "))
}

func (e *targetsError) Unwrap() []error { return e.errs }

// dialTarget is one login attempt at tg. ctx bounds the login: the dial,
// the TLS handshake and every step of the negotiation; with several
// targets the TCP connect gets a third of the dial timeout. A failed
// attempt has closed its connection when dialTarget returns or very soon
// after.
func dialTarget(ctx context.Context, cfg config, tg target, status string, several bool) (*Session, error) {
	var err error
	addr := tg.String()
	s := &Session{
		cfg:          cfg,
		log:          cfg.log.With(zap.String("jid", cfg.bare)),
		router:       xmpp.NewRouter(),
		sem:          make(chan struct{}, 1),
		connectDone:  make(chan struct{}),
		done:         make(chan struct{}),
		disconnected: make(chan struct{}),
		status:       status,
		target:       tg,
	}
	s.initFeed()
	s.router.HandleFunc("message", s.handleMessage)
	presence, err := cfg.initialPresence(status)
	if err != nil {
		return nil, fmt.Errorf("initial presence: %w", err)
	}
	tc := transportConfig{
		addr: tg.addr,
		// The stream 'to'. The server's 'from' is never compared with it,
		// so Renren answering talk.renren.com from talk.xiaonei.com is fine.
		domain:       cfg.domain,
		directTLS:    tg.directTLS,
		tlsConfig:    cfg.tlsConfig(s.setTLSErr),
		dial:         cfg.dial,
		auth:         authConfig{user: cfg.node, password: cfg.password, mechanisms: cfg.mechanisms, log: s.log},
		presence:     presence,
		writeTimeout: cfg.pingTimeout,
		onPeerClose:  func() { s.lost(errServerClosedStream) },
	}
	if several {
		tc.connectTimeout = cfg.dialTimeout / 3
	}
	s.tr = newTransport(ctx, tc)
	s.tr.feed = s.feedSeq
	xc := &xmpp.Config{
		// The transport dials and checks the certificate; these only
		// keep NewClient from looking up SRV records and from making up
		// defaults.
		TransportConfiguration: xmpp.TransportConfiguration{
			Address:        tg.addr,
			Domain:         cfg.domain,
			ConnectTimeout: int((cfg.dialTimeout + time.Second - 1) / time.Second),
		},
		Jid:        cfg.bare + "/" + cfg.resource,
		Credential: xmpp.Password(libraryPassword),
		// StreamLogger stays nil: it would write raw traffic.
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
			return nil, s.loginStreamError(addr)
		}
		select {
		case err = <-res:
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to %s: %w", addr, s.Err())
		}
	}
	if err != nil {
		if loginStreamError(err) {
			err := s.loginStreamError(addr)
			s.kill(err)
			return nil, err
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
	mech, binding := s.tr.authInfo()
	s.log.Info("session up", zap.String("address", addr), zap.String("bound_jid", s.jid),
		zap.String("sasl", mech), zap.String("channel_binding", binding))
	return s, nil
}

// loginStreamError is the stream error that ended the library's part of
// the login, read back from the transport's tail.
func (s *Session) loginStreamError(addr string) error {
	if se := s.tr.streamError(); se != nil {
		return fmt.Errorf("connect to %s: %w", addr, se)
	}
	return fmt.Errorf("connect to %s: %w", addr, errLoginStreamError)
}

// classify turns a failed Connect into an error a caller can act on.
func (s *Session) classify(addr string, err error) error {
	if tlsErr := s.getTLSErr(); tlsErr != nil {
		return fmt.Errorf("verify certificate of %s at %s: %w", s.cfg.serverName, addr, tlsErr)
	}
	var se *saslError
	if errors.As(err, &se) {
		ae := &authError{jid: s.cfg.bare, condition: se.condition}
		if transientSASL(se.condition) {
			return fmt.Errorf("connect to %s: %s", addr, ae.Error())
		}
		return ae
	}
	return fmt.Errorf("connect to %s: %w", addr, shorten(err))
}
