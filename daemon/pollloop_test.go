package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// rateLimitedErr says when to retry.
type rateLimitedErr struct{ at time.Time }

func (e rateLimitedErr) Error() string      { return "twitter api: status 429" }
func (e rateLimitedErr) RetryAt() time.Time { return e.at }

// runPolls runs the mirror and returns the first n waits of its poll loop
// and the number of polls before each.
func runPolls(t *testing.T, src *fakeSource, interval time.Duration, n int) (waits []time.Duration, polls []int) {
	t.Helper()
	seen := make(chan time.Duration)
	clock := &fakeAfter{seen: seen, release: make(chan time.Time), quit: make(chan struct{})}
	store := statefile.New(t.TempDir() + "/state.json")
	defer store.Close()
	// Initialized, so that every poll reaches Since.
	if _, err := store.Update(context.Background(), func(s *daemon.State) error { s.Initialized, s.Cursors = true, started(1); return nil }); err != nil {
		t.Fatal(err)
	}
	m := mirrorWith(t, daemon.Config{Source: src, Sink: &fakeSink{}, Store: store, PollInterval: interval, After: clock.After})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	for range n {
		select {
		case d := <-seen:
			waits = append(waits, d)
			src.mu.Lock()
			polls = append(polls, src.calls)
			src.mu.Unlock()
		case err := <-done:
			t.Fatalf("Run ended: %v", err)
		}
		clock.release <- time.Time{}
	}
	cancel()
	close(clock.quit)
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	return waits, polls
}

// After a failure the poller never polls sooner than the interval: the
// back-off starts at the interval and grows from there, capped.
func TestPollBackoffStartsAtInterval(t *testing.T) {
	for _, interval := range []time.Duration{time.Minute, 10 * time.Minute} {
		t.Run(interval.String(), func(t *testing.T) {
			src := &fakeSource{err: errors.New("connection reset by peer")}
			waits, polls := runPolls(t, src, interval, 8)
			ceiling := max(interval, 5*time.Minute)
			for i, d := range waits {
				if d < interval || d > ceiling {
					t.Errorf("wait %d after a failed poll: %s, want within [%s, %s]", i, d, interval, ceiling)
				}
				if polls[i] != i+1 {
					t.Errorf("before wait %d: %d polls, want one per wait", i, polls[i])
				}
			}
			if interval < ceiling && waits[len(waits)-1] <= interval {
				t.Errorf("waits %v do not grow", waits)
			}
		})
	}
}

// A rate-limit reset far in the future does not stop mirroring: the wait
// is capped at MaxPollWait.
func TestPollWaitCapped(t *testing.T) {
	src := &fakeSource{err: fmt.Errorf("fetch: %w", rateLimitedErr{at: time.Now().AddDate(100, 0, 0)})}
	waits, _ := runPolls(t, src, time.Minute, 2)
	for _, d := range waits {
		if d != daemon.MaxPollWait {
			t.Errorf("wait %s after a reset 100 years ahead, want %s", d, daemon.MaxPollWait)
		}
	}
}

// A state whose cursor is ahead of every post the account has would
// mirror nothing, silently, for good: warn once per run with the fix.
func TestCursorAheadWarnsOnce(t *testing.T) {
	for _, tt := range []struct {
		name   string
		newest int64
		warn   bool
	}{
		{name: "ahead", newest: 500, warn: true},
		{name: "level", newest: 1000},
		{name: "no posts", newest: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := statefile.New(t.TempDir() + "/state.json")
			defer store.Close()
			if _, err := store.Update(ctx, func(s *daemon.State) error { s.Initialized, s.Cursors = true, started(1000); return nil }); err != nil {
				t.Fatal(err)
			}
			src := &fakeSource{}
			if tt.newest > 0 {
				src.add(post(tt.newest, "newest"))
			}
			log, logged := logs()
			m := mirrorWith(t, daemon.Config{Source: src, Sink: &fakeSink{}, Store: store, Logger: log})
			for range 3 {
				if _, err := m.PollOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			warned := logged.FilterMessage("state cursor is ahead of the newest post; run `r2sync state reset`").All()
			if !tt.warn {
				if len(warned) != 0 {
					t.Errorf("warned: %v", warned)
				}
				return
			}
			if len(warned) != 1 || warned[0].Level.String() != "warn" {
				t.Fatalf("warnings %v, want one", warned)
			}
			if f := warned[0].ContextMap(); f["cursor"] != "1000" || f["newest"] != "500" {
				t.Errorf("warning fields %v", f)
			}
		})
	}
}

// A first start records the newest post and needs no check: one Newest.
func TestFirstStartChecksNoCursor(t *testing.T) {
	src := &countingSource{fakeSource: &fakeSource{}}
	src.add(post(5, "x"))
	store := statefile.New(t.TempDir() + "/state.json")
	defer store.Close()
	m := mirrorWith(t, daemon.Config{Source: src, Sink: &fakeSink{}, Store: store})
	for range 2 {
		if _, err := m.PollOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if src.newest != 1 {
		t.Errorf("%d Newest calls, want 1", src.newest)
	}
}

type countingSource struct {
	*fakeSource
	newest int
}

func (c *countingSource) Newest(ctx context.Context) (string, error) {
	c.newest++
	return c.fakeSource.Newest(ctx)
}
