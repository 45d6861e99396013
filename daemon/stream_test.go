package daemon_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// streamSource is a fakeSource whose Stream hands the mirror's push to
// the test, which then pushes as a network would.
type streamSource struct {
	*fakeSource
	pushes chan func(context.Context, []daemon.Post) error
}

func (s *streamSource) Stream(ctx context.Context, push func(context.Context, []daemon.Post) error) error {
	select {
	case s.pushes <- push:
	case <-ctx.Done():
	}
	<-ctx.Done()
	return ctx.Err()
}

// unorderedStream is a Streamer without a CursorOrder.
type unorderedStream struct {
	src    *fakeSource
	pushes chan func(context.Context, []daemon.Post) error
}

func (u *unorderedStream) Since(ctx context.Context, c string) ([]daemon.Post, error) {
	return u.src.Since(ctx, c)
}
func (u *unorderedStream) Newest(ctx context.Context) (string, error) { return u.src.Newest(ctx) }
func (u *unorderedStream) Stream(ctx context.Context, push func(context.Context, []daemon.Post) error) error {
	return (&streamSource{pushes: u.pushes}).Stream(ctx, push)
}

// runStream starts m and returns the push its source's Stream was given.
func runStream(t *testing.T, m *daemon.Mirror, pushes chan func(context.Context, []daemon.Post) error) func(context.Context, []daemon.Post) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil after cancel", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	select {
	case push := <-pushes:
		return push
	case <-time.After(10 * time.Second):
		t.Fatal("Stream was not started")
		return nil
	}
}

func waitStatuses(t *testing.T, sink *fakeSink, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-sink.sent:
			if got != w {
				t.Fatalf("status %q, want %q (all so far %q)", got, w, sink.got())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no status %q within 10s (got %q)", w, sink.got())
		}
	}
}

func TestStreamPushedPostsBecomeStatusesOnce(t *testing.T) {
	src := &streamSource{fakeSource: &fakeSource{}, pushes: make(chan func(context.Context, []daemon.Post) error, 1)}
	src.add(post(1, "old"))
	sink := &fakeSink{sent: make(chan string, 10)}
	store := statefile.New(t.TempDir() + "/state.json")
	m := newMirror(t, src, sink, store, daemon.Filter{}) // polls every hour
	push := runStream(t, m, src.pushes)
	ctx := context.Background()

	if err := push(ctx, nil); err != nil { // connected: the mirror polls, and starts
		t.Fatal(err)
	}
	// Post 2 exists only on the stream: only the push can bring it.
	if err := push(ctx, []daemon.Post{post(2, "pushed")}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := cursorOf(st); got != "2" {
		t.Errorf("cursor after push returned = %q, want 2 (push returns once the post is queued)", got)
	}
	waitStatuses(t, sink, "pushed")
	// Repeats, and a post older than the cursor, are ignored.
	for _, p := range []daemon.Post{post(2, "pushed"), post(1, "old")} {
		if err := push(ctx, []daemon.Post{p}); err != nil {
			t.Fatal(err)
		}
	}
	// A reconnect: posts made while the stream was down come from the
	// gap-filling poll, in order.
	src.add(post(2, "pushed"), post(3, "gap one"), post(4, "gap two"))
	if err := push(ctx, nil); err != nil {
		t.Fatal(err)
	}
	waitStatuses(t, sink, "gap one", "gap two")
	if err := push(ctx, []daemon.Post{post(4, "gap two"), post(5, "live")}); err != nil {
		t.Fatal(err)
	}
	waitStatuses(t, sink, "live")
	if got, want := sink.got(), []string{"pushed", "gap one", "gap two", "live"}; !slices.Equal(got, want) {
		t.Errorf("statuses %q, want %q", got, want)
	}
}

func TestStreamWithoutOrderPolls(t *testing.T) {
	fs := &fakeSource{}
	fs.add(post(1, "old"))
	src := &unorderedStream{src: fs, pushes: make(chan func(context.Context, []daemon.Post) error, 1)}
	sink := &fakeSink{sent: make(chan string, 10)}
	m := newMirror(t, src, sink, statefile.New(t.TempDir()+"/state.json"), daemon.Filter{})
	push := runStream(t, m, src.pushes)
	ctx := context.Background()
	if err := push(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// Without an order the pushed copy is not trusted: the source is
	// polled, so a post the source does not list is not mirrored, and
	// one it lists is mirrored once.
	if err := push(ctx, []daemon.Post{post(7, "not listed")}); err != nil {
		t.Fatal(err)
	}
	fs.add(post(2, "listed"))
	for range 2 {
		if err := push(ctx, []daemon.Post{post(2, "listed")}); err != nil {
			t.Fatal(err)
		}
	}
	waitStatuses(t, sink, "listed")
	if got := sink.got(); !slices.Equal(got, []string{"listed"}) {
		t.Errorf("statuses %q, want [listed]", got)
	}
}

func TestStreamPushAfterStopFails(t *testing.T) {
	src := &streamSource{fakeSource: &fakeSource{}, pushes: make(chan func(context.Context, []daemon.Post) error, 1)}
	m := newMirror(t, src, &fakeSink{}, statefile.New(t.TempDir()+"/state.json"), daemon.Filter{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	push := <-src.pushes
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if err := push(context.Background(), nil); err == nil {
		t.Error("push after the mirror stopped = nil, want an error")
	}
}
