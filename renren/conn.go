package renren

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// closeTimeout bounds the clean close of the live session at shutdown. It
// is short: the mirror may already have used its grace (daemon.DefaultGrace,
// 3s) on the status in flight, and a SIGTERM must be answered within 5s.
const closeTimeout = time.Second

// LongBackoff bounds the wait after a failure that reconnecting at once
// would only repeat: a rejected login, or another client taking over the
// session (conflict). The actual wait is random within it, so that the
// retries of many daemons spread out.
const (
	LongBackoffMin = 15 * time.Minute
	LongBackoffMax = 30 * time.Minute
)

// Conn keeps one session up for a long-running daemon: Run dials, watches
// the session with pings and redials with backoff; SetStatus publishes on
// whatever session is live. It implements daemon.Sink.
type Conn struct {
	opts       Options
	log        *zap.Logger
	minBackoff time.Duration
	maxBackoff time.Duration
	longMin    time.Duration
	longMax    time.Duration

	ready     chan struct{}
	readyOnce sync.Once

	mu      sync.Mutex
	sess    *Session      // the live session, or nil
	changed chan struct{} // closed and replaced when sess changes or Run ends
	running bool
	stopped bool
	stopErr error
	last    string // the last status that was, or may have been, published
}

// NewConn returns a Conn for opts. Nothing happens until Run.
func NewConn(opts Options) *Conn {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Conn{
		opts:       opts,
		log:        log.Named("renren"),
		minBackoff: time.Second,
		maxBackoff: 5 * time.Minute,
		longMin:    LongBackoffMin,
		longMax:    LongBackoffMax,
		ready:      make(chan struct{}),
		changed:    make(chan struct{}),
	}
}

// Ready is closed once the first session is up (for systemd's READY=1).
// It stays closed when that session is later lost.
func (c *Conn) Ready() <-chan struct{} { return c.ready }

// Run keeps a session up until ctx ends, then closes it cleanly
// (unavailable presence, stream close) and returns nil. Every attempt uses
// a fresh connection; failures are retried with capped, jittered
// exponential backoff (1s to 5min), reset once a session has answered a
// ping. A rejected login (ErrAuth) and a session taken over by another
// login (stream error "conflict") or revoked ("not-authorized") are logged
// as one error line each and retried only after 15 to 30 minutes: the user
// has to act, and hammering the server would not help; so is a server that
// offers no SASL mechanism Options.SASL allows. A <see-other-host/> that
// ends a healthy session is followed at once. With ResendOnReconnect, each
// new session's first presence carries the last status. Run returns early
// only for invalid Options or a FeedLog it cannot open. Run may be called
// once.
func (c *Conn) Run(ctx context.Context) (err error) {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("renren: Run called twice")
	}
	c.running = true
	c.mu.Unlock()
	defer func() { c.stop(err) }()

	cfg, err := resolve(c.opts)
	if err != nil {
		return err
	}
	if cfg.feedPath != "" && cfg.feedLog == nil {
		if cfg.feedLog, err = OpenFeedLog(cfg.feedPath, c.opts.Logger); err != nil {
			return err
		}
		defer cfg.feedLog.Close()
	}
	bo := daemon.NewBackoff(c.minBackoff, c.maxBackoff)
	var next dialParams
	for {
		s, err := dialConfig(ctx, cfg, next)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			next.first = nil // a redirect target that failed is not tried again
			if !sleep(ctx, c.retryWait(bo, "connect failed", err)) {
				return nil
			}
			continue
		}

		c.setSession(s)
		cfg.events.SessionUp()
		err = c.watch(ctx, s, cfg.pingInterval)
		c.setSession(nil)
		if ctx.Err() != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
			if err := s.Close(cctx); err != nil {
				c.log.Warn("close session", zap.Error(err))
			}
			cancel()
			cfg.events.SessionDown(ErrClosed)
			return nil
		}
		_ = s.Close(ctx) // dead already: this only releases it
		cfg.events.SessionDown(err)
		next = dialParams{}
		if cfg.resend {
			next.status = c.lastStatus()
		}
		wait := time.Duration(-1)
		if s.Healthy() {
			bo.Reset()
			// A redirect in the middle of a session is followed at once,
			// like one at login; one before the session proved healthy
			// waits as any failure does, so that two servers that send
			// clients to each other cannot make a loop.
			if tg, ok := redirectTarget(err, s.target); ok {
				next.first = &tg
				c.log.Info("server redirects to another host", zap.Stringer("from", s.target), zap.Stringer("to", tg))
				wait = 0
			}
		}
		if wait < 0 {
			wait = c.retryWait(bo, "session lost", err)
		}
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// redirectTarget returns where a <see-other-host/> that ended a session
// sends the next connection, which keeps the old one's kind of TLS.
func redirectTarget(err error, from target) (target, bool) {
	var se *StreamError
	if !errors.As(err, &se) || se.Condition != "see-other-host" {
		return target{}, false
	}
	addr, ok := redirectAddress(se.Host)
	if !ok {
		return target{}, false
	}
	return target{addr: addr, directTLS: from.directTLS}, true
}

// lastStatus returns the last status published through c, or "".
func (c *Conn) lastStatus() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// retryWait logs why the last attempt or session failed and returns how
// long to wait before the next.
func (c *Conn) retryWait(bo *daemon.Backoff, msg string, err error) time.Duration {
	if needsUser(err) {
		wait := c.longMin + rand.N(c.longMax-c.longMin+1)
		hint := "another client logged in with the same jid and resource; stop it or set renren.resource"
		var me *mechanismError
		switch {
		case errors.Is(err, ErrAuth):
			hint = "check renren.jid and renren.password"
		case errors.As(err, &me):
			hint = "check renren.sasl, or what the server offers"
		}
		c.log.Error(msg+"; retrying slowly", zap.Error(err), zap.String("fix", hint), zap.Duration("retry_in", wait))
		return wait
	}
	wait := bo.Next()
	c.log.Warn(msg, zap.Error(err), zap.Duration("retry_in", wait))
	return wait
}

// watch pings s every interval and returns when s dies or ctx ends. A
// dead peer is found within interval plus the ping timeout.
func (c *Conn) watch(ctx context.Context, s *Session, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Done():
			return s.Err()
		case <-t.C:
			if err := s.Ping(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
		}
	}
}

// SetStatus waits for a live session (until ctx ends) and publishes text
// on it; see Session.SetStatus. It fails when that session dies before the
// server confirmed the status (with an Uncertain error if the status went
// out), and with Run's error once Run has returned.
func (c *Conn) SetStatus(ctx context.Context, text string) error {
	s, err := c.session(ctx)
	if err != nil {
		return fmt.Errorf("set status: %w", err)
	}
	err = s.SetStatus(ctx, text)
	var u interface{ Uncertain() bool }
	if err == nil || errors.As(err, &u) && u.Uncertain() {
		// What a resend after a reconnect repeats: the server shows it
		// (or may), so the next session should too.
		c.mu.Lock()
		c.last = daemon.SanitizeXML(text)
		c.mu.Unlock()
	}
	return err
}

// session returns the live session, waiting for one.
func (c *Conn) session(ctx context.Context) (*Session, error) {
	for {
		c.mu.Lock()
		s, changed, stopped, stopErr := c.sess, c.changed, c.stopped, c.stopErr
		c.mu.Unlock()
		if stopped {
			if stopErr != nil {
				return nil, stopErr
			}
			return nil, ErrClosed
		}
		if s != nil && s.Err() == nil {
			return s, nil
		}
		// A dead session is replaced by nil as soon as Run notices,
		// which closes changed.
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for a session: %w", ctx.Err())
		}
	}
}

func (c *Conn) setSession(s *Session) {
	c.mu.Lock()
	c.sess = s
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	if s != nil {
		c.readyOnce.Do(func() { close(c.ready) })
	}
}

func (c *Conn) stop(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped, c.stopErr, c.sess = true, err, nil
	close(c.changed)
	c.changed = make(chan struct{})
}

// sleep waits d or until ctx ends, and reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
