package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// PermanentErrorBackoff is the longest the poller waits after an error
// that needs the user's attention, such as rejected credentials: the wait
// starts at the poll interval and doubles up to it, so that a fixed
// credential (or a flaky 401 from the API) is noticed soon, while a
// revoked one costs a few requests an hour.
const PermanentErrorBackoff = 15 * time.Minute

// MaxPollWait bounds the wait between polls, whatever a rate-limit answer
// or the Source's Pacer asks for, unless the poll interval itself is
// longer: one header saying "reset in 100 years" must not stop mirroring.
// It leaves room for X's 15-minute window and a margin.
const MaxPollWait = 20 * time.Minute

// PollTimeout bounds one poll (fetch, render, queue), so that a source
// that never answers cannot stop the poller for good.
const PollTimeout = 5 * time.Minute

// DefaultSourceName is the Config.SourceName of a Config without one.
const DefaultSourceName = "default"

// Config is what a Mirror needs.
type Config struct {
	// Name names the mirror: every log line of the mirror carries it as
	// the field "mirror" when it is set.
	Name   string
	Source Source
	// SourceName keys the source's cursor and claims in the State; it
	// must stay the same for the life of the state file. Empty means
	// DefaultSourceName.
	SourceName string
	Sink       Sink
	Store      Store
	Renderer   *Renderer
	Filter     Filter
	// MaxPerHour caps deliveries: at most one per hour/MaxPerHour, the
	// rest wait in the queue, in order. 0 means no cap.
	MaxPerHour   int
	PollInterval time.Duration
	Logger       *zap.Logger
	// Observer hears every poll, skip and delivery; nil means none.
	Observer Observer
	// Grace bounds how long a status already being sent may take to finish
	// once ctx is cancelled; 0 means DefaultGrace.
	Grace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// After returns a channel that receives once d has passed; the loops
	// wait on it between polls and retries. Nil means time.After. Tests
	// pass a fake to see the waits and end them at once.
	After func(d time.Duration) <-chan time.Time
}

// DefaultGrace is the default Config.Grace: short enough that a SIGTERM is
// answered within systemd's patience, long enough for a round trip.
const DefaultGrace = 3 * time.Second

// Mirror turns the user's new posts into statuses, each exactly once. A
// poller queues rendered statuses in the State; a deliverer sends them in
// order and removes each only after the Sink confirmed it.
type Mirror struct {
	cfg     Config
	log     *zap.Logger
	now     func() time.Time
	after   func(time.Duration) <-chan time.Time
	queued  chan struct{} // wakes the deliverer; capacity 1
	failed  chan error    // a send of the poll's own failed: the deliverer backs off first; capacity 1
	pushes  chan push     // a Streamer's posts, for the poll loop
	stopped chan struct{} // closed when the poll loop has ended

	src      string              // Config.SourceName, defaults applied
	order    CursorOrder         // the Source's, or nil
	sanitize func(string) string // the Sink's Sanitize, or nil

	cursorChecked atomic.Bool // the start-up check of the cursor against the newest post ran

	stateMu      sync.Mutex
	stateFailing atomic.Bool // a state write failed and none succeeded since
}

// NewMirror returns a Mirror. Source, Sink, Store and Renderer are required.
func NewMirror(cfg Config) *Mirror {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Minute
	}
	if cfg.Observer == nil {
		cfg.Observer = NopObserver{}
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	after := cfg.After
	if after == nil {
		after = time.After
	}
	if cfg.SourceName == "" {
		cfg.SourceName = DefaultSourceName
	}
	log := cfg.Logger.Named("mirror")
	if cfg.Name != "" {
		log = log.With(zap.String("mirror", cfg.Name))
	}
	order, _ := cfg.Source.(CursorOrder)
	return &Mirror{
		cfg: cfg, log: log, now: now, after: after, queued: make(chan struct{}, 1), failed: make(chan error, 1),
		pushes: make(chan push), stopped: make(chan struct{}),
		src: cfg.SourceName, order: order, sanitize: SanitizerOf(cfg.Sink),
	}
}

// Run mirrors until ctx ends. It returns nil on cancellation and an error
// only for faults that retrying cannot fix, such as an unreadable state file.
func (m *Mirror) Run(ctx context.Context) error {
	if _, _, err := m.loadFront(ctx, 0); err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(m.stopped)
		return m.pollLoop(ctx)
	})
	g.Go(func() error { return m.deliverLoop(ctx) })
	if s, ok := m.cfg.Source.(Streamer); ok {
		g.Go(func() error { return m.streamLoop(ctx, s) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (m *Mirror) pollLoop(ctx context.Context) error {
	interval := m.cfg.PollInterval
	// After a failure the next poll is never sooner than the interval: the
	// back-off starts there and grows (capped at 5 minutes, or the
	// interval when that is longer).
	b := NewBackoff(interval, max(interval, 5*time.Minute))
	ceiling := max(interval, MaxPollWait)
	var broken brokenSource
	for {
		pctx, cancel := context.WithTimeout(ctx, PollTimeout)
		_, err := m.PollOnce(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.cfg.Observer.Polled(err)
		wait := interval
		if err == nil {
			b.Reset()
			broken.works(m)
			if p, ok := m.cfg.Source.(Pacer); ok {
				wait = min(p.Pace(interval), ceiling)
			}
		} else {
			if IsFatal(err) {
				return err
			}
			if isPermanent(err) {
				wait = broken.next(interval)
			} else {
				wait = max(b.Next(), interval)
			}
			if at, ok := retryAt(err); ok {
				wait = max(wait, at.Sub(m.now()))
			}
			wait = min(wait, ceiling)
			if isPermanent(err) {
				broken.failed(m, err, wait)
			} else {
				m.log.Warn("poll failed", zap.Error(err), zap.Duration("retry_in", wait))
			}
		}
		if err := m.wait(ctx, wait); err != nil {
			return err
		}
	}
}

// wait waits d between polls, taking in a Streamer's pushes meanwhile.
// It returns ctx's error, or a fatal error of a push.
func (m *Mirror) wait(ctx context.Context, d time.Duration) error {
	timer := m.after(d)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer:
			return nil
		case p := <-m.pushes:
			if err := m.handlePush(ctx, p); err != nil {
				return err
			}
		}
	}
}

func (m *Mirror) deliverLoop(ctx context.Context) error {
	b := NewBackoff(time.Second, time.Minute)
	for {
		_, err := m.DeliverOnce(ctx)
		if err == nil {
			b.Reset()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-m.queued:
				continue
			case err = <-m.failed:
				// The poll's own send failed and queued the status.
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if IsFatal(err) {
			return err
		}
		wait := b.Next()
		m.log.Warn("delivery failed", zap.Error(err), zap.Duration("retry_in", wait))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.after(wait):
		}
	}
}

func (m *Mirror) wakeDeliverer() {
	select {
	case m.queued <- struct{}{}:
	default:
	}
}

// stateFailed reports a failed state write; the first of an episode is
// logged, with the state file's path when the Store knows it.
func (m *Mirror) stateFailed(err error) {
	if IsFatal(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	m.cfg.Observer.StateWrite(err)
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if m.stateFailing.Swap(true) {
		return
	}
	fields := []zap.Field{zap.Error(err)}
	if p, ok := m.cfg.Store.(interface{ Path() string }); ok {
		fields = append(fields, zap.String("path", p.Path()))
	}
	if isDiskFull(err) {
		m.log.Error("state not saved: disk full", fields...)
	} else {
		m.log.Error("state not saved", fields...)
	}
}

// stateSaved ends an episode of failed state writes. It costs one atomic
// load when there is none.
func (m *Mirror) stateSaved() {
	if !m.stateFailing.Load() {
		return
	}
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if m.stateFailing.Swap(false) {
		m.log.Info("state saved again")
		m.cfg.Observer.StateWrite(nil)
	}
}

// saveState runs write until it succeeds, ctx ends, or it fails in a way
// retrying cannot fix. The deliverer uses it after a send: a status the
// server has taken must not be sent again because the state could not be
// written, so it is the write that is retried, never the send.
func (m *Mirror) saveState(ctx context.Context, write func(context.Context) (State, int, error)) (State, int, error) {
	b := NewBackoff(100*time.Millisecond, 30*time.Second)
	for {
		st, n, err := write(ctx)
		if err == nil {
			m.stateSaved()
			return st, n, nil
		}
		if IsFatal(err) || ctx.Err() != nil {
			return st, n, err
		}
		m.stateFailed(err)
		select {
		case <-ctx.Done():
			return st, n, err
		case <-m.after(b.Next()):
		}
	}
}
