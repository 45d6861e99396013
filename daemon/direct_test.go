package daemon_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// onlineSink is a fakeSink with a session that is up (or not), and a
// view of the state at each send.
type onlineSink struct {
	fakeSink
	down   atomic.Bool
	store  daemon.Store
	mu     sync.Mutex
	queued [][]string // the queue's post ids at each send
	cursor []string   // the cursor at each send
}

func (s *onlineSink) Online() bool { return !s.down.Load() }

func (s *onlineSink) SetStatus(ctx context.Context, text string) error {
	if s.store != nil {
		st, err := s.store.Load(ctx)
		if err != nil {
			return err
		}
		var ids []string
		for _, p := range st.Pending {
			ids = append(ids, p.PostID)
		}
		s.mu.Lock()
		s.queued = append(s.queued, ids)
		s.cursor = append(s.cursor, cursorOf(st))
		s.mu.Unlock()
	}
	return s.fakeSink.SetStatus(ctx, text)
}

// countingStore counts the state's writes.
type countingStore struct {
	daemon.Store
	updates atomic.Int64
	fail    atomic.Bool // every write fails
}

var errDiskGone = errors.New("disk gone")

func (s *countingStore) Update(ctx context.Context, fn func(*daemon.State) error) (daemon.State, error) {
	if s.fail.Load() {
		return daemon.State{}, errDiskGone
	}
	s.updates.Add(1)
	return s.Store.Update(ctx, fn)
}

// TestDirectSendBeforeAnyWrite: with an empty queue and an online sink,
// a poll sends each status before the state knows of it and then
// records it with one write: cursor past it, delivered (issue 14: the
// queue write before the send and the second write after it made
// several fsyncs the added delay). The old code queued first.
func TestDirectSendBeforeAnyWrite(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{}
	src.add(post(1, "old"))
	file := statefile.New(t.TempDir() + "/state.json")
	defer file.Close()
	store := &countingStore{Store: file}
	sink := &onlineSink{store: file}
	m := mirrorWith(t, daemon.Config{Source: src, Sink: sink, Store: store})
	if _, err := m.PollOnce(ctx); err != nil { // first start: records post 1
		t.Fatal(err)
	}
	before := store.updates.Load()
	src.add(post(2, "two"), post(3, "three"))
	if n, err := m.PollOnce(ctx); err != nil || n != 2 {
		t.Fatalf("PollOnce = %d, %v; want 2 sent", n, err)
	}
	if got := sink.got(); len(got) != 2 || got[0] != "two" || got[1] != "three" {
		t.Fatalf("sent %q", got)
	}
	for i, q := range sink.queued {
		if len(q) != 0 {
			t.Errorf("send %d: queue %v at the send; want it sent before any write", i, q)
		}
	}
	if sink.cursor[0] != "1" || sink.cursor[1] != "2" {
		t.Errorf("cursor at the sends %v, want [1 2]: each recorded before the next send", sink.cursor)
	}
	if w := store.updates.Load() - before; w != 2 {
		t.Errorf("%d state writes for 2 statuses, want 2", w)
	}
	st, err := file.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cursorOf(st) != "3" || st.Mirrored != 2 || len(st.Pending) != 0 || st.LastMirrored == nil || st.LastMirrored.PostID != "3" {
		t.Errorf("state %+v", st)
	}
	// Nothing left for the deliverer.
	if n, err := m.DeliverOnce(ctx); err != nil || n != 0 {
		t.Errorf("DeliverOnce = %d, %v", n, err)
	}
}

// A crash between a send and its record repeats that one status after
// the restart, and loses none: the cursor never passed it.
func TestDirectSendCrashRepeatsOnlyTheOneInFlight(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{}
	src.add(post(1, "old"))
	path := t.TempDir() + "/state.json"
	file := statefile.New(path)
	store := &countingStore{Store: file}
	sink := &onlineSink{}
	m := mirrorWith(t, daemon.Config{Source: src, Sink: sink, Store: store, Grace: 50 * time.Millisecond})
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	src.add(post(2, "two"), post(3, "three"))
	// The process dies right after the first send: its record never
	// lands (the poll's ctx ends while the write is retried).
	store.fail.Store(true)
	cctx, cancel := context.WithCancel(ctx)
	sink.fail = func(string) error { cancel(); return nil }
	if _, err := m.PollOnce(cctx); err == nil {
		t.Fatal("PollOnce succeeded with every state write failing")
	}
	file.Close()

	restarted := statefile.New(path)
	defer restarted.Close()
	sink2 := &onlineSink{}
	m2 := mirrorWith(t, daemon.Config{Source: src, Sink: sink2, Store: restarted})
	if n, err := m2.PollOnce(ctx); err != nil || n != 2 {
		t.Fatalf("after restart PollOnce = %d, %v", n, err)
	}
	all := append(sink.got(), sink2.got()...)
	if len(all) != 3 || all[0] != "two" || all[1] != "two" || all[2] != "three" {
		t.Errorf("statuses across the crash %q; want two (in flight, repeated once), two, three", all)
	}
}

// startedDirect returns a mirror on sink and cfg's other fields, with a
// fresh state file, whose first start has recorded post 1 of its source.
func startedDirect(t *testing.T, sink daemon.Sink, cfg daemon.Config) (*fakeSource, *statefile.Store, *daemon.Mirror) {
	t.Helper()
	src := &fakeSource{}
	src.add(post(1, "old"))
	store := statefile.New(t.TempDir() + "/state.json")
	t.Cleanup(func() { store.Close() })
	cfg.Source, cfg.Sink, cfg.Store = src, sink, store
	m := mirrorWith(t, cfg)
	if _, err := m.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	return src, store, m
}

// Offline, or with a queue, the poll queues as before and the deliverer
// sends.
func TestDirectSendOnlyOnlineAndWithEmptyQueue(t *testing.T) {
	ctx := context.Background()
	sink := &onlineSink{}
	sink.down.Store(true)
	src, _, m := startedDirect(t, sink, daemon.Config{})
	src.add(post(2, "two"))
	if n, err := m.PollOnce(ctx); err != nil || n != 1 {
		t.Fatalf("PollOnce = %d, %v", n, err)
	}
	if got := sink.got(); len(got) != 0 {
		t.Fatalf("offline sink got %q from the poll", got)
	}
	// Back online, but post 2 is still queued: 3 must wait behind it.
	sink.down.Store(false)
	src.add(post(3, "three"))
	if n, err := m.PollOnce(ctx); err != nil || n != 1 {
		t.Fatalf("PollOnce = %d, %v", n, err)
	}
	if got := sink.got(); len(got) != 0 {
		t.Fatalf("sent %q past the queue", got)
	}
	if n, err := m.DeliverOnce(ctx); err != nil || n != 2 {
		t.Fatalf("DeliverOnce = %d, %v", n, err)
	}
	if got := sink.got(); len(got) != 2 || got[0] != "two" || got[1] != "three" {
		t.Errorf("sent %q", got)
	}
}

// An unacknowledged send of the poll is queued with that attempt
// counted, and the failed one's followers queue behind it.
func TestDirectSendUncertainIsCounted(t *testing.T) {
	ctx := context.Background()
	sink := &onlineSink{}
	src, store, m := startedDirect(t, sink, daemon.Config{})
	src.add(post(2, "two"), post(3, "three"))
	sink.fail = func(text string) error {
		if text == "two" {
			return uncertainErr{}
		}
		return nil
	}
	if n, err := m.PollOnce(ctx); err != nil || n != 2 {
		t.Fatalf("PollOnce = %d, %v", n, err)
	}
	st, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 2 || st.Pending[0].PostID != "2" || st.Pending[0].Attempts != 1 || st.Pending[1].PostID != "3" || st.Pending[1].Attempts != 0 {
		t.Fatalf("pending %+v", st.Pending)
	}
	if cursorOf(st) != "3" {
		t.Errorf("cursor %q, want 3", cursorOf(st))
	}
}

// Skips before a sent post are recorded with it, and a post claimed by
// `r2sync post` is never sent by the poll.
func TestDirectSendSkipsAndClaims(t *testing.T) {
	ctx := context.Background()
	sink := &onlineSink{}
	obs := newRecObserver()
	src, store, m := startedDirect(t, sink, daemon.Config{Observer: obs})
	if _, err := store.Update(ctx, func(s *daemon.State) error {
		s.Posted = append(s.Posted, daemon.PostRef{Source: daemon.DefaultSourceName, ID: "4", Cursor: "4"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	repost := post(2, "a repost")
	repost.Repost = true
	src.add(repost, post(3, "three"), post(4, "posted by hand"))
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sink.got(); len(got) != 1 || got[0] != "three" {
		t.Fatalf("sent %q, want only three", got)
	}
	st, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cursorOf(st) != "4" || len(st.Pending) != 0 || len(st.Posted) != 0 || st.Mirrored != 1 {
		t.Errorf("state %+v", st)
	}
	if obs.skipped["repost"] != 1 || obs.skipped["posted by r2sync post"] != 1 {
		t.Errorf("skips %v", obs.skipped)
	}
}
