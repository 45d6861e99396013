package daemon_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// On a full disk the send succeeds and the state update that removes the
// status fails. The status must not be sent again: the write is retried
// (with back-off) until it succeeds, and the disk-full line is logged once.
func TestDeliverDiskFullSendsOnce(t *testing.T) {
	stores(t, func(t *testing.T, fs *faultStore, store daemon.Store) {
		src := &fakeSource{}
		sink := &fakeSink{}
		clock := &fakeAfter{}
		log, logged := logs()
		obs := newRecObserver()
		m := mirrorWith(t, daemon.Config{Source: src, Sink: sink, Store: store, After: clock.After, Logger: log, Observer: obs})
		queue(t, m, src, post(1, "a"), post(2, "b"))

		const fails = 5
		fs.failNext(fails)
		n, err := m.DeliverOnce(context.Background())
		if err != nil || n != 2 {
			t.Fatalf("DeliverOnce = %d, %v; want 2, nil", n, err)
		}
		if got := sink.got(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("statuses %q, want each once", got)
		}
		if fs.failures() != fails {
			t.Errorf("%d writes failed, want %d", fs.failures(), fails)
		}
		waits := clock.recorded()
		if len(waits) != fails || waits[fails-1] <= waits[0] {
			t.Errorf("retry waits %v: want %d growing waits", waits, fails)
		}
		full := logged.FilterMessage("state not saved: disk full").All()
		if len(full) != 1 {
			t.Fatalf("%d disk-full lines, want 1 per episode:\n%v", len(full), logged.All())
		}
		if full[0].Level.String() != "error" {
			t.Errorf("disk-full line at level %s", full[0].Level)
		}
		if _, ok := store.(interface{ Path() string }); ok && full[0].ContextMap()["path"] != fs.Path() {
			t.Errorf("disk-full line names path %v, want %s", full[0].ContextMap()["path"], fs.Path())
		}
		if n := logged.FilterMessage("state saved again").Len(); n != 1 {
			t.Errorf("%d lines saying the state is saved again, want 1", n)
		}
		if obs.stateErrs != fails || obs.stateOK != 1 {
			t.Errorf("observer heard %d failed writes and %d recoveries, want %d and 1", obs.stateErrs, obs.stateOK, fails)
		}
		st, err := statefile.New(fs.Path()).Load(context.Background())
		if err != nil || len(st.Pending) != 0 || st.Mirrored != 2 {
			t.Errorf("state after the disk recovered: %+v, %v", st, err)
		}
	})
}

// A shutdown while the write keeps failing ends the retries after the
// grace period; the status stays queued (it will be sent once more at the
// next start, the one repeat a full disk can still cause) and is not sent
// again by this run.
func TestDeliverDiskFullShutdown(t *testing.T) {
	src := &fakeSource{}
	started := make(chan struct{})
	sink := &fakeSink{sent: make(chan string, 1)}
	fs := &faultStore{Store: statefile.New(t.TempDir() + "/state.json")}
	defer fs.Close()
	waits := make(chan struct{}, 1)
	after := func(d time.Duration) <-chan time.Time {
		select {
		case waits <- struct{}{}:
		default:
		}
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}
	log, logged := logs()
	m := mirrorWith(t, daemon.Config{Source: src, Sink: sink, Store: fs, After: after, Logger: log, Grace: 20 * time.Millisecond})
	queue(t, m, src, post(1, "a"), post(2, "b"))
	fs.failNext(1 << 30)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		close(started)
		_, err := m.DeliverOnce(ctx)
		done <- err
	}()
	<-started
	<-sink.sent
	<-waits // retrying the write
	cancel()
	err := <-done
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("DeliverOnce = %v, want the ENOSPC it gave up on", err)
	}
	if got := sink.got(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("statuses %q, want a once", got)
	}
	if logged.FilterMessage("status sent but not recorded; it will be sent again at the next start").Len() != 1 {
		t.Errorf("no line says the status was sent but not recorded:\n%v", logged.All())
	}
	st, _ := statefile.New(fs.Path()).Load(context.Background())
	if len(st.Pending) != 2 {
		t.Errorf("pending %d, want both still queued", len(st.Pending))
	}
}

// A poll whose queue update fails must not lose posts: nothing advances
// in memory that is not on disk, so the next poll queues them all, and
// skips are counted once.
func TestPollDiskFullLosesNothing(t *testing.T) {
	stores(t, func(t *testing.T, fs *faultStore, store daemon.Store) {
		ctx := context.Background()
		src := &fakeSource{}
		sink := &fakeSink{}
		log, logged := logs()
		obs := newRecObserver()
		m := mirrorWith(t, daemon.Config{Source: src, Sink: sink, Store: store, Logger: log, Observer: obs})
		if _, err := m.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		reply := post(3, "@bob hi")
		reply.Reply = true
		src.add(post(2, "a"), reply, post(4, "b"))
		fs.failNext(3)
		for i := range 3 {
			if _, err := m.PollOnce(ctx); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("poll %d on a full disk = %v, want ENOSPC", i, err)
			}
		}
		if n, err := m.PollOnce(ctx); err != nil || n != 2 {
			t.Fatalf("poll after the disk recovered queued %d, %v; want 2", n, err)
		}
		if _, err := m.DeliverOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := sink.got(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("statuses %q", got)
		}
		if obs.skipped["reply"] != 1 {
			t.Errorf("reply skipped %d times, want once", obs.skipped["reply"])
		}
		if n := logged.FilterMessage("state not saved: disk full").Len(); n != 1 {
			t.Errorf("%d disk-full lines over 3 failed polls, want 1", n)
		}
	})
}

// The same on a real full file system: a tmpfs with no room left.
func TestDeliverDiskFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); TestDeliverDiskFullSendsOnce injects the same ENOSPC", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount: %v", err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	store := statefile.New(filepath.Join(dir, "state.json"))
	defer store.Close()
	src := &fakeSource{}
	sink := &fakeSink{}
	seen := make(chan time.Duration)
	clock := &fakeAfter{seen: seen, release: make(chan time.Time)}
	log, logged := logs()
	m := mirrorWith(t, daemon.Config{Source: src, Sink: sink, Store: store, After: clock.After, Logger: log})
	queue(t, m, src, post(1, "a"))
	// A small append fits into the journal's last page and needs no new
	// space, as on any file system; claims by `r2sync post` make every
	// batch longer than a page.
	if _, err := store.Update(context.Background(), func(s *daemon.State) error {
		for i := range 400 {
			s.Posted = append(s.Posted, daemon.PostRef{Source: daemon.DefaultSourceName, ID: strconv.Itoa(1000 + i), Cursor: strconv.Itoa(1000 + i)})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for buf := make([]byte, 4096); ; {
		if _, err := filler.Write(buf); err != nil {
			break
		}
	}
	for {
		if _, err := filler.Write([]byte{0}); err != nil {
			break
		}
	}
	filler.Close()

	done := make(chan error, 1)
	go func() { _, err := m.DeliverOnce(context.Background()); done <- err }()
	wait := func() {
		t.Helper()
		select {
		case <-seen:
		case err := <-done:
			t.Fatalf("DeliverOnce returned %v on a full disk, want it to retry the write", err)
		}
	}
	for range 3 { // three failed writes, each followed by a wait
		wait()
		clock.release <- time.Time{}
	}
	wait()
	if got := sink.got(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("statuses while the disk is full: %q, want a once", got)
	}
	full := logged.FilterMessage("state not saved: disk full").All()
	if len(full) != 1 || full[0].ContextMap()["path"] != store.Path() {
		t.Errorf("disk-full lines: %v", full)
	}
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	clock.release <- time.Time{}
	if err := <-done; err != nil {
		t.Fatalf("DeliverOnce after freeing space: %v", err)
	}
	if got := sink.got(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("statuses %q, want a once", got)
	}
	other := statefile.New(store.Path())
	defer other.Close()
	if st, err := other.Load(context.Background()); err != nil || len(st.Pending) != 0 || st.Mirrored != 1 {
		t.Errorf("state: %+v, %v", st, err)
	}
}
