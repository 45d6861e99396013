package mastodon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/mastodon/mastodontest"
)

// pushes records a Streamer's pushes; nil posts are a poll request.
// With src set it answers a poll request as the mirror does, with
// Since(cursor), and records what the poll returned as the next call.
type pushes struct {
	mu     sync.Mutex
	calls  [][]daemon.Post
	ch     chan struct{}
	src    *Source
	cursor string
	inited bool
}

func newPushes() *pushes { return &pushes{ch: make(chan struct{}, 1000)} }

func (p *pushes) push(ctx context.Context, posts []daemon.Post) error {
	p.mu.Lock()
	defer func() {
		p.mu.Unlock()
		p.ch <- struct{}{}
	}()
	if posts != nil && p.src != nil && p.inited {
		// Pushed posts: the mirror takes those past its cursor only.
		var taken []daemon.Post
		for _, q := range posts {
			if c, err := p.src.CompareCursors(q.Cursor, p.cursor); err == nil && (p.cursor == "" || c > 0) {
				taken = append(taken, q)
				p.cursor = q.Cursor
			}
		}
		p.calls = append(p.calls, taken)
		return nil
	}
	p.calls = append(p.calls, posts)
	if posts != nil || p.src == nil {
		return nil
	}
	if !p.inited {
		// The mirror's first start: only posts after the newest count.
		newest, err := p.src.Newest(ctx)
		if err != nil {
			return err
		}
		p.cursor, p.inited = newest, true
	}
	got, err := p.src.Since(ctx, p.cursor)
	if err != nil {
		return err
	}
	if len(got) > 0 {
		p.calls = append(p.calls, got)
		p.cursor = got[len(got)-1].Cursor
	}
	return nil
}

// wait waits until cond holds for the pushes so far.
func (p *pushes) wait(t *testing.T, what string, cond func(calls [][]daemon.Post) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		ok := cond(p.calls)
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.ch:
		case <-deadline:
			p.mu.Lock()
			defer p.mu.Unlock()
			t.Fatalf("timed out waiting for %s; pushes: %v", what, p.calls)
		}
	}
}

func polls(calls [][]daemon.Post) int {
	n := 0
	for _, c := range calls {
		if c == nil {
			n++
		}
	}
	return n
}

func pushedIDs(calls [][]daemon.Post) []string {
	var ids []string
	for _, c := range calls {
		for _, p := range c {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

func startStream(t *testing.T, s *Source) (*pushes, func()) {
	t.Helper()
	p := newPushes()
	p.src = s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Streaming().Stream(ctx, p.push) }()
	return p, func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Stream returned %v, want context.Canceled", err)
		}
	}
}

func TestStreamPushesOwnStatusesOnly(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{Heartbeat: 50 * time.Millisecond})
	defer srv.Close()
	bob := srv.AddAccount("bob")
	s := newSource(t, srv, nil)
	p, stop := startStream(t, s)
	defer stop()
	p.wait(t, "the poll after connect", func(c [][]daemon.Post) bool { return polls(c) == 1 })

	bobs := post(t, srv, mastodontest.NewStatus{Account: bob.ID, Text: "followed account"})
	post(t, srv, mastodontest.NewStatus{Account: bob.ID, Text: "followed account, private", Visibility: "private"})
	mine := post(t, srv, mastodontest.NewStatus{Text: "mine"})
	priv := post(t, srv, mastodontest.NewStatus{Text: "mine, private", Visibility: "private"})
	boost := post(t, srv, mastodontest.NewStatus{ReblogOf: bobs.ID})
	// Each event of the user's own makes the mirror poll; wait until it
	// has, so that the edit and delete below find a mirrored post.
	p.wait(t, "the boost", func(c [][]daemon.Post) bool {
		ids := pushedIDs(c)
		return len(ids) > 0 && ids[len(ids)-1] == boost.ID
	})
	if _, err := srv.Edit(mine.ID, "mine, edited"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Edit(bobs.ID, "bob edited"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Delete(mine.ID); err != nil {
		t.Fatal(err)
	}
	last := post(t, srv, mastodontest.NewStatus{Text: "last"})
	p.wait(t, "the last post", func(c [][]daemon.Post) bool {
		ids := pushedIDs(c)
		return len(ids) > 0 && ids[len(ids)-1] == last.ID
	})
	p.mu.Lock()
	ids := pushedIDs(p.calls)
	var got []daemon.Post
	for _, c := range p.calls {
		got = append(got, c...)
	}
	p.mu.Unlock()
	if want := []string{mine.ID, priv.ID, boost.ID, last.ID}; strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("pushed %v, want %v (only the user's own)", ids, want)
	}
	if got[0].Text != "mine" || got[0].Cursor != mine.ID {
		t.Errorf("pushed %+v", got[0])
	}
	if got[1].Skip != "visibility" || got[1].Text != "" || got[1].Visibility != "private" {
		t.Errorf("private pushed as %+v, want Skip visibility and no text", got[1])
	}
	if got[2].Text != "RT @bob: followed account" || !got[2].Repost {
		t.Errorf("boost pushed as %+v", got[2])
	}
	// A poll may bring the last post before the stream's edit and delete
	// events are read: wait for the counts.
	ec := s.EventCounts()
	for deadline := time.Now().Add(10 * time.Second); ec["foreign"] < 3 || ec["delete"] < 1; ec = s.EventCounts() {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ec["edit"] != 1 || ec["delete"] != 1 || ec["foreign"] != 3 {
		t.Errorf("event counts = %v, want 1 own edit, 1 own delete, 3 foreign (2 posts and an edit)", ec)
	}
}

// Two posts whose events arrive newest first are both taken, in order:
// an event makes the mirror poll rather than take the post, so its
// cursor never passes a post it has not seen.
func TestStreamTakesReorderedPostsInOrder(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{Heartbeat: 50 * time.Millisecond})
	defer srv.Close()
	s := newSource(t, srv, nil)
	p, stop := startStream(t, s)
	defer stop()
	p.wait(t, "the poll after connect", func(c [][]daemon.Post) bool { return polls(c) == 1 })
	a, b, err := srv.PostReordered(mastodontest.NewStatus{Text: "first"}, mastodontest.NewStatus{Text: "second"})
	if err != nil {
		t.Fatal(err)
	}
	p.wait(t, "both posts", func(c [][]daemon.Post) bool { return len(pushedIDs(c)) >= 2 })
	third := post(t, srv, mastodontest.NewStatus{Text: "third"})
	p.wait(t, "the third post", func(c [][]daemon.Post) bool {
		ids := pushedIDs(c)
		return ids[len(ids)-1] == third.ID
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	if got, want := strings.Join(pushedIDs(p.calls), ","), a.ID+","+b.ID+","+third.ID; got != want {
		t.Errorf("taken %s, want %s: every post once, in order", got, want)
	}
	if n := s.EventCounts()["reordered"]; n != 1 {
		t.Errorf("reordered events = %d, want 1", n)
	}
}

func TestStreamReconnectsAfterFaults(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{Heartbeat: 50 * time.Millisecond})
	defer srv.Close()
	s := newSource(t, srv, func(o *Options) {
		o.Heartbeat = 50 * time.Millisecond
		o.BackoffMin, o.BackoffMax = 10*time.Millisecond, 100*time.Millisecond
	})
	p, stop := startStream(t, s)
	defer stop()
	p.wait(t, "the first connect", func(c [][]daemon.Post) bool { return polls(c) == 1 })

	srv.CloseStreams()
	p.wait(t, "the poll after the server closed the stream", func(c [][]daemon.Post) bool { return polls(c) == 2 })

	srv.SetSilent(true)
	start := time.Now()
	// The silent stream is cut after two heartbeat periods; the new
	// connection is silent too, so wait for a second connect.
	deadline := time.Now().Add(10 * time.Second)
	for srv.StreamConnects() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if srv.StreamConnects() < 3 {
		t.Fatal("a silent stream was not reconnected")
	}
	if d := time.Since(start); d > 2*50*time.Millisecond+time.Second {
		t.Errorf("silence noticed after %v", d)
	}
	srv.SetSilent(false)
	p.wait(t, "a poll after silence", func(c [][]daemon.Post) bool { return polls(c) >= 3 })

	srv.Down()
	mine := post(t, srv, mastodontest.NewStatus{Text: "while down"})
	if err := srv.Up(); err != nil {
		t.Fatal(err)
	}
	n := func() int { p.mu.Lock(); defer p.mu.Unlock(); return polls(p.calls) }()
	p.wait(t, "the poll after the server came back", func(c [][]daemon.Post) bool { return polls(c) > n })
	after := post(t, srv, mastodontest.NewStatus{Text: "after"})
	p.wait(t, "a post after the outage", func(c [][]daemon.Post) bool {
		ids := pushedIDs(c)
		return len(ids) > 0 && ids[len(ids)-1] == after.ID
	})
	p.mu.Lock()
	if ids := strings.Join(pushedIDs(p.calls), ","); ids != mine.ID+","+after.ID {
		t.Errorf("taken %s, want the post made while down (from the poll after the reconnect) and then the one after, once each", ids)
	}
	p.mu.Unlock()
	if s.EventCounts()["reconnect"] < 3 {
		t.Errorf("reconnects = %v", s.EventCounts())
	}
}

// A hostile stream: an endless line is cut at the line cap and the
// stream reconnects; events split over many data lines are joined.
func TestStreamBoundsAndParsing(t *testing.T) {
	var mu sync.Mutex
	connects := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "verify_credentials") {
			fmt.Fprint(w, `{"id":"1","username":"me","acct":"me"}`)
			return
		}
		mu.Lock()
		connects++
		n := connects
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		if n == 1 {
			w.Write([]byte("event: update\ndata: "))
			chunk := []byte(strings.Repeat("x", 64<<10))
			for range 64 { // 4 MiB on one line
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			fl.Flush()
			<-r.Context().Done()
			return
		}
		fmt.Fprint(w, ":)\nevent: notification\ndata: {\"id\":\"1\"}\n\nevent: update\ndata: {broken\n\nevent: filters_changed\ndata: undefined\n\nevent: update\ndata: {\"id\":\"7\",\"visibility\":\"public\",\ndata: \"account\":{\"id\":\"1\",\"acct\":\"me\"},\"content\":\"<p>split</p>\"}\n\n")
		fl.Flush()
		<-r.Context().Done()
	})
	ts := httptest.NewServer(h)
	defer ts.Close()
	s, err := New(Options{Server: ts.URL, AccessToken: "t", Timeout: 5 * time.Second, BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// This server has no REST timeline: record the poll requests only.
	p := newPushes()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Streaming().Stream(ctx, p.push) }()
	defer func() { cancel(); <-done }()
	// A poll after each of the two connects, and one for the split
	// update; the broken one and the other kinds ask for none.
	p.wait(t, "the split event", func(c [][]daemon.Post) bool { return polls(c) == 3 })
	if !s.events.known("7") {
		t.Error("the update split over two data lines was not read")
	}
	if n := s.EventCounts()["unreadable"]; n != 1 {
		t.Errorf("unreadable events = %d, want 1 (the broken update; other kinds are ignored)", n)
	}
}

// The client assumes Mastodon's 15 s until it has measured the server's
// period; then a silent stream is cut after two of those periods.
func TestStreamLearnsHeartbeatPeriod(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{Heartbeat: 100 * time.Millisecond})
	defer srv.Close()
	s := newSource(t, srv, func(o *Options) { o.BackoffMin, o.BackoffMax = 10*time.Millisecond, 20*time.Millisecond })
	p, stop := startStream(t, s)
	defer stop()
	p.wait(t, "the first connect", func(c [][]daemon.Post) bool { return polls(c) == 1 })
	deadline := time.Now().Add(10 * time.Second)
	for s.Streaming().period() == DefaultHeartbeat && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.Streaming().period(); got < 90*time.Millisecond || got > time.Second {
		t.Fatalf("learned period %v, want about 100ms", got)
	}
	srv.SetSilent(true)
	start := time.Now()
	p.wait(t, "a reconnect after silence", func(c [][]daemon.Post) bool { return polls(c) >= 2 })
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("silence noticed after %v, want about 2 × 100ms", d)
	}
}

// A mirror slow to take a push in (a poll, a status on its way) is not
// a silent stream: the watchdog waits for it.
func TestStreamWaitsForSlowPush(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{Heartbeat: 20 * time.Millisecond})
	defer srv.Close()
	s := newSource(t, srv, func(o *Options) { o.Heartbeat = 20 * time.Millisecond })
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	pushed := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Streaming().Stream(ctx, func(ctx context.Context, posts []daemon.Post) error {
			if posts == nil {
				<-release // ten heartbeat periods and more
			}
			mu.Lock()
			got = append(got, fmt.Sprint(len(posts)))
			mu.Unlock()
			pushed <- struct{}{}
			return nil
		})
	}()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); srv.OpenStreams() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stream did not connect")
		}
	}
	time.Sleep(300 * time.Millisecond) // the push is slow on purpose
	close(release)
	<-pushed
	post(t, srv, mastodontest.NewStatus{Text: "after a slow push"})
	<-pushed
	mu.Lock()
	defer mu.Unlock()
	// Two poll requests (the connect's, the post's) on the one connection:
	// the slow first one did not make the stream look silent.
	if len(got) != 2 || got[0] != "0" || got[1] != "0" || srv.StreamConnects() != 1 {
		t.Errorf("pushes of %v posts on %d connections, want two poll requests on one", got, srv.StreamConnects())
	}
}

// The event-stream parser takes any bytes without panicking and pushes
// only posts with a valid id.
func FuzzStreamRead(f *testing.F) {
	f.Add([]byte(":)\nevent: update\ndata: {\"id\":\"7\",\"visibility\":\"public\",\"account\":{\"id\":\"1\"},\"content\":\"<p>x</p>\"}\n\n"))
	f.Add([]byte("event: delete\ndata: 7\n\n:thump\nevent: status.update\ndata: {}\n\n"))
	f.Add([]byte("data: a\ndata: b\n\nevent:\n\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := New(Options{Server: "http://127.0.0.1:1", AccessToken: "t"})
		if err != nil {
			t.Fatal(err)
		}
		var pushed []string
		c := &conn{own: "1", alive: func() {}, push: func(_ context.Context, posts []daemon.Post) error {
			for _, p := range posts {
				pushed = append(pushed, p.ID)
			}
			return nil
		}}
		_ = s.Streaming().read(context.Background(), strings.NewReader(string(in)), c)
		for _, id := range pushed {
			if checkID(id) != nil {
				t.Errorf("pushed a post with id %q", id)
			}
		}
	})
}

// capTransport caps every response body at n bytes, as a shared
// transport built for REST may.
type capTransport struct{ n int64 }

func (c capTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, c.n), resp.Body}
	}
	return resp, err
}

// The stream has its own transport: a REST transport that caps bodies
// does not cut it.
func TestStreamOutlivesABodyCappedTransport(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{Heartbeat: time.Second})
	defer srv.Close()
	s := newSource(t, srv, func(o *Options) { o.Transport = capTransport{16 << 10} })
	p, stop := startStream(t, s)
	p.mu.Lock()
	p.src = nil // record the poll requests only: the capped REST transport cannot serve the pages
	p.mu.Unlock()
	defer stop()
	p.wait(t, "the first connect", func(c [][]daemon.Post) bool { return polls(c) == 1 })
	for i := range 20 { // about 40 KiB of events
		post(t, srv, mastodontest.NewStatus{Text: fmt.Sprintf("post %d %s", i, strings.Repeat("x", 400))})
	}
	// One poll request per event, all on the first connection.
	p.wait(t, "all posts", func(c [][]daemon.Post) bool { return polls(c) == 21 })
	if n := srv.StreamConnects(); n != 1 {
		t.Errorf("%d stream connections, want 1", n)
	}
}
