package renren

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"
)

// closeTimeout bounds the clean close of the live session at shutdown.
const closeTimeout = 5 * time.Second

// Conn keeps one session up for a long-running daemon: Run dials, watches
// the session with pings and redials with backoff; SetStatus publishes on
// whatever session is live. It implements daemon.Sink.
type Conn struct {
	opts       Options
	log        *zap.Logger
	minBackoff time.Duration
	maxBackoff time.Duration

	ready     chan struct{}
	readyOnce sync.Once

	mu      sync.Mutex
	sess    *Session      // the live session, or nil
	changed chan struct{} // closed and replaced when sess changes or Run ends
	running bool
	stopped bool
	stopErr error
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
// ping. Run returns early only for errors retrying cannot fix: invalid
// Options, or a login the server rejects (errors.Is(err, ErrAuth)). Run
// may be called once.
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
	bo := backoff{min: c.minBackoff, max: c.maxBackoff}
	for {
		s, err := Dial(ctx, c.opts)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, ErrAuth) {
				c.log.Error("login rejected", zap.Error(err))
				return err
			}
			wait := bo.next()
			c.log.Warn("connect failed", zap.Error(err), zap.Duration("retry_in", wait))
			if !sleep(ctx, wait) {
				return nil
			}
			continue
		}

		c.setSession(s)
		err = c.watch(ctx, s, cfg.pingInterval, bo.reset)
		c.setSession(nil)
		if ctx.Err() != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
			if err := s.Close(cctx); err != nil {
				c.log.Warn("close session", zap.Error(err))
			}
			cancel()
			return nil
		}
		_ = s.Close(ctx) // dead already: this only releases it
		wait := bo.next()
		c.log.Warn("session lost", zap.Error(err), zap.Duration("reconnect_in", wait))
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// watch pings s every interval and returns when s dies or ctx ends.
// healthy is called after each answered ping.
func (c *Conn) watch(ctx context.Context, s *Session, interval time.Duration, healthy func()) error {
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
			healthy()
		}
	}
}

// SetStatus waits for a live session (until ctx ends) and publishes text
// on it; see Session.SetStatus. It fails when that session dies before the
// server confirmed the status, and with Run's error once Run has returned.
func (c *Conn) SetStatus(ctx context.Context, text string) error {
	s, err := c.session(ctx)
	if err != nil {
		return fmt.Errorf("set status: %w", err)
	}
	return s.SetStatus(ctx, text)
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

// backoff is a capped exponential backoff with jitter over the upper half,
// so that many clients kicked at once do not return in lockstep.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	half := b.cur / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.cur = 0 }
