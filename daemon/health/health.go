// Package health turns what the mirror and the XMPP session report into
// liveness and readiness answers, a one-line summary for systemd's STATUS=
// and Prometheus metrics. A Monitor implements daemon.Observer and
// renren's session events; it knows sources and sinks only through the
// daemon package's types and optional abilities, and imports no adapter.
package health

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/r2sync/r2sync/daemon"
)

// ReadyPolls is how many poll intervals may pass without a successful poll
// before the daemon is no longer ready.
const ReadyPolls = 3

// DefaultMirror is the Options.Mirror of Options without one: the name of
// the single mirror of a config without [[mirror]] tables.
const DefaultMirror = "default"

// Options configure a Monitor.
type Options struct {
	// Mirror names the mirror in the mirror="NAME" label of every metric
	// but r2sync_build_info. Empty means DefaultMirror.
	Mirror string
	// Source is the mirror's source itself, not a wrapper: when metrics
	// are scraped it is asked for its rate-limit budget and API usage if
	// it has those abilities (daemon.RateLimitReporter,
	// daemon.UsageReporter). Nil leaves those metrics out.
	Source daemon.Source
	// SourceName is the source="NAME" label of the source's metrics.
	SourceName string
	// Kind is the source's kind for a status page ("twitter",
	// "mastodon", "bluesky"), Account the source account it reads and
	// XMPP the JID whose status it sets. Each may be empty.
	Kind, Account, XMPP string
	// PollInterval is the configured poll interval; 0 means a minute.
	PollInterval time.Duration
	// Version is reported as r2sync_build_info{version}.
	Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Monitor collects what the daemon reports for one mirror. Its methods
// are safe for concurrent use and never block for long: the mirror calls
// them while it holds the state file's lock. Counters live in the
// mirror's metrics.Set (atomic, no lock); what readiness needs lives
// under mu.
type Monitor struct {
	opts  Options
	now   func() time.Time
	start time.Time
	reg   *Registry // the registry that exports it
	m     *series

	firstPoll     chan struct{} // closed at the first successful poll
	firstPollOnce sync.Once
	polledOnce    chan struct{} // closed at the first poll of either result
	polledOneOnce sync.Once

	mu           sync.Mutex
	sessionUp    bool
	sessions     int64 // sessions that came up
	pending      int
	mirrored     int64 // over the life of the state file
	lastMirrored time.Time
	lastPoll     time.Time // last poll attempt, either result
	lastPollOK   time.Time
	lastDeliver  time.Time
	pollErr      error     // the last poll's error, nil after a success
	pollErrSince time.Time // first of the current run of failed polls
	stateErr     error     // the last failed state write, nil once one succeeded
	stopped      bool

	// For the status page (status.go).
	sessionSince time.Time // last change of sessionUp, or start
	lastStatus   string
	lastStatusAt time.Time
	lastErr      string
	lastErrAt    time.Time
	hourly       [Hours]uint32 // deliveries, by hour since the epoch mod Hours
	hour         int64         // the newest hour in hourly
}

var _ daemon.Observer = (*Monitor)(nil)

// New returns a Monitor whose clocks start now, exported by a registry of
// its own (one mirror): use Registry.Mirror for several.
func New(opts Options) *Monitor {
	return NewRegistry(RegistryOptions{Version: opts.Version, Now: opts.Now}).Mirror(opts.Mirror, opts)
}

func newMonitor(reg *Registry, opts Options) *Monitor {
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Minute
	}
	if opts.Mirror == "" {
		opts.Mirror = DefaultMirror
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	m := &Monitor{
		opts:       opts,
		now:        now,
		start:      now(),
		reg:        reg,
		firstPoll:  make(chan struct{}),
		polledOnce: make(chan struct{}),
	}
	m.sessionSince = m.start
	m.hour = m.start.Unix() / 3600
	m.m = newSeries(m)
	return m
}

// Restore seeds the lifetime numbers from the state file read at start:
// the mirrored count, the last delivery and the queue length.
func (m *Monitor) Restore(st daemon.State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mirrored = st.Mirrored
	if st.LastMirrored != nil {
		m.lastMirrored = st.LastMirrored.At
	}
	m.pending = len(st.Pending)
}

// Polled implements daemon.Observer.
func (m *Monitor) Polled(err error) {
	now := m.now()
	if err == nil {
		m.m.pollsOK.Inc()
	} else {
		m.m.pollsErr.Inc()
		m.m.errorCounter("poll", Kind(err)).Inc()
	}
	m.mu.Lock()
	m.lastPoll = now
	if err == nil {
		m.lastPollOK = now
		m.pollErr = nil
	} else {
		if m.pollErr == nil {
			m.pollErrSince = now
		}
		m.pollErr = err
		m.noteError("poll", err, now)
	}
	m.mu.Unlock()
	m.polledOneOnce.Do(func() { close(m.polledOnce) })
	if err == nil {
		m.firstPollOnce.Do(func() { close(m.firstPoll) })
	}
}

// Seen implements daemon.Observer.
func (m *Monitor) Seen(n int) { m.m.seen.Add(n) }

// Skipped implements daemon.Observer.
func (m *Monitor) Skipped(reason string) { m.m.skipCounter(reason).Inc() }

// Delivered implements daemon.Observer.
func (m *Monitor) Delivered(_ string, queued time.Duration) {
	now := m.now()
	m.m.deliveredOK.Inc()
	m.m.queued.Add(queued.Seconds())
	m.mu.Lock()
	m.mirrored++
	m.lastMirrored = now
	m.lastDeliver = now
	m.countDelivery(now)
	m.mu.Unlock()
}

// DeliveryFailed implements daemon.Observer.
func (m *Monitor) DeliveryFailed(err error) {
	m.m.deliveredErr.Inc()
	m.m.errorCounter("deliver", Kind(err)).Inc()
	now := m.now()
	m.mu.Lock()
	m.noteError("deliver", err, now)
	m.mu.Unlock()
}

// Uncertain implements daemon.Observer.
func (m *Monitor) Uncertain(_ string, dropped bool) {
	if dropped {
		m.m.uncertainDropped.Inc()
	} else {
		m.m.uncertainRetried.Inc()
	}
}

// StateWrite implements daemon.Observer. While state writes fail the
// daemon is not ready: it sends nothing it cannot record.
func (m *Monitor) StateWrite(err error) {
	if err != nil {
		m.m.errorCounter("state", Kind(err)).Inc()
	}
	now := m.now()
	m.mu.Lock()
	m.stateErr = err
	if err != nil {
		m.noteError("state", err, now)
	}
	m.mu.Unlock()
}

// Pending implements daemon.Observer.
func (m *Monitor) Pending(n int) {
	m.mu.Lock()
	m.pending = n
	m.mu.Unlock()
}

// SessionUp reports a live XMPP session (renren.Events).
func (m *Monitor) SessionUp() {
	now := m.now()
	m.mu.Lock()
	if !m.sessionUp {
		m.sessionSince = now
	}
	m.sessionUp = true
	m.sessions++
	m.mu.Unlock()
}

// SessionDown reports the loss of the XMPP session, or a failed attempt
// to get one (renren.Events).
func (m *Monitor) SessionDown(err error) {
	if err != nil {
		m.m.errorCounter("xmpp", Kind(err)).Inc()
	}
	now := m.now()
	m.mu.Lock()
	if m.sessionUp {
		m.sessionSince = now
	}
	m.sessionUp = false
	if err != nil {
		m.noteError("xmpp", err, now)
	}
	m.mu.Unlock()
}

// FeedEvent counts a Renren news-feed notification (renren.Events).
func (m *Monitor) FeedEvent() { m.m.feedEvents.Inc() }

// Stopped marks the mirror loop as ended: the daemon is no longer alive.
func (m *Monitor) Stopped() {
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
}

// FirstPoll is closed once a poll has succeeded.
func (m *Monitor) FirstPoll() <-chan struct{} { return m.firstPoll }

// stallAfter is the longest silence of the poll loop that can still be
// healthy: the loop legitimately waits up to daemon.MaxPollWait (after a
// rejected credential, or until a rate-limit window resets), and a poll
// may take up to daemon.PollTimeout.
func (m *Monitor) stallAfter() time.Duration {
	return max(ReadyPolls*m.opts.PollInterval, max(daemon.MaxPollWait, m.opts.PollInterval)+daemon.PollTimeout)
}

// Live returns nil while the mirror loop is running: it has reported a
// poll, of either result, within the longest wait it may choose.
// Systemd's watchdog is pinged only while Live is nil.
func (m *Monitor) Live() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.liveLocked(m.now())
}

func (m *Monitor) liveLocked(now time.Time) error {
	if m.stopped {
		return errors.New("mirror loop stopped")
	}
	last := m.lastPoll
	if last.IsZero() {
		last = m.start
	}
	if d := now.Sub(last); d > m.stallAfter() {
		return fmt.Errorf("mirror loop stalled: no poll for %s", d.Round(time.Second))
	}
	return nil
}

// Ready returns nil when the daemon does its job: the XMPP session is up
// and a poll succeeded within ReadyPolls intervals.
func (m *Monitor) Ready() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readyLocked(m.now())
}

func (m *Monitor) readyLocked(now time.Time) error {
	if err := m.liveLocked(now); err != nil {
		return err
	}
	if !m.sessionUp {
		return errors.New("xmpp session down")
	}
	if m.stateErr != nil {
		return fmt.Errorf("state not saved: %s", oneLine(m.stateErr.Error(), 200))
	}
	window := ReadyPolls * m.opts.PollInterval
	switch {
	case m.lastPollOK.IsZero() && m.pollErr != nil:
		return fmt.Errorf("no successful poll yet: %s", oneLine(m.pollErr.Error(), 200))
	case m.lastPollOK.IsZero():
		return errors.New("no successful poll yet")
	case now.Sub(m.lastPollOK) > window:
		msg := fmt.Sprintf("no successful poll for %s (more than %d intervals)", now.Sub(m.lastPollOK).Round(time.Second), ReadyPolls)
		if m.pollErr != nil {
			msg += ": " + oneLine(m.pollErr.Error(), 200)
		}
		return errors.New(msg)
	}
	return nil
}
