package daemon_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// Optional abilities are read off the adapters themselves; these tests
// give the mirror sources and sinks with and without each one.

// unorderedSource is a fakeSource without daemon.CursorOrder: only
// Since and Newest are visible.
type unorderedSource struct{ f *fakeSource }

func (u unorderedSource) Since(ctx context.Context, c string) ([]daemon.Post, error) {
	return u.f.Since(ctx, c)
}
func (u unorderedSource) Newest(ctx context.Context) (string, error) { return u.f.Newest(ctx) }

// pacedSource is a fakeSource whose Pacer asks for a wait of its own.
type pacedSource struct {
	*fakeSource
	wait time.Duration
}

func (p pacedSource) Pace(time.Duration) time.Duration { return p.wait }

// cleaningSink is a fakeSink with a daemon.Sanitizer that drops '~'.
type cleaningSink struct{ *fakeSink }

func (cleaningSink) Sanitize(s string) string { return strings.ReplaceAll(s, "~", "") }

// seenObserver records what Seen reports.
type seenObserver struct {
	daemon.NopObserver
	seen []int
}

func (o *seenObserver) Seen(n int) { o.seen = append(o.seen, n) }

// The poll loop waits what the source's Pacer says, found on the source
// itself; a source without one is polled at the interval.
func TestMirrorAsksTheSourcesPacer(t *testing.T) {
	waits, _ := runPolls(t, &fakeSource{}, time.Minute, 2)
	if !slices.Equal(waits, []time.Duration{time.Minute, time.Minute}) {
		t.Errorf("waits without a Pacer %v, want the interval", waits)
	}
	m := pacedSource{fakeSource: &fakeSource{}, wait: 7 * time.Minute}
	store := statefile.New(t.TempDir() + "/state.json")
	defer store.Close()
	seen := make(chan time.Duration)
	clock := &fakeAfter{seen: seen, release: make(chan time.Time)}
	mirror := mirrorWith(t, daemon.Config{Source: m, Sink: &fakeSink{}, Store: store, PollInterval: time.Minute, After: clock.After})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mirror.Run(ctx) }()
	if d := <-seen; d != 7*time.Minute {
		t.Errorf("wait %s with a Pacer asking 7m", d)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A sink's Sanitizer cleans each status before it is cut to length, so
// that what it drops does not count; a status empty once cleaned is
// skipped as empty. A sink without one gets the text as rendered.
func TestMirrorCleansWithTheSinksSanitizer(t *testing.T) {
	for _, tt := range []struct {
		name string
		sink func(*fakeSink) daemon.Sink
		want []string
		skip int
	}{
		{"with", func(f *fakeSink) daemon.Sink { return cleaningSink{f} }, []string{"abc", "ok"}, 1},
		{"without", func(f *fakeSink) daemon.Sink { return f }, []string{"~~~…", "~~~", "ok"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			src := &fakeSource{}
			sink := &fakeSink{}
			obs := newRecObserver()
			r, err := daemon.NewRenderer("{{.Text}}", 4)
			if err != nil {
				t.Fatal(err)
			}
			m := mirrorWith(t, daemon.Config{Source: src, Sink: tt.sink(sink), Store: statefile.New(t.TempDir() + "/state.json"), Renderer: r, Observer: obs})
			queue(t, m, src)
			src.add(post(1, "~~~abc"), post(2, "~~~"), post(3, "ok"))
			if _, err := m.PollOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := m.DeliverOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if got := sink.got(); !slices.Equal(got, tt.want) {
				t.Errorf("statuses %q, want %q", got, tt.want)
			}
			if obs.skipped["empty"] != tt.skip {
				t.Errorf("skips %v, want %d empty", obs.skipped, tt.skip)
			}
		})
	}
}

// Without a CursorOrder the mirror takes the source at its word: it
// warns of no cursor ahead, moves the cursor to each post's own, and a
// claim of `r2sync post` stays until its post is seen.
func TestMirrorWithoutCursorOrder(t *testing.T) {
	ctx := context.Background()
	f := &fakeSource{}
	f.add(post(1000, "newest before the start"))
	store := statefile.New(t.TempDir() + "/state.json")
	defer store.Close()
	sink := &fakeSink{}
	log, logged := logs()
	m := mirrorWith(t, daemon.Config{Source: unorderedSource{f}, Sink: sink, Store: store, Logger: log})
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// A claim the cursor passes without its post: with an order it would
	// be forgotten; without one it must stay.
	if _, err := store.Update(ctx, func(s *daemon.State) error {
		s.Posted = append(s.Posted, daemon.PostRef{Source: daemon.DefaultSourceName, ID: "1001", Cursor: "1001"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.add(post(1002, "b"), post(1003, "c"))
	if n, err := m.PollOnce(ctx); err != nil || n != 2 {
		t.Fatalf("PollOnce = %d, %v", n, err)
	}
	st, _ := store.Load(ctx)
	if cursorOf(st) != "1003" || len(st.Posted) != 1 {
		t.Errorf("state %+v: want the cursor at 1003 and the claim kept", st)
	}
	if logged.FilterMessageSnippet("ahead").Len() != 0 {
		t.Error("warned of a cursor ahead without an order to tell")
	}
	// With the order the same claim is pruned.
	ordered := mirrorWith(t, daemon.Config{Source: f, Sink: sink, Store: store})
	f.add(post(1004, "d"))
	if _, err := ordered.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := store.Load(ctx); len(st.Posted) != 0 {
		t.Errorf("claim behind the cursor kept with an order: %+v", st.Posted)
	}
}

// A cursor in the state that the source does not read stops the mirror
// with a fatal error naming it and the way out, before any fetch.
func TestMirrorStopsOnAForeignCursor(t *testing.T) {
	store := statefile.New(t.TempDir() + "/state.json")
	defer store.Close()
	if _, err := store.Update(context.Background(), func(s *daemon.State) error {
		s.Initialized, s.Cursors = true, map[string]string{daemon.DefaultSourceName: "AZ9x"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{}
	m := mirrorWith(t, daemon.Config{Source: src, Sink: &fakeSink{}, Store: store})
	err := m.Run(context.Background())
	var ce *daemon.CursorError
	if !errors.As(err, &ce) || !daemon.IsFatal(err) || ce.Cursor != "AZ9x" || !strings.Contains(err.Error(), "r2sync state reset") {
		t.Fatalf("Run = %v, want a fatal CursorError", err)
	}
	if src.calls != 0 {
		t.Errorf("%d fetches with a foreign cursor", src.calls)
	}
}

// The mirror reports how many posts each fetch returned, the source
// itself never wrapped for it.
func TestMirrorReportsPostsSeen(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{}
	obs := &seenObserver{}
	m := mirrorWith(t, daemon.Config{Source: src, Sink: &fakeSink{}, Store: statefile.New(t.TempDir() + "/state.json"), Observer: obs})
	queue(t, m, src) // two polls of an empty timeline
	src.add(post(1, "a"), post(2, "b"))
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(obs.seen, []int{0, 0, 2, 0}) {
		t.Errorf("seen %v, want 0, 0, 2, 0", obs.seen)
	}
}
