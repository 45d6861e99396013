package bluesky_test

import (
	"context"
	"testing"
	"time"

	"github.com/r2sync/r2sync/bluesky"
	"github.com/r2sync/r2sync/bluesky/blueskytest"
	"github.com/r2sync/r2sync/daemon"
)

// pushes records what Stream pushes: nil for a connect, else the post.
type pushes chan *daemon.Post

func (p pushes) push(ctx context.Context, posts []daemon.Post) error {
	if posts == nil {
		p <- nil
		return nil
	}
	for i := range posts {
		p <- &posts[i]
	}
	return nil
}

func startStream(t *testing.T, e *env) pushes {
	t.Helper()
	s, ok := e.c.Source().(*bluesky.Streaming)
	if !ok {
		t.Fatal("Source() with a Jetstream URL is not a Streaming")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := make(pushes, 100)
	done := make(chan error)
	go func() { done <- s.Stream(ctx, p.push) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Stream returned %v, want context.Canceled", err)
		}
	})
	return p
}

// next waits for the next push.
func (p pushes) next(t *testing.T) *daemon.Post {
	t.Helper()
	select {
	case x := <-p:
		return x
	case <-time.After(10 * time.Second):
		t.Fatal("no push within 10s")
		return nil
	}
}

func (p pushes) wantConnect(t *testing.T) {
	t.Helper()
	if x := p.next(t); x != nil {
		t.Fatalf("got post %q, want the connect push", x.Text)
	}
}

func (p pushes) wantPost(t *testing.T, text string) *daemon.Post {
	t.Helper()
	x := p.next(t)
	if x == nil || x.Text != text {
		t.Fatalf("got %v, want post %q", x, text)
	}
	return x
}

func TestStreamPushesOwnCreatesOnly(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.SetIgnoreWantedDids(true) // our own DID check must hold
	p := startStream(t, e)
	p.wantConnect(t)
	bobs := e.post(t, e.bob, blueskytest.Post{Text: "bob"})
	text := "日本 example.com/x…"
	r := e.post(t, e.alice, blueskytest.Post{Text: text, Facets: []blueskytest.Facet{blueskytest.LinkFacet(text, "example.com/x…", "https://example.com/x/full")}})
	got := p.wantPost(t, "日本 https://example.com/x/full")
	if got.Cursor != r.RKey || got.Reply {
		t.Errorf("pushed %+v", got)
	}
	if err := e.srv.Edit(r.URI, "edited"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Delete(r.URI); err != nil {
		t.Fatal(err)
	}
	e.srv.Identity(e.alice)
	e.post(t, e.alice, blueskytest.Post{Text: "reply", ReplyTo: bobs.URI})
	if got := p.wantPost(t, "reply"); !got.Reply {
		t.Error("reply to bob not a Reply")
	}
}

func TestStreamClosedReconnectsAndResumes(t *testing.T) {
	e := newEnv(t, nil)
	p := startStream(t, e)
	p.wantConnect(t)
	e.post(t, e.alice, blueskytest.Post{Text: "one"})
	p.wantPost(t, "one")
	e.srv.CloseStreams()
	p.wantConnect(t)
	e.post(t, e.alice, blueskytest.Post{Text: "two"})
	// Resuming a few seconds back replays "one" (the mirror's cursor
	// drops it); nothing else comes before "two".
	for {
		x := p.next(t)
		if x == nil || x.Text != "one" && x.Text != "two" {
			t.Fatalf("after reconnect got %v", x)
		}
		if x.Text == "two" {
			break
		}
	}
	if n := e.srv.Requests("subscribe"); n != 2 {
		t.Errorf("%d subscriptions, want 2", n)
	}
}

// TestStreamSilentIsNoticed: a stream that stops answering pings is
// given up within two ping periods (plus the reconnect backoff).
func TestStreamSilentIsNoticed(t *testing.T) {
	const period = 200 * time.Millisecond // newEnv's
	e := newEnv(t, nil)
	p := startStream(t, e)
	p.wantConnect(t)
	dials := e.srv.Dials()
	start := time.Now()
	e.srv.SetSilent(true)
	deadline := start.Add(10 * time.Second)
	for e.srv.Dials() == dials {
		if time.Now().After(deadline) {
			t.Fatal("silent stream never noticed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := time.Since(start); d > 2*period+200*time.Millisecond+100*time.Millisecond {
		t.Errorf("silence noticed after %v, want within two ping periods plus backoff", d)
	}
	e.post(t, e.alice, blueskytest.Post{Text: "during silence"})
	e.srv.SetSilent(false)
	p.wantConnect(t)
}

func TestStreamDownThenBack(t *testing.T) {
	e := newEnv(t, nil)
	p := startStream(t, e)
	p.wantConnect(t)
	e.post(t, e.alice, blueskytest.Post{Text: "before"})
	p.wantPost(t, "before")
	e.srv.SetDown(true)
	for i := range 3 {
		e.post(t, e.alice, blueskytest.Post{Text: "down " + string(rune('a'+i))})
	}
	e.srv.SetDown(false)
	p.wantConnect(t)
	// Replay from the last time_us minus a few seconds brings the posts
	// made while down, in order.
	var got []string
	for len(got) < 3 {
		x := p.next(t)
		if x != nil && x.Text != "before" {
			got = append(got, x.Text)
		}
	}
	if got[0] != "down a" || got[1] != "down b" || got[2] != "down c" {
		t.Errorf("after down got %v", got)
	}
}

func TestSourceWithoutJetstreamIsNoStreamer(t *testing.T) {
	e := newEnv(t, func(o *bluesky.Options) { o.Jetstream = "" })
	if _, ok := e.c.Source().(interface {
		Stream(context.Context, func(context.Context, []daemon.Post) error) error
	}); ok {
		t.Error("poll-only source streams")
	}
}

// TestStreamRepostInOrder: a repost comes on the stream between the
// posts around it, so that pushing the later post cannot move the
// mirror's cursor past a repost it never saw.
func TestStreamRepostInOrder(t *testing.T) {
	e := newEnv(t, nil)
	p := startStream(t, e)
	p.wantConnect(t)
	bobs := e.post(t, e.bob, blueskytest.Post{Text: "by bob"})
	e.post(t, e.alice, blueskytest.Post{Text: "before"})
	rp, err := e.srv.Repost(e.alice, bobs.URI)
	if err != nil {
		t.Fatal(err)
	}
	e.post(t, e.alice, blueskytest.Post{Text: "after"})
	first := p.wantPost(t, "before")
	rt := p.wantPost(t, "RT @bob.test: by bob")
	last := p.wantPost(t, "after")
	if !rt.Repost || rt.Cursor != rp.RKey || !(first.Cursor < rt.Cursor && rt.Cursor < last.Cursor) {
		t.Errorf("repost %+v between %s and %s", rt, first.Cursor, last.Cursor)
	}
	// The poll gives the same cursor for it.
	posts, err := e.c.Since(context.Background(), first.Cursor)
	if err != nil || len(posts) != 2 || posts[0].Cursor != rt.Cursor || posts[0].Text != rt.Text {
		t.Errorf("Since = %+v, %v", posts, err)
	}
}

// TestStreamSlowPollIsNotSilence: the poll after a connect may take
// longer than a ping period; pongs are still read meanwhile, so the
// stream is not taken for silent and redialled.
func TestStreamSlowPollIsNotSilence(t *testing.T) {
	e := newEnv(t, nil) // ping period 200 ms
	s := e.c.Source().(*bluesky.Streaming)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 10)
	done := make(chan error)
	polls := 0
	go func() {
		done <- s.Stream(ctx, func(ctx context.Context, posts []daemon.Post) error {
			if posts == nil {
				polls++
				if polls == 1 {
					select { // a poll of three ping periods
					case <-time.After(600 * time.Millisecond):
					case <-ctx.Done():
					}
				}
				got <- "poll"
				return nil
			}
			got <- posts[0].Text
			return nil
		})
	}()
	defer func() { cancel(); <-done }()
	if x := <-got; x != "poll" {
		t.Fatalf("got %q first", x)
	}
	e.post(t, e.alice, blueskytest.Post{Text: "after a slow poll"})
	select {
	case x := <-got:
		if x != "after a slow poll" {
			t.Fatalf("got %q: the stream reconnected", x)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no post")
	}
	if n := e.srv.Requests("subscribe"); n != 1 {
		t.Errorf("%d subscriptions, want 1", n)
	}
}
