package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// PermanentErrorBackoff is how long the poller waits after an error that
// needs the user's attention, such as rejected credentials.
const PermanentErrorBackoff = 15 * time.Minute

// Filter says which posts become statuses.
type Filter struct {
	IncludeReplies  bool // replies to other accounts; replies to oneself always pass
	IncludeRetweets bool
}

// skipReason returns why p is not mirrored, or "" when it is.
func (f Filter) skipReason(p Post) string {
	switch {
	case p.Retweet && !f.IncludeRetweets:
		return "retweet"
	case p.Reply() && !f.IncludeReplies:
		return "reply"
	}
	return ""
}

// Config is what a Mirror needs.
type Config struct {
	Source       Source
	Sink         Sink
	Store        Store
	Renderer     *Renderer
	Filter       Filter
	PollInterval time.Duration
	Logger       *zap.Logger
	// Observer hears every poll, skip and delivery; nil means none.
	Observer Observer
	// Grace bounds how long a status already being sent may take to finish
	// once ctx is cancelled; 0 means DefaultGrace.
	Grace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultGrace is the default Config.Grace: short enough that a SIGTERM is
// answered within systemd's patience, long enough for a round trip.
const DefaultGrace = 3 * time.Second

// Mirror turns the user's new posts into statuses, each exactly once. A
// poller queues rendered statuses in the State; a deliverer sends them in
// order and removes each only after the Sink confirmed it.
type Mirror struct {
	cfg    Config
	log    *zap.Logger
	now    func() time.Time
	queued chan struct{} // wakes the deliverer; capacity 1
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
	return &Mirror{cfg: cfg, log: cfg.Logger.Named("mirror"), now: now, queued: make(chan struct{}, 1)}
}

// Run mirrors until ctx ends. It returns nil on cancellation and an error
// only for faults that retrying cannot fix, such as an unreadable state file.
func (m *Mirror) Run(ctx context.Context) error {
	if _, err := m.cfg.Store.Load(ctx); err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.pollLoop(ctx) })
	g.Go(func() error { return m.deliverLoop(ctx) })
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Init records the newest post on a first start so that older posts are not
// mirrored. It does nothing when the state is already initialized.
func (m *Mirror) Init(ctx context.Context) error {
	st, err := m.cfg.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	if st.Initialized {
		return nil
	}
	newest, err := m.cfg.Source.Newest(ctx)
	if err != nil {
		return fmt.Errorf("find newest post: %w", err)
	}
	_, err = m.cfg.Store.Update(ctx, func(s *State) error {
		if s.Initialized {
			return nil
		}
		s.Initialized = true
		s.LastID = max(s.LastID, newest)
		s.prunePosted()
		return nil
	})
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	m.log.Info("first start: older posts are not mirrored", zap.Int64("newest_id", newest))
	return nil
}

// PollOnce initializes the state if needed, fetches new posts and queues
// their statuses. It returns how many statuses it queued.
func (m *Mirror) PollOnce(ctx context.Context) (int, error) {
	if err := m.Init(ctx); err != nil {
		return 0, err
	}
	st, err := m.cfg.Store.Load(ctx)
	if err != nil {
		return 0, fmt.Errorf("load state: %w", err)
	}
	posts, err := m.cfg.Source.Since(ctx, st.LastID)
	if err != nil {
		return 0, fmt.Errorf("fetch posts: %w", err)
	}
	if len(posts) == 0 {
		return 0, nil
	}
	queued := 0
	st, err = m.cfg.Store.Update(ctx, func(s *State) error {
		queued = 0
		for _, p := range posts {
			// Re-read under the lock: `post` may have claimed a post meanwhile.
			if p.ID <= s.LastID {
				continue
			}
			s.LastID = p.ID
			if reason := m.skip(s, p); reason != "" {
				m.log.Info("post skipped", zap.Int64("post_id", p.ID), zap.String("reason", reason))
				m.cfg.Observer.Skipped(reason)
				continue
			}
			text, err := m.cfg.Renderer.Render(p)
			if err != nil {
				m.log.Error("post skipped", zap.Int64("post_id", p.ID), zap.String("reason", "render"), zap.Error(err))
				m.cfg.Observer.Skipped("render")
				continue
			}
			if text == "" {
				m.log.Info("post skipped", zap.Int64("post_id", p.ID), zap.String("reason", "empty"))
				m.cfg.Observer.Skipped("empty")
				continue
			}
			s.Pending = append(s.Pending, Status{PostID: p.ID, Text: text, QueuedAt: m.now()})
			queued++
		}
		s.prunePosted()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("save state: %w", err)
	}
	m.cfg.Observer.Pending(len(st.Pending))
	if queued > 0 {
		m.log.Info("statuses queued", zap.Int("count", queued))
		m.wakeDeliverer()
	}
	return queued, nil
}

func (m *Mirror) skip(s *State, p Post) string {
	if s.takePosted(p.ID) {
		return "posted by r2sync post"
	}
	return m.cfg.Filter.skipReason(p)
}

// DeliverOnce sends the pending statuses in order until none is left. Each
// is removed from the state only after the Sink confirmed it, so a crash
// can repeat at most the one status in flight and never lose one.
func (m *Mirror) DeliverOnce(ctx context.Context) (int, error) {
	delivered := 0
	for {
		st, err := m.cfg.Store.Load(ctx)
		if err != nil {
			return delivered, fmt.Errorf("load state: %w", err)
		}
		if len(st.Pending) == 0 {
			return delivered, nil
		}
		if err := ctx.Err(); err != nil {
			return delivered, err
		}
		next := st.Pending[0]
		if err := m.deliver(ctx, next); err != nil {
			return delivered, err
		}
		delivered++
	}
}

// deliver sends one status and removes it from the queue. A shutdown does
// not interrupt it at once: cutting the send between the server's receipt
// and the state update would repeat the status after a restart, so it
// gets Config.Grace to finish.
func (m *Mirror) deliver(parent context.Context, next Status) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	defer cancel()
	stop := context.AfterFunc(parent, func() { time.AfterFunc(m.cfg.Grace, cancel) })
	defer stop()

	if err := m.cfg.Sink.SetStatus(ctx, next.Text); err != nil {
		m.cfg.Observer.DeliveryFailed(err)
		return fmt.Errorf("set status for post %d: %w", next.PostID, err)
	}
	at := m.now()
	st, err := m.cfg.Store.Update(ctx, func(s *State) error {
		s.removePending(next.PostID)
		s.Mirrored++
		s.LastMirrored = &Delivered{PostID: next.PostID, At: at}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	m.cfg.Observer.Delivered(next.PostID, at.Sub(next.QueuedAt))
	m.cfg.Observer.Pending(len(st.Pending))
	m.log.Info("status set",
		zap.Int64("post_id", next.PostID),
		zap.Duration("delay", at.Sub(next.QueuedAt)))
	return nil
}

func (m *Mirror) pollLoop(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	b := NewBackoff(time.Second, 5*time.Minute)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		wait := m.cfg.PollInterval
		_, err := m.PollOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.cfg.Observer.Polled(err)
		if err == nil {
			b.Reset()
			if p, ok := m.cfg.Source.(Pacer); ok {
				wait = p.Pace(wait)
			}
		} else {
			if IsFatal(err) {
				return err
			}
			// Transient faults (network, 5xx, garbage) retry sooner than
			// the interval at first, then ever more slowly.
			wait = b.Next()
			if at, ok := retryAt(err); ok {
				wait = max(wait, at.Sub(m.now()))
			}
			if isPermanent(err) {
				wait = PermanentErrorBackoff
				m.log.Error("poll failed; fix the cause, r2sync retries slowly meanwhile", zap.Error(err), zap.Duration("retry_in", wait))
			} else {
				m.log.Warn("poll failed", zap.Error(err), zap.Duration("retry_in", wait))
			}
		}
		t.Reset(wait)
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
			}
			continue
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
		case <-time.After(wait):
		}
	}
}

func (m *Mirror) wakeDeliverer() {
	select {
	case m.queued <- struct{}{}:
	default:
	}
}

// removePending drops the first pending status of post id.
func (s *State) removePending(id int64) {
	for i, p := range s.Pending {
		if p.PostID == id {
			s.Pending = append(s.Pending[:i], s.Pending[i+1:]...)
			return
		}
	}
}

// prunePosted forgets posts by `r2sync post` that the cursor has passed.
func (s *State) prunePosted() {
	if !s.Initialized {
		return
	}
	kept := s.Posted[:0]
	for _, p := range s.Posted {
		if p.ID > s.LastID {
			kept = append(kept, p)
		}
	}
	s.Posted = kept
}
