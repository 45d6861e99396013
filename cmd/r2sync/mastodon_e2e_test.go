package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/mastodon/mastodontest"
	"github.com/r2sync/r2sync/renren/prosodytest"
)

// mastoToken is the user's Mastodon access token in every Mastodon
// end-to-end test; distinctive, so that a leak is easy to find.
const mastoToken = "masto-S3CRET-token"

// e2eHeartbeat is mastodontest's heartbeat period here: short, so that
// a silent stream is noticed (after two periods the daemon has measured)
// within a second rather than Mastodon's 30 s.
const e2eHeartbeat = 200 * time.Millisecond

// mastoWorld is a world whose source is mastodontest.
type mastoWorld struct {
	*world
	api *mastodontest.Server
	bob mastodontest.Account // an account the user follows
}

// newMastoWorld starts Prosody, the watcher and mastodontest, and writes
// a config with stream on or off and the given poll interval.
func newMastoWorld(t testing.TB, stream bool, poll string, extra string) *mastoWorld {
	t.Helper()
	p := prosodytest.Start(t, prosodytest.Options{
		Domain: "talk.xiaonei.com",
		Users:  map[string]string{"123456": userPassword, watcherName: watcherPass},
		Group:  []string{"123456", watcherName},
	})
	api := mastodontest.NewServer(mastodontest.Options{Token: mastoToken, Username: "alice", Heartbeat: e2eHeartbeat, RateLimit: -1})
	t.Cleanup(api.Close)
	w := &world{t: t, prosody: p, dir: t.TempDir()}
	w.watcher = p.Watch(t, watcherName, watcherPass)
	w.state = filepath.Join(w.dir, "state", "state.json")
	w.config = w.writeConfig("config.toml", fmt.Sprintf(`source = "mastodon"

[mastodon]
server = %q
access_token = %q
stream = %t
poll_interval = %q

[renren]
jid = %q
password = %q
address = %q
ca_file = %q
ping_interval = "30s"

[sync]
template = "[r2] {{.Text}}"

[state]
file = %q

[log]
level = "debug"
format = "json"
`, api.URL(), mastoToken, stream, poll, userJID, userPassword, p.Addr(), p.CAFile(), w.state)+extra)
	return &mastoWorld{world: w, api: api, bob: api.AddAccount("bob")}
}

// post makes a status on the server.
func (mw *mastoWorld) post(n mastodontest.NewStatus) mastodontest.Status {
	mw.t.Helper()
	st, err := mw.api.Post(n)
	if err != nil {
		mw.t.Fatal(err)
	}
	return st
}

// startMasto starts the daemon and waits for its first start to be
// recorded; with stream on, also for the stream to be open.
func (mw *mastoWorld) startMasto(stream bool) *daemonProc {
	mw.t.Helper()
	d := mw.start()
	mw.t.Cleanup(func() {
		if strings.Contains(d.out.String(), mastoToken) {
			mw.t.Error("the daemon's output contains the Mastodon access token")
		}
	})
	waitFor(mw.t, "first start to be recorded", 30*time.Second, func() bool { return mw.readState().Initialized })
	if stream {
		waitFor(mw.t, "the user stream to be open", 30*time.Second, func() bool { return mw.api.OpenStreams() > 0 })
	}
	return d
}

// The tweet-like script on Mastodon: what the user posts and what the
// watcher must see, in order. Replies to others and boosts are off by
// default; a self-thread is mirrored; a followed account's posts and
// private, direct and (by default) unlisted ones never are.
func (mw *mastoWorld) script() []string {
	orig := mw.post(mastodontest.NewStatus{Account: mw.bob.ID, Text: "a post by bob, whom alice follows"})
	first := mw.post(mastodontest.NewStatus{Text: "Tom & Jerry <3 <b>XMPP</b>"})
	mw.post(mastodontest.NewStatus{Text: "reading https://xmpp.org/rfcs/rfc6121.html#presence-and-more-presence today"})
	mw.post(mastodontest.NewStatus{Text: "#xmpp with @bob and #Go"})
	mw.post(mastodontest.NewStatus{Text: "@bob thanks!", InReplyToID: orig.ID})
	mw.post(mastodontest.NewStatus{ReblogOf: orig.ID})
	mw.post(mastodontest.NewStatus{Text: "followers only", Visibility: "private"})
	mw.post(mastodontest.NewStatus{Text: "@bob a secret", Visibility: "direct"})
	mw.post(mastodontest.NewStatus{Text: "not on the public timeline", Visibility: "unlisted"})
	mw.post(mastodontest.NewStatus{Text: "ネタバレ", SpoilerText: "a content warning"})
	mw.post(mastodontest.NewStatus{Account: mw.bob.ID, Text: "bob again"})
	mw.post(mastodontest.NewStatus{Text: "同步到人人网 🎉👨‍👩‍👧 https://example.com/日本/とても長いパス/ですね/本当に"})
	mw.post(mastodontest.NewStatus{Text: "and a thread of my own", InReplyToID: first.ID})
	return []string{
		"[r2] Tom & Jerry <3 <b>XMPP</b>",
		"[r2] reading https://xmpp.org/rfcs/rfc6121.html#presence-and-more-presence today",
		"[r2] #xmpp with @bob and #Go",
		"[r2] 同步到人人网 🎉👨‍👩‍👧 https://example.com/日本/とても長いパス/ですね/本当に",
		"[r2] and a thread of my own",
	}
}

func TestMastodonMirrorsOwnPostsOnce(t *testing.T) {
	for _, mode := range []struct {
		name   string
		stream bool
		poll   string
	}{
		// An hour between polls: whatever arrives came by the stream
		// (or the poll after it connected).
		{"stream", true, "1h"},
		{"poll", false, "1s"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			mw := newMastoWorld(t, mode.stream, mode.poll, "")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			mw.post(mastodontest.NewStatus{Text: "an old post from before r2sync"})
			d := mw.startMasto(mode.stream)
			want := mw.script()
			if got := mw.statuses(ctx, len(want)); !slices.Equal(got, want) {
				t.Fatalf("statuses\n got %q\nwant %q", got, want)
			}
			// A sentinel proves nothing else was queued before it.
			mw.post(mastodontest.NewStatus{Text: "sentinel"})
			want = append(want, "[r2] sentinel")
			if got := mw.statuses(ctx, len(want)); !slices.Equal(got, want) {
				t.Fatalf("statuses after the sentinel\n got %q\nwant %q", got, want)
			}
			d.stop(t)
		})
	}
}

// Each fault while 5 posts are made: the stream closed by the server,
// gone silent, the server down for 10 s. Every post arrives once, in
// order, after it is back; polling is hourly, so the stream's reconnect
// and the poll after it do the work.
func TestMastodonStreamFaults(t *testing.T) {
	t.Parallel()
	mw := newMastoWorld(t, true, "1h", "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := mw.startMasto(true)
	var want []string
	five := func(fault string, gap time.Duration) {
		for i := range 5 {
			text := fmt.Sprintf("%s %d", fault, i+1)
			mw.post(mastodontest.NewStatus{Text: text})
			want = append(want, "[r2] "+text)
			time.Sleep(gap) // the pace of posting over the fault, not a wait for a result
		}
	}
	check := func(fault string) {
		t.Helper()
		if got := mw.statuses(ctx, len(want)); !slices.Equal(got, want) {
			t.Fatalf("after %s: statuses\n got %q\nwant %q", fault, got, want)
		}
	}

	connects := mw.api.StreamConnects()
	mw.api.CloseStreams()
	five("closed", 0)
	check("the stream closed")
	if mw.api.StreamConnects() <= connects {
		t.Error("the daemon did not reconnect the closed stream")
	}

	// The daemon learns the heartbeat period from a connection's first
	// heartbeats; let it see three on the one open now.
	beats := mw.api.Heartbeats()
	waitFor(t, "three heartbeats on one stream", 30*time.Second, func() bool {
		return mw.api.OpenStreams() == 1 && mw.api.Heartbeats() >= beats+3
	})
	connects = mw.api.StreamConnects()
	mw.api.SetSilent(true)
	start := time.Now()
	five("silent", 0)
	check("the stream went silent")
	silentFor := time.Since(start)
	mw.api.SetSilent(false)
	if mw.api.StreamConnects() <= connects {
		t.Error("the daemon did not reconnect the silent stream")
	}

	mw.api.Down()
	start = time.Now()
	five("down", 2*time.Second)
	if err := mw.api.Up(); err != nil {
		t.Fatal(err)
	}
	down := time.Since(start)
	check("the server was down")
	back := time.Since(start) - down

	mw.post(mastodontest.NewStatus{Text: "sentinel"})
	want = append(want, "[r2] sentinel")
	check("the sentinel")
	t.Logf("silent stream recovered in %s; server down %s, all posts %s after it came back", silentFor.Round(time.Millisecond), down.Round(time.Millisecond), back.Round(time.Millisecond))
	d.stop(t)
}

// kill -9 during a stream of 30 posts, five times, then a restart: every
// post arrives, only the one in flight at a kill may come twice.
func TestMastodonKill9LosesNothing(t *testing.T) {
	t.Parallel()
	mw := newMastoWorld(t, true, "1h", "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := mw.startMasto(true)
	const total, kills = 30, 5
	var want []string
	for i := range total {
		want = append(want, fmt.Sprintf("post %02d", i))
	}
	added := make(chan struct{})
	go func() {
		defer close(added)
		for _, text := range want {
			if _, err := mw.api.Post(mastodontest.NewStatus{Text: text}); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(150 * time.Millisecond): // the pace of posting
			}
		}
	}()
	inFlight := map[string]bool{}
	for i := range kills {
		time.Sleep(time.Duration(300+i*170) * time.Millisecond) // a kill moment spread over the posts
		d = killAndRestart(t, d, mw.watcher, inFlight, func() *daemonProc { return mw.start() })
	}
	<-added
	for i := range want {
		want[i] = "[r2] " + want[i]
	}
	waitFor(t, "every post", 60*time.Second, func() bool {
		got, _ := dedupe(texts(mw.watcher.Statuses()))
		return len(got) >= total
	})
	waitFor(t, "the queue to drain", 30*time.Second, func() bool { return len(mw.readState().Pending) == 0 })
	got := texts(mw.watcher.Statuses())
	dups := checkOnceInOrder(t, got, want, inFlight, kills)
	t.Logf("%d posts, %d kill -9, %d statuses, %d repeated from a kill inside the send window", total, kills, len(got), len(dups))
	d.stop(t)
}

// `r2sync check` verifies the token; `r2sync post` posts to Mastodon
// with an Idempotency-Key and sets the status once, and the streaming
// daemon does not mirror that post again.
func TestMastodonCheckAndPost(t *testing.T) {
	t.Parallel()
	mw := newMastoWorld(t, true, "1h", "")
	code, stdout, stderr := r2sync(t, "check", "--config", mw.config)
	if code != 0 || !strings.Contains(stdout, "mastodon: ok, account @alice (id "+mw.api.Account().ID+")") {
		t.Fatalf("check exited %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	bad := mw.writeConfig("bad.toml", strings.Replace(readFile(t, mw.config), mastoToken, "masto-wrong-token", 1))
	code, stdout, stderr = r2sync(t, "check", "--config", bad)
	if code == 0 || !strings.Contains(stdout, "mastodon: FAILED") || !strings.Contains(stdout, "401") || strings.Contains(stdout+stderr, "masto-wrong-token") {
		t.Errorf("check with a wrong token exited %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := mw.startMasto(true)
	const msg = "hello from r2sync post & <friends> 你好 https://example.com/a/rather/long/path/to/something"
	code, stdout, stderr = r2sync(t, "post", "--config", mw.config, msg)
	if code != 0 {
		t.Fatalf("post exited %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, mastoToken) {
		t.Error("post's output contains the access token")
	}
	sts := mw.api.Statuses()
	if len(sts) != 1 || sts[0].Text() != msg || sts[0].Visibility != "public" {
		t.Fatalf("statuses on the server: %+v", sts)
	}
	keyed := false
	for _, r := range mw.api.Requests() {
		if r.Method == "POST" && r.Path == "/api/v1/statuses" && r.IdempotencyKey != "" && r.AccountID == mw.api.Account().ID {
			keyed = true
		}
	}
	if !keyed {
		t.Errorf("no authenticated POST /api/v1/statuses with an Idempotency-Key in %+v", mw.api.Requests())
	}
	mw.post(mastodontest.NewStatus{Text: "after post"})
	want := []string{"[r2] " + msg, "[r2] after post"}
	if got := mw.statuses(ctx, 2); !slices.Equal(got, want) {
		t.Fatalf("statuses %q, want %q: the posted status must not be mirrored again", got, want)
	}
	d.stop(t)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDemoMastodon(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := r2sync(t, "demo", "--source", "mastodon")
	if code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout, "→ status "); n != 4 {
		t.Errorf("demo shows %d statuses, want 4:\n%s", n, stdout)
	}
	for _, want := range []string{
		"and a thread of my own", "https://xmpp.org/rfcs/rfc6121.html#presence-syntax-children-status", "Tom & Jerry <3 #XMPP, thanks @bob", "同步到人人网",
		"not mirrored (not your account)", "not mirrored (visibility private", "is not mirrored (no flood", " ms\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	if code, _, stderr := r2sync(t, "demo", "--source", "myspace"); code == 0 || !strings.Contains(stderr, `--source "myspace"`) {
		t.Errorf("demo --source myspace exited %d: %s", code, stderr)
	}
}
