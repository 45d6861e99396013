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
	// PollInterval is the configured poll interval; 0 means a minute.
	PollInterval time.Duration
	// Version is reported as r2sync_build_info{version}.
	Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Monitor collects what the daemon reports. Its methods are safe for
// concurrent use and never block for long: the mirror calls them while it
// holds the state file's lock.
type Monitor struct {
	opts  Options
	now   func() time.Time
	start time.Time

	firstPoll     chan struct{} // closed at the first successful poll
	firstPollOnce sync.Once

	mu           sync.Mutex
	polls        map[string]int64 // by result: ok, error
	seen         int64
	skipped      map[string]int64   // by reason
	deliveries   map[string]int64   // by result: ok, error
	uncertain    map[string]int64   // unacknowledged sends, by outcome: retried, dropped
	errs         map[errorKey]int64 // by op and kind
	queuedSum    time.Duration
	sessionUp    bool
	sessions     int64 // sessions that came up
	feedEvents   int64
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
}

type errorKey struct{ op, kind string }

var _ daemon.Observer = (*Monitor)(nil)

// New returns a Monitor whose clocks start now.
func New(opts Options) *Monitor {
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
	return &Monitor{
		opts:       opts,
		now:        now,
		start:      now(),
		firstPoll:  make(chan struct{}),
		polls:      map[string]int64{},
		skipped:    map[string]int64{},
		deliveries: map[string]int64{},
		uncertain:  map[string]int64{},
		errs:       map[errorKey]int64{},
	}
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
	m.mu.Lock()
	m.lastPoll = now
	if err == nil {
		m.polls["ok"]++
		m.lastPollOK = now
		m.pollErr = nil
	} else {
		m.polls["error"]++
		m.errs[errorKey{"poll", Kind(err)}]++
		if m.pollErr == nil {
			m.pollErrSince = now
		}
		m.pollErr = err
	}
	m.mu.Unlock()
	if err == nil {
		m.firstPollOnce.Do(func() { close(m.firstPoll) })
	}
}

// Seen implements daemon.Observer.
func (m *Monitor) Seen(n int) {
	m.mu.Lock()
	m.seen += int64(n)
	m.mu.Unlock()
}

// Skipped implements daemon.Observer.
func (m *Monitor) Skipped(reason string) {
	m.mu.Lock()
	m.skipped[reason]++
	m.mu.Unlock()
}

// Delivered implements daemon.Observer.
func (m *Monitor) Delivered(_ string, queued time.Duration) {
	now := m.now()
	m.mu.Lock()
	m.deliveries["ok"]++
	m.queuedSum += queued
	m.mirrored++
	m.lastMirrored = now
	m.lastDeliver = now
	m.mu.Unlock()
}

// DeliveryFailed implements daemon.Observer.
func (m *Monitor) DeliveryFailed(err error) {
	m.mu.Lock()
	m.deliveries["error"]++
	m.errs[errorKey{"deliver", Kind(err)}]++
	m.mu.Unlock()
}

// Uncertain implements daemon.Observer.
func (m *Monitor) Uncertain(_ string, dropped bool) {
	outcome := "retried"
	if dropped {
		outcome = "dropped"
	}
	m.mu.Lock()
	m.uncertain[outcome]++
	m.mu.Unlock()
}

// StateWrite implements daemon.Observer. While state writes fail the
// daemon is not ready: it sends nothing it cannot record.
func (m *Monitor) StateWrite(err error) {
	m.mu.Lock()
	m.stateErr = err
	if err != nil {
		m.errs[errorKey{"state", Kind(err)}]++
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
	m.mu.Lock()
	m.sessionUp = true
	m.sessions++
	m.mu.Unlock()
}

// SessionDown reports the loss of the XMPP session, or a failed attempt
// to get one (renren.Events).
func (m *Monitor) SessionDown(err error) {
	m.mu.Lock()
	m.sessionUp = false
	if err != nil {
		m.errs[errorKey{"xmpp", Kind(err)}]++
	}
	m.mu.Unlock()
}

// FeedEvent counts a Renren news-feed notification (renren.Events).
func (m *Monitor) FeedEvent() {
	m.mu.Lock()
	m.feedEvents++
	m.mu.Unlock()
}

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
