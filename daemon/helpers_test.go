package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// fakeAfter is a Config.After that records every wait. Without release
// the wait ends at once; with it, each wait is announced on seen (when
// set) and ends when the test sends on release.
type fakeAfter struct {
	mu      sync.Mutex
	waits   []time.Duration
	seen    chan time.Duration
	release chan time.Time
	quit    chan struct{} // closed when the test stops reading seen
}

func (f *fakeAfter) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	if f.seen != nil {
		// The loop may ask for one more wait after the test has stopped
		// listening: it then selects on its cancelled ctx, not on this.
		select {
		case f.seen <- d:
		case <-f.quit:
		}
	}
	if f.release != nil {
		return f.release
	}
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}

func (f *fakeAfter) recorded() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

// recObserver counts what the mirror reports.
type recObserver struct {
	daemon.NopObserver
	mu        sync.Mutex
	skipped   map[string]int
	delivered []string
	uncertain map[bool]int // by dropped
	stateErrs int
	stateOK   int
}

func newRecObserver() *recObserver {
	return &recObserver{skipped: map[string]int{}, uncertain: map[bool]int{}}
}

func (o *recObserver) Skipped(reason string) {
	o.mu.Lock()
	o.skipped[reason]++
	o.mu.Unlock()
}

func (o *recObserver) Delivered(id string, _ time.Duration) {
	o.mu.Lock()
	o.delivered = append(o.delivered, id)
	o.mu.Unlock()
}

func (o *recObserver) Uncertain(_ string, dropped bool) {
	o.mu.Lock()
	o.uncertain[dropped]++
	o.mu.Unlock()
}

func (o *recObserver) StateWrite(err error) {
	o.mu.Lock()
	if err != nil {
		o.stateErrs++
	} else {
		o.stateOK++
	}
	o.mu.Unlock()
}

// faultStore is a statefile.Store whose next writes fail with ENOSPC, as
// on a full disk: fn runs, and nothing is saved.
type faultStore struct {
	*statefile.Store
	mu     sync.Mutex
	fails  int // writes still to fail
	failed int // writes that failed
}

func (f *faultStore) failNext(n int) {
	f.mu.Lock()
	f.fails = n
	f.mu.Unlock()
}

func (f *faultStore) failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// wrap makes fn's success a write error while failures are armed.
func (f *faultStore) wrap(fn func(*daemon.State) error) func(*daemon.State) error {
	return func(s *daemon.State) error {
		if err := fn(s); err != nil {
			return err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.fails == 0 {
			return nil
		}
		f.fails--
		f.failed++
		return fmt.Errorf("write state journal: %w", &fs.PathError{Op: "write", Path: f.Path() + ".journal.1", Err: syscall.ENOSPC})
	}
}

func (f *faultStore) Update(ctx context.Context, fn func(*daemon.State) error) (daemon.State, error) {
	return f.Store.Update(ctx, f.wrap(fn))
}

func (f *faultStore) UpdateFront(ctx context.Context, n int, fn func(*daemon.State) error) (daemon.State, int, error) {
	return f.Store.UpdateFront(ctx, n, f.wrap(fn))
}

// plainStore hides every ability but daemon.Store, so that the mirror
// takes its fallback paths.
type plainStore struct{ daemon.Store }

// stores runs a test against the statefile Store and against the same
// Store seen as a plain daemon.Store.
func stores(t *testing.T, test func(t *testing.T, fs *faultStore, store daemon.Store)) {
	for _, kind := range []string{"front", "plain"} {
		t.Run(kind, func(t *testing.T) {
			f := &faultStore{Store: statefile.New(t.TempDir() + "/state.json")}
			t.Cleanup(func() { f.Close() })
			var s daemon.Store = f
			if kind == "plain" {
				s = plainStore{f}
			}
			test(t, f, s)
		})
	}
}

// logs returns a logger and what it logged.
func logs() (*zap.Logger, *observer.ObservedLogs) {
	core, l := observer.New(zap.DebugLevel)
	return zap.New(core), l
}

// uncertainErr is an error like renren's for a status written to a live
// session that was never acknowledged.
type uncertainErr struct{}

func (uncertainErr) Error() string {
	return "xmpp: connection closed before the status was acknowledged"
}
func (uncertainErr) Uncertain() bool { return true }

var errDown = errors.New("xmpp: no session")

// mirrorWith fills in what a test leaves out of cfg.
func mirrorWith(t *testing.T, cfg daemon.Config) *daemon.Mirror {
	t.Helper()
	if cfg.Renderer == nil {
		r, err := daemon.NewRenderer("{{.Text}}", 140)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Renderer = r
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Hour
	}
	return daemon.NewMirror(cfg)
}

// queue makes the state initialized with posts queued, through the mirror.
func queue(t *testing.T, m *daemon.Mirror, src *fakeSource, posts ...daemon.Post) {
	t.Helper()
	ctx := context.Background()
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	src.add(posts...)
	if n, err := m.PollOnce(ctx); err != nil || n != len(posts) {
		t.Fatalf("PollOnce queued %d, %v; want %d", n, err, len(posts))
	}
}
