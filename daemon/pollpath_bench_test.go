package daemon_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// benchSource serves, after any cursor, the batch of posts set last: a
// timeline whose new posts the benchmark controls without it growing.
type benchSource struct {
	mu    sync.Mutex
	next  int64
	batch []daemon.Post
}

// arrive makes n new posts the source's answer.
func (s *benchSource) arrive(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch = s.batch[:0]
	for range n {
		s.next++
		id := strconv.FormatInt(s.next, 10)
		s.batch = append(s.batch, daemon.Post{ID: id, Cursor: id, Author: "me",
			Text: "a post of ordinary length, with a link https://example.com/" + id + " and #tags"})
	}
}

func (s *benchSource) Since(_ context.Context, cursor string) ([]daemon.Post, error) {
	since, err := cursorNumber(cursor)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []daemon.Post
	for _, p := range s.batch {
		if n, _ := cursorNumber(p.Cursor); n > since {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *benchSource) Newest(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strconv.FormatInt(s.next, 10), nil
}

func (s *benchSource) CompareCursors(a, b string) (int, error) {
	return (&fakeSource{}).CompareCursors(a, b)
}

type nopSink struct{ n int }

func (s *nopSink) SetStatus(context.Context, string) error { s.n++; return nil }

// nopOnlineSink is a nopSink whose session is always up: the poll sends.
type nopOnlineSink struct{ nopSink }

func (*nopOnlineSink) Online() bool { return true }

// counted is what both sinks are.
type counted interface {
	daemon.Sink
	count() int
}

func (s *nopSink) count() int { return s.n }

// BenchmarkPollDeliver is one poll → render → send round of the mirror
// with 0 and with 20 new posts, on the real state file (its fsyncs
// included) and a sink that costs nothing: r2sync's own work per poll.
// path=direct is the poll sending at once (an online sink), path=queue
// the queue and the deliverer (offline, or a sink that cannot tell).
func BenchmarkPollDeliver(b *testing.B) {
	for _, path := range []string{"direct", "queue"} {
		for _, n := range []int{0, 20} {
			b.Run(fmt.Sprintf("path=%s/posts=%d", path, n), func(b *testing.B) { benchPollDeliver(b, path == "direct", n) })
		}
	}
}

func benchPollDeliver(b *testing.B, direct bool, n int) {
	ctx := context.Background()
	var sink counted = &nopSink{}
	if direct {
		sink = &nopOnlineSink{}
	}
	src := &benchSource{}
	store := statefile.New(b.TempDir() + "/state.json")
	defer store.Close()
	r, err := daemon.NewRenderer("{{.Text}}", 140)
	if err != nil {
		b.Fatal(err)
	}
	m := daemon.NewMirror(daemon.Config{Source: src, Sink: sink, Store: store, Renderer: r, PollInterval: time.Hour})
	if err := m.Init(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		src.arrive(n)
		b.StartTimer()
		if _, err := m.PollOnce(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := m.DeliverOnce(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if want := n * b.N; sink.count() != want {
		b.Fatalf("%d statuses sent, want %d", sink.count(), want)
	}
}

// readCounter counts a Store's reads.
type readCounter struct {
	*statefile.Store
	reads int
}

func (s *readCounter) Load(ctx context.Context) (daemon.State, error) {
	s.reads++
	return s.Store.Load(ctx)
}

func (s *readCounter) LoadFront(ctx context.Context, n int) (daemon.State, int, error) {
	s.reads++
	return s.Store.LoadFront(ctx, n)
}

// An idle poll reads the state file once (a lock, the pointer file, a
// stat of the journal): it is most of an idle poll's own system calls.
func TestIdlePollReadsStateOnce(t *testing.T) {
	ctx := context.Background()
	store := &readCounter{Store: statefile.New(t.TempDir() + "/state.json")}
	defer store.Close()
	r, err := daemon.NewRenderer("{{.Text}}", 140)
	if err != nil {
		t.Fatal(err)
	}
	src := &benchSource{}
	m := daemon.NewMirror(daemon.Config{Source: src, Sink: &nopOnlineSink{}, Store: store, Renderer: r, PollInterval: time.Hour})
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for poll := range 3 {
		store.reads = 0
		if _, err := m.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if store.reads != 1 {
			t.Errorf("idle poll %d read the state %d times, want 1", poll, store.reads)
		}
	}
}
