package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// A server that drops the connection right after each status never
// acknowledges it. Such a send may have been published, so a status is
// tried at most MaxUncertainAttempts times in all, across restarts, then
// dropped with one line and a metric; the queue moves on.
func TestUncertainDeliveryBounded(t *testing.T) {
	stores(t, func(t *testing.T, fs *faultStore, store daemon.Store) {
		ctx := context.Background()
		src := &fakeSource{}
		sends := map[string]int{}
		sink := &fakeSink{fail: func(text string) error {
			sends[text]++
			if text == "flooded" {
				return fmt.Errorf("set status: %w", uncertainErr{})
			}
			return nil
		}}
		log, logged := logs()
		cfg := daemon.Config{Source: src, Sink: sink, Store: store, Logger: log}
		m := mirrorWith(t, cfg)
		queue(t, m, src, post(1, "flooded"), post(2, "next"))

		for run := 1; run <= daemon.MaxUncertainAttempts; run++ {
			// Each run is a restart: a new Mirror on a new Store of the file.
			fresh := statefile.New(fs.Path())
			defer fresh.Close()
			cfg.Store = fresh
			if _, ok := store.(plainStore); ok {
				cfg.Store = plainStore{fresh}
			}
			_, err := mirrorWith(t, cfg).DeliverOnce(ctx)
			if !errors.As(err, new(uncertainErr)) {
				t.Fatalf("run %d: DeliverOnce = %v, want the uncertain error", run, err)
			}
			st, _ := fresh.Load(ctx)
			switch {
			case run < daemon.MaxUncertainAttempts && (len(st.Pending) != 2 || st.Pending[0].Attempts != run):
				t.Fatalf("run %d: pending %+v, want attempts %d saved", run, st.Pending, run)
			case run == daemon.MaxUncertainAttempts && (len(st.Pending) != 1 || st.Pending[0].PostID != "2"):
				t.Fatalf("after the last attempt: pending %+v, want it dropped", st.Pending)
			}
		}
		if n, err := m.DeliverOnce(ctx); err != nil || n != 1 {
			t.Fatalf("DeliverOnce after the drop = %d, %v", n, err)
		}
		if sends["flooded"] != daemon.MaxUncertainAttempts || sends["next"] != 1 {
			t.Errorf("sends %v, want flooded %d times and next once", sends, daemon.MaxUncertainAttempts)
		}
		dropped := logged.FilterMessage("status dropped after 3 unacknowledged attempts").All()
		if len(dropped) != 1 || dropped[0].Level.String() != "error" || dropped[0].ContextMap()["post_id"] != "1" {
			t.Errorf("drop lines: %+v", dropped)
		}
		if got := sink.got(); !slices.Equal(got, []string{"next"}) {
			t.Errorf("acknowledged statuses %q", got)
		}
	})
}

// The observer hears each unacknowledged send, and the drop.
func TestUncertainObserved(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{}
	sink := &fakeSink{fail: func(string) error { return uncertainErr{} }}
	obs := newRecObserver()
	store := statefile.New(t.TempDir() + "/state.json")
	defer store.Close()
	m := mirrorWith(t, daemon.Config{Source: src, Sink: sink, Store: store, Observer: obs})
	queue(t, m, src, post(1, "a"))
	for range daemon.MaxUncertainAttempts {
		if _, err := m.DeliverOnce(ctx); err == nil {
			t.Fatal("DeliverOnce succeeded against a server that never acknowledges")
		}
	}
	if obs.uncertain[false] != daemon.MaxUncertainAttempts-1 || obs.uncertain[true] != 1 {
		t.Errorf("observer heard %v, want %d retried and 1 dropped", obs.uncertain, daemon.MaxUncertainAttempts-1)
	}
	if n, err := m.DeliverOnce(ctx); err != nil || n != 0 {
		t.Errorf("queue after the drop: %d, %v", n, err)
	}
}

// Failures that wrote nothing (no session) are not uncertain: they stay
// queued and retry without bound, and nothing extra is written for them.
func TestDeliveryFailuresRetryWithoutBound(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{}
	failing := 10
	sink := &fakeSink{fail: func(string) error {
		if failing > 0 {
			failing--
			return fmt.Errorf("set status: %w", errDown)
		}
		return nil
	}}
	store := statefile.New(t.TempDir() + "/state.json")
	defer store.Close()
	m := mirrorWith(t, daemon.Config{Source: src, Sink: sink, Store: store})
	queue(t, m, src, post(1, "a"))
	before := store.Stats()
	for range 10 {
		if _, err := m.DeliverOnce(ctx); !errors.Is(err, errDown) {
			t.Fatalf("DeliverOnce = %v, want %v", err, errDown)
		}
	}
	if after := store.Stats(); after.BytesWritten != before.BytesWritten {
		t.Errorf("failures that wrote nothing cost %d bytes of state", after.BytesWritten-before.BytesWritten)
	}
	if st, _ := store.Load(ctx); len(st.Pending) != 1 || st.Pending[0].Attempts != 0 {
		t.Fatalf("pending %+v, want attempts 0", st.Pending)
	}
	if n, err := m.DeliverOnce(ctx); err != nil || n != 1 {
		t.Fatalf("DeliverOnce = %d, %v", n, err)
	}
}

// A status saved with all its attempts used (a run that died before it
// could drop it) is dropped without another send.
func TestUsedUpStatusIsNotSent(t *testing.T) {
	ctx := context.Background()
	store := statefile.New(t.TempDir() + "/state.json")
	defer store.Close()
	if _, err := store.Update(ctx, func(s *daemon.State) error {
		s.Initialized, s.Cursors = true, started(1)
		s.Pending = []daemon.Status{{PostID: "1", Text: "a", Attempts: daemon.MaxUncertainAttempts}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sink := &fakeSink{}
	m := mirrorWith(t, daemon.Config{Source: &fakeSource{}, Sink: sink, Store: store})
	if _, err := m.DeliverOnce(ctx); err == nil {
		t.Error("DeliverOnce = nil, want the reason for the drop")
	}
	if len(sink.got()) != 0 {
		t.Errorf("sent %q", sink.got())
	}
	if st, _ := store.Load(ctx); len(st.Pending) != 0 {
		t.Errorf("pending %+v", st.Pending)
	}
}
