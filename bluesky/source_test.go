package bluesky_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/bluesky"
	"github.com/r2sync/r2sync/bluesky/blueskytest"
	"github.com/r2sync/r2sync/daemon"
)

const (
	aliceHandle = "alice.test"
	alicePass   = "abcd-efgh-ijkl-mnop"
)

type env struct {
	srv   *blueskytest.Server
	alice string // DID
	bob   string
	c     *bluesky.Client
}

func newEnv(t *testing.T, mod func(*bluesky.Options)) *env {
	t.Helper()
	srv := blueskytest.New()
	t.Cleanup(srv.Close)
	e := &env{srv: srv, alice: srv.AddAccount(aliceHandle, alicePass), bob: srv.AddAccount("bob.test", "bob-pass")}
	opts := bluesky.Options{
		Handle:       aliceHandle,
		AppView:      srv.URL,
		PLCDirectory: srv.PLCURL,
		Jetstream:    srv.JetstreamURL,
		AppPassword:  alicePass,
		Timeout:      5 * time.Second,
		PingPeriod:   200 * time.Millisecond,
		ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 200 * time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := bluesky.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return e
}

func (e *env) post(t *testing.T, did string, p blueskytest.Post) blueskytest.Ref {
	t.Helper()
	r, err := e.srv.CreatePost(did, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func texts(posts []daemon.Post) string {
	var s []string
	for _, p := range posts {
		s = append(s, p.Text)
	}
	return strings.Join(s, " | ")
}

func TestSinceClassifiesOwnPosts(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	start := e.post(t, e.alice, blueskytest.Post{Text: "before"})
	bobs := e.post(t, e.bob, blueskytest.Post{Text: "bob's post"})
	cjk := "看看 🎉 example.com/a… 和 example.org/b…"
	e.post(t, e.alice, blueskytest.Post{Text: cjk, Facets: []blueskytest.Facet{
		blueskytest.LinkFacet(cjk, "example.com/a…", "https://example.com/a/full"),
		blueskytest.LinkFacet(cjk, "example.org/b…", "https://example.org/b/full"),
	}})
	e.post(t, e.alice, blueskytest.Post{Text: "to bob", ReplyTo: bobs.URI})
	thread := e.post(t, e.alice, blueskytest.Post{Text: "thread 1/2 #go", Facets: []blueskytest.Facet{blueskytest.TagFacet("thread 1/2 #go", "go")}})
	e.post(t, e.alice, blueskytest.Post{Text: "thread 2/2", ReplyTo: thread.URI})
	if _, err := e.srv.Repost(e.alice, bobs.URI); err != nil {
		t.Fatal(err)
	}
	e.post(t, e.alice, blueskytest.Post{Text: "quoting", Quote: bobs.URI})
	e.srv.Pin(e.alice, start.URI)

	posts, err := e.c.Since(ctx, start.RKey)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		text          string
		reply, repost bool
	}{
		{"看看 🎉 https://example.com/a/full 和 https://example.org/b/full", false, false},
		{"to bob", true, false},
		{"thread 1/2 #go", false, false},
		{"thread 2/2", false, false},
		{"RT @bob.test: bob's post", false, true},
		{"quoting", false, false},
	}
	if len(posts) != len(want) {
		t.Fatalf("got %d posts (%s), want %d", len(posts), texts(posts), len(want))
	}
	for i, w := range want {
		p := posts[i]
		if p.Text != w.text || p.Reply != w.reply || p.Repost != w.repost {
			t.Errorf("post %d = %q reply=%v repost=%v; want %q reply=%v repost=%v", i, p.Text, p.Reply, p.Repost, w.text, w.reply, w.repost)
		}
		if i > 0 && p.Cursor <= posts[i-1].Cursor {
			t.Errorf("post %d cursor %s not after %s", i, p.Cursor, posts[i-1].Cursor)
		}
		if p.Author != aliceHandle || p.CreatedAt.IsZero() {
			t.Errorf("post %d author %q created %v", i, p.Author, p.CreatedAt)
		}
	}
	if got := posts[2].Hashtags; len(got) != 1 || got[0] != "go" {
		t.Errorf("hashtags = %v, want [go]", got)
	}
	if !strings.HasPrefix(posts[0].URL, "https://bsky.app/profile/alice.test/post/") {
		t.Errorf("url = %q", posts[0].URL)
	}

	newest, err := e.c.Newest(ctx)
	if err != nil || newest != posts[len(posts)-1].Cursor {
		t.Errorf("Newest = %q, %v; want %q", newest, err, posts[len(posts)-1].Cursor)
	}
	if again, err := e.c.Since(ctx, newest); err != nil || len(again) != 0 {
		t.Errorf("Since(newest) = %s, %v; want nothing", texts(again), err)
	}
}

// TestSincePagesBack: 250 posts since the cursor span four pages (a
// small first one, then full ones); all come back, oldest first, once.
func TestSincePagesBack(t *testing.T) {
	e := newEnv(t, nil)
	first := e.post(t, e.alice, blueskytest.Post{Text: "seen"})
	for i := range 250 {
		e.post(t, e.alice, blueskytest.Post{Text: "p" + time.Duration(i).String()})
	}
	posts, err := e.c.Since(context.Background(), first.RKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 250 || posts[0].Text != "p0s" || posts[249].Text != "p249ns" {
		t.Fatalf("got %d posts, first %q", len(posts), posts[0].Text)
	}
	if n := e.srv.Requests("app.bsky.feed.getAuthorFeed"); n != 4 {
		t.Errorf("%d feed requests, want 4 (10, 100, 100, 41 items)", n)
	}
	if u := e.c.Usage(); u.Requests != 5 || u.ReadRequests != 5 || u.PostsRead < 250 {
		t.Errorf("usage %+v, want 5 requests (resolveHandle and 4 pages) and at least 250 posts read", u)
	}
	if rl := e.c.RateLimit(); rl.Limit != 3000 || rl.Remaining != 3000-5 || rl.Reset.Before(time.Now()) {
		t.Errorf("rate limit %+v", rl)
	}
	recent, err := e.c.Recent(context.Background(), 3)
	if err != nil || texts(recent) != "p247ns | p248ns | p249ns" {
		t.Errorf("Recent(3) = %s, %v", texts(recent), err)
	}
}

func TestNewestEmptyAndUnknownAccount(t *testing.T) {
	e := newEnv(t, nil)
	if n, err := e.c.Newest(context.Background()); err != nil || n != "" {
		t.Errorf("Newest of an empty account = %q, %v", n, err)
	}
	e2 := newEnv(t, func(o *bluesky.Options) { o.Handle = "nobody.test" })
	_, err := e2.c.Since(context.Background(), "")
	var xe *bluesky.XRPCError
	if !errors.As(err, &xe) || xe.Name != "InvalidRequest" || !xe.Permanent() {
		t.Fatalf("unknown handle: err = %v", err)
	}
	if _, err := e.c.Since(context.Background(), "not-a-tid"); err == nil {
		t.Error("Since accepted a cursor that is no TID")
	}
}

func TestVerify(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, err := e.c.Verify(ctx)
	if err != nil || a.ID != e.alice || a.Handle != aliceHandle {
		t.Fatalf("Verify = %+v, %v", a, err)
	}
	if n := e.srv.Requests("com.atproto.server.createSession"); n != 1 {
		t.Errorf("Verify with an app password made %d sessions, want 1", n)
	}
	byDID := e
	c, err := bluesky.New(bluesky.Options{DID: byDID.alice, AppView: byDID.srv.URL, PLCDirectory: byDID.srv.PLCURL})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := c.Verify(ctx); err != nil || a.Handle != aliceHandle || a.ID != byDID.alice {
		t.Errorf("Verify by did = %+v, %v", a, err)
	}
	c, _ = bluesky.New(bluesky.Options{DID: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", AppView: byDID.srv.URL, PLCDirectory: byDID.srv.PLCURL})
	if _, err := c.Verify(ctx); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown did: %v", err)
	}
	c, _ = bluesky.New(bluesky.Options{DID: byDID.bob, Handle: aliceHandle, AppView: byDID.srv.URL, PLCDirectory: byDID.srv.PLCURL})
	if _, err := c.Verify(ctx); err == nil {
		t.Error("Verify accepted a handle and did of two accounts")
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]bluesky.Options{
		"no account":   {},
		"bad did":      {DID: "did:key:zzz"},
		"ftp appview":  {Handle: "a.test", AppView: "ftp://x"},
		"http stream":  {Handle: "a.test", Jetstream: "https://x/subscribe"},
		"relative pds": {Handle: "a.test", PDS: "/x"},
	} {
		if _, err := bluesky.New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
