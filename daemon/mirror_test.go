package daemon_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// fakeSource serves posts from a slice; tests append to it.
type fakeSource struct {
	mu    sync.Mutex
	posts []daemon.Post // oldest first
	err   error
	calls int
}

func (f *fakeSource) add(p ...daemon.Post) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts = append(f.posts, p...)
}

func (f *fakeSource) Since(_ context.Context, cursor string) ([]daemon.Post, error) {
	since, err := cursorNumber(cursor)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	var out []daemon.Post
	for _, p := range f.posts {
		if n, _ := cursorNumber(p.Cursor); n > since {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f *fakeSource) Newest(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	if len(f.posts) == 0 {
		return "", nil
	}
	return f.posts[len(f.posts)-1].Cursor, nil
}

// CompareCursors implements daemon.CursorOrder: the fake's cursors are
// post numbers, "" before every post.
func (f *fakeSource) CompareCursors(a, b string) (int, error) {
	x, err := cursorNumber(a)
	if err != nil {
		return 0, err
	}
	y, err := cursorNumber(b)
	if err != nil {
		return 0, err
	}
	return cmp.Compare(x, y), nil
}

func cursorNumber(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a post number", c)
	}
	return n, nil
}

// cursorOf is the fake source's cursor in st.
func cursorOf(st daemon.State) string {
	c, _ := st.Cursor(daemon.DefaultSourceName)
	return c
}

// started returns the cursors of a state whose fake source is at id.
func started(id int64) map[string]string {
	return map[string]string{daemon.DefaultSourceName: strconv.FormatInt(id, 10)}
}

// fakeSink records statuses; fail, when set, decides per call whether to fail.
type fakeSink struct {
	mu       sync.Mutex
	statuses []string
	fail     func(text string) error
	sent     chan string
}

func (f *fakeSink) SetStatus(_ context.Context, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(text); err != nil {
			return err
		}
	}
	f.statuses = append(f.statuses, text)
	if f.sent != nil {
		f.sent <- text
	}
	return nil
}

func (f *fakeSink) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.statuses)
}

func newMirror(t *testing.T, src daemon.Source, sink daemon.Sink, store daemon.Store, filter daemon.Filter) *daemon.Mirror {
	t.Helper()
	r, err := daemon.NewRenderer("{{.Text}}", 140)
	if err != nil {
		t.Fatal(err)
	}
	return daemon.NewMirror(daemon.Config{Source: src, Sink: sink, Store: store, Renderer: r, Filter: filter, PollInterval: time.Hour})
}

func post(id int64, text string) daemon.Post {
	s := strconv.FormatInt(id, 10)
	return daemon.Post{ID: s, Cursor: s, Text: text, Author: "me"}
}

func TestMirrorFirstStartDoesNotFlood(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{}
	src.add(post(1, "old one"), post(2, "old two"))
	sink := &fakeSink{}
	store := statefile.New(t.TempDir() + "/state.json")
	m := newMirror(t, src, sink, store, daemon.Filter{})

	if n, err := m.PollOnce(ctx); err != nil || n != 0 {
		t.Fatalf("first poll queued %d, err %v; want 0, nil", n, err)
	}
	src.add(post(3, "new"))
	if n, err := m.PollOnce(ctx); err != nil || n != 1 {
		t.Fatalf("second poll queued %d, err %v; want 1, nil", n, err)
	}
	if _, err := m.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := sink.got(), []string{"new"}; !slices.Equal(got, want) {
		t.Errorf("statuses %q, want %q", got, want)
	}
}

func TestMirrorFilters(t *testing.T) {
	reply := post(12, "@bob hi")
	reply.Reply = true
	self := post(13, "thread 2/2") // a reply to oneself is no Reply
	rt := post(14, "RT @carol: wow")
	rt.Repost = true
	tests := []struct {
		name   string
		filter daemon.Filter
		want   []string
	}{
		{name: "default", want: []string{"first", "thread 2/2", "last"}},
		{name: "replies", filter: daemon.Filter{IncludeReplies: true}, want: []string{"first", "@bob hi", "thread 2/2", "last"}},
		{name: "reposts", filter: daemon.Filter{IncludeReposts: true}, want: []string{"first", "thread 2/2", "RT @carol: wow", "last"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			src := &fakeSource{}
			src.add(post(10, "before"))
			sink := &fakeSink{}
			m := newMirror(t, src, sink, statefile.New(t.TempDir()+"/state.json"), tt.filter)
			if _, err := m.PollOnce(ctx); err != nil {
				t.Fatal(err)
			}
			src.add(post(11, "first"), reply, self, rt, post(15, "last"))
			if _, err := m.PollOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := m.DeliverOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if got := sink.got(); !slices.Equal(got, tt.want) {
				t.Errorf("statuses %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMirrorKeepsStatusesWhileSinkFails(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{}
	down := errors.New("session down")
	failing := true
	sink := &fakeSink{fail: func(string) error {
		if failing {
			return down
		}
		return nil
	}}
	store := statefile.New(t.TempDir() + "/state.json")
	m := newMirror(t, src, sink, store, daemon.Filter{})
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	src.add(post(1, "a"), post(2, "b"))
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DeliverOnce(ctx); !errors.Is(err, down) {
		t.Fatalf("DeliverOnce err = %v, want %v", err, down)
	}
	src.add(post(3, "c"))
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 3 || cursorOf(st) != "3" {
		t.Fatalf("state pending=%d cursor=%q, want 3 pending up to 3", len(st.Pending), cursorOf(st))
	}
	sink.mu.Lock()
	failing = false
	sink.mu.Unlock()
	if n, err := m.DeliverOnce(ctx); err != nil || n != 3 {
		t.Fatalf("DeliverOnce = %d, %v; want 3, nil", n, err)
	}
	if got, want := sink.got(), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("statuses %q, want %q", got, want)
	}
	st, _ = store.Load(ctx)
	if len(st.Pending) != 0 || st.Mirrored != 3 || st.LastMirrored == nil || st.LastMirrored.PostID != "3" {
		t.Errorf("state after delivery = %+v", st)
	}
}

func TestMirrorSkipsPostedByPostCommand(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{}
	sink := &fakeSink{}
	store := statefile.New(t.TempDir() + "/state.json")
	m := newMirror(t, src, sink, store, daemon.Filter{})
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// What `r2sync post` does: claim the post it created.
	src.add(post(5, "posted by hand"))
	if _, err := store.Update(ctx, func(s *daemon.State) error {
		s.Posted = append(s.Posted, daemon.PostRef{Source: daemon.DefaultSourceName, ID: "5", Cursor: "5"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	src.add(post(6, "later"))
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := sink.got(), []string{"later"}; !slices.Equal(got, want) {
		t.Errorf("statuses %q, want %q", got, want)
	}
	if st, _ := store.Load(ctx); len(st.Posted) != 0 {
		t.Errorf("posted list not pruned: %+v", st.Posted)
	}
}

func TestMirrorRunDeliversAndStops(t *testing.T) {
	src := &fakeSource{}
	src.add(post(1, "old"))
	sink := &fakeSink{sent: make(chan string, 10)}
	store := statefile.New(t.TempDir() + "/state.json")
	m := newMirror(t, src, sink, store, daemon.Filter{})
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	src.add(post(2, "fresh"))
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case got := <-sink.sent:
		if got != "fresh" {
			t.Errorf("status %q, want fresh", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no status within 10s")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestMirrorRunStopsOnCorruptState(t *testing.T) {
	path := t.TempDir() + "/state.json"
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := newMirror(t, &fakeSource{}, &fakeSink{}, statefile.New(path), daemon.Filter{})
	err := m.Run(context.Background())
	var corrupt *statefile.CorruptError
	if !errors.As(err, &corrupt) {
		t.Fatalf("Run = %v, want a CorruptError", err)
	}
}

func TestDeliverFinishesSendInFlight(t *testing.T) {
	src := &fakeSource{}
	started, release := make(chan struct{}), make(chan struct{})
	sink := &fakeSink{fail: func(string) error {
		close(started)
		<-release
		return nil
	}}
	store := statefile.New(t.TempDir() + "/state.json")
	m := newMirror(t, src, sink, store, daemon.Filter{})
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	src.add(post(1, "in flight"), post(2, "not started"))
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := m.DeliverOnce(ctx); done <- err }()
	<-started
	cancel() // SIGTERM while the server has the status but we have not recorded it
	close(release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("DeliverOnce = %v, want context.Canceled after the send in flight", err)
	}
	st, err := store.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 1 || st.Pending[0].PostID != "2" || st.Mirrored != 1 {
		t.Errorf("state %+v: want the status in flight recorded and the next one still pending", st)
	}
	if got := sink.got(); !slices.Equal(got, []string{"in flight"}) {
		t.Errorf("statuses %q", got)
	}
}
