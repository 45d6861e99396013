package daemon_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// fakeClock is a clock whose waits pass at once and move it forward;
// block, when set, makes the next wait never end.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
	block bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	if !c.block {
		c.t = c.t.Add(d)
		ch <- c.t
	}
	return ch
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) taken() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := slices.Clone(c.waits)
	c.waits = nil
	return w
}

func capped(t *testing.T, src *fakeSource, sink daemon.Sink, store daemon.Store, clock *fakeClock, perHour int) *daemon.Mirror {
	t.Helper()
	return mirrorWith(t, daemon.Config{Source: src, Sink: sink, Store: store, MaxPerHour: perHour, Now: clock.Now, After: clock.After})
}

// TestMaxPerHourSpacesDeliveries: with max_per_hour = 3600 a queued burst
// goes out one status a second, in order; the pace holds across a restart
// because it is read from the state's last delivery.
func TestMaxPerHourSpacesDeliveries(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	src := &fakeSource{}
	sink := &fakeSink{}
	path := t.TempDir() + "/state.json"
	m := capped(t, src, sink, statefile.New(path), clock, 3600)
	queue(t, m, src, post(1, "one"), post(2, "two"), post(3, "three"))
	if n, err := m.DeliverOnce(ctx); err != nil || n != 3 {
		t.Fatalf("DeliverOnce = %d, %v; want 3", n, err)
	}
	if got := sink.got(); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("statuses %q", got)
	}
	if w := clock.taken(); !slices.Equal(w, []time.Duration{time.Second, time.Second}) {
		t.Fatalf("waits %v; want [1s 1s]: the first status goes at once, then one a second", w)
	}

	// A restart 400ms after the last delivery waits the remaining 600ms.
	clock.set(clock.Now().Add(400 * time.Millisecond))
	m = capped(t, src, sink, statefile.New(path), clock, 3600)
	src.add(post(4, "four"))
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if w := clock.taken(); !slices.Equal(w, []time.Duration{600 * time.Millisecond}) {
		t.Fatalf("waits after restart %v; want [600ms]", w)
	}

	// A clock set back by a day waits one spacing, not a day.
	clock.set(t0.Add(-24 * time.Hour))
	src.add(post(5, "five"))
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if w := clock.taken(); !slices.Equal(w, []time.Duration{time.Second}) {
		t.Fatalf("waits after the clock went back %v; want [1s]", w)
	}

	// 20 an hour is one status every three minutes.
	m = capped(t, src, sink, statefile.New(path), clock, 20)
	src.add(post(6, "six"), post(7, "seven"))
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if w := clock.taken(); !slices.Equal(w, []time.Duration{3 * time.Minute, 3 * time.Minute}) {
		t.Fatalf("waits at 20 an hour %v; want [3m 3m]", w)
	}
	if got := sink.got(); !slices.Equal(got, []string{"one", "two", "three", "four", "five", "six", "seven"}) {
		t.Fatalf("statuses %q", got)
	}
}

func TestNoCapNoWait(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	src, sink := &fakeSource{}, &fakeSink{}
	m := capped(t, src, sink, statefile.New(t.TempDir()+"/state.json"), clock, 0)
	queue(t, m, src, post(1, "one"), post(2, "two"))
	if n, err := m.DeliverOnce(context.Background()); err != nil || n != 2 {
		t.Fatalf("DeliverOnce = %d, %v", n, err)
	}
	if w := clock.taken(); len(w) != 0 {
		t.Fatalf("waits %v; want none", w)
	}
}

// TestMaxPerHourWaitEndsWithCtx: a shutdown during the wait returns at
// once and keeps the waiting status queued.
func TestMaxPerHourWaitEndsWithCtx(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	src, sink := &fakeSource{}, &fakeSink{}
	store := statefile.New(t.TempDir() + "/state.json")
	m := capped(t, src, sink, store, clock, 1)
	queue(t, m, src, post(1, "one"), post(2, "two"))
	clock.mu.Lock()
	clock.block = true
	clock.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var n int
	go func() {
		var err error
		n, err = m.DeliverOnce(ctx)
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(sink.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("DeliverOnce = %d, %v; want 1, context.Canceled", n, err)
	}
	st, err := store.Load(context.Background())
	if err != nil || len(st.Pending) != 1 || st.Pending[0].PostID != "2" {
		t.Fatalf("pending %+v, %v; want post 2 still queued", st.Pending, err)
	}
}
