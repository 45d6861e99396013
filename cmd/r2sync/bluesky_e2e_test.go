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

	"github.com/r2sync/r2sync/bluesky/blueskytest"
)

// TestBlueskyScenarios: the tweet-like scenarios give exactly the
// expected statuses, in order, with Jetstream and with polling alone.
func TestBlueskyScenarios(t *testing.T) {
	for _, jetstream := range []bool{true, false} {
		t.Run(map[bool]string{true: "jetstream", false: "poll"}[jetstream], func(t *testing.T) {
			t.Parallel()
			w := newBskyWorld(t, jetstream, "1s", "")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			w.post(blueskytest.Post{Text: "old post from before"})
			d := w.started(jetstream)

			bobs, err := w.srv.CreatePost(w.bob, blueskytest.Post{Text: "bob on the firehose, never mine"})
			if err != nil {
				t.Fatal(err)
			}
			link := "reading xmpp.org/rfcs/rfc61… today"
			two := "同步 🎉👨‍👩‍👧 看 example.com/a/lo… 和 example.org/b…"
			w.post(blueskytest.Post{Text: "plain & <simple>"})
			w.post(blueskytest.Post{Text: link, Facets: []blueskytest.Facet{blueskytest.LinkFacet(link, "xmpp.org/rfcs/rfc61…", "https://xmpp.org/rfcs/rfc6121.html")}})
			w.post(blueskytest.Post{Text: "@bob.test thanks!", ReplyTo: bobs.URI})
			if _, err := w.srv.Repost(w.alice, bobs.URI); err != nil {
				t.Fatal(err)
			}
			w.post(blueskytest.Post{Text: "同步到人人网 🎉👨‍👩‍👧 测试"})
			head := w.post(blueskytest.Post{Text: "a thread 1/2"})
			w.post(blueskytest.Post{Text: "a thread 2/2", ReplyTo: head.URI})
			w.post(blueskytest.Post{Text: two, Facets: []blueskytest.Facet{
				blueskytest.LinkFacet(two, "example.com/a/lo…", "https://example.com/a/long/path"),
				blueskytest.LinkFacet(two, "example.org/b…", "https://example.org/b/full?x=1"),
			}})
			w.post(blueskytest.Post{Text: "sentinel"})
			want := []string{
				"plain & <simple>",
				"reading https://xmpp.org/rfcs/rfc6121.html today",
				"同步到人人网 🎉👨‍👩‍👧 测试",
				"a thread 1/2",
				"a thread 2/2",
				"同步 🎉👨‍👩‍👧 看 https://example.com/a/long/path 和 https://example.org/b/full?x=1",
				"sentinel",
			}
			if got := w.statuses(ctx, len(want)); !slices.Equal(got, want) {
				t.Fatalf("statuses\n got %q\nwant %q", got, want)
			}
			d.stop(t)
			if got := texts(w.watcher.Statuses()); !slices.Equal(got, want) {
				t.Errorf("after stop the statuses are %q", got)
			}
		})
	}
}

// TestBlueskyCheckAndPost: check verifies the account exists; post
// creates a record with link facets on the PDS and the daemon does not
// mirror it again.
func TestBlueskyCheckAndPost(t *testing.T) {
	t.Parallel()
	w := newBskyWorld(t, true, "1s", "")
	code, stdout, stderr := r2sync(t, "check", "--config", w.config)
	if code != 0 || !strings.Contains(stdout, bskyHandle) {
		t.Errorf("check exited %d\n%s%s", code, stdout, stderr)
	}
	w.checkNoSecrets(stdout + stderr)
	bad := filepath.Join(w.dir, "bad.toml")
	b, _ := os.ReadFile(w.config)
	os.WriteFile(bad, []byte(strings.Replace(string(b), `handle = "alice.test"`, `handle = "nobody.test"`, 1)), 0o600)
	if code, stdout, _ := r2sync(t, "check", "--config", bad); code != 1 || !strings.Contains(stdout, "FAILED") || !strings.Contains(stdout, "Unable to resolve handle") {
		t.Errorf("check of an unknown handle: exit %d\n%s", code, stdout)
	}

	wrongPass := filepath.Join(w.dir, "wrong_app_password")
	os.WriteFile(wrongPass, []byte("wrong-app-S3CRET\n"), 0o600)
	os.WriteFile(bad, []byte(strings.Replace(string(b), filepath.Join(w.dir, "bsky_app_password"), wrongPass, 1)), 0o600)
	if code, stdout, stderr := r2sync(t, "check", "--config", bad); code != 1 || !strings.Contains(stdout, "app password") || strings.Contains(stdout+stderr, "wrong-app-S3CRET") {
		t.Errorf("check with a wrong app password: exit %d\n%s%s", code, stdout, stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := w.started(true)
	const msg = "posted by r2sync 你好 https://example.com/p"
	code, stdout, stderr = r2sync(t, "post", "--config", w.config, msg)
	if code != 0 {
		t.Fatalf("post exited %d\n%s%s", code, stdout, stderr)
	}
	w.checkNoSecrets(stdout + stderr)
	if w.srv.Requests("com.atproto.repo.createRecord") != 1 {
		t.Errorf("%d createRecord calls", w.srv.Requests("com.atproto.repo.createRecord"))
	}
	w.post(blueskytest.Post{Text: "after post"})
	if got := w.statuses(ctx, 2); !slices.Equal(got, []string{msg, "after post"}) {
		t.Fatalf("statuses %q: the posted record must not be mirrored again", got)
	}
	d.stop(t)
}

// TestBlueskyStreamFaults: Jetstream closes, goes silent, or is down for
// 10 s while 5 posts are made; all 5 arrive once, in order, once it is
// back. Polling is slow (10m) so that only the stream and the poll after
// each reconnect can deliver them.
func TestBlueskyStreamFaults(t *testing.T) {
	faults := []struct {
		name    string
		fault   func(w *bskyWorld)
		recover func(w *bskyWorld)
	}{
		{"closed", func(w *bskyWorld) { w.srv.CloseStreams() }, func(*bskyWorld) {}},
		{"silent", func(w *bskyWorld) { w.srv.SetSilent(true) }, func(w *bskyWorld) {
			// Back once the daemon noticed the silence and dialled again
			// (within two 10 s ping periods).
			dials := w.srv.Dials()
			w.waitFor("the daemon to notice the silence", 40*time.Second, func() bool { return w.srv.Dials() > dials })
			w.srv.SetSilent(false)
		}},
		{"down 10s", func(w *bskyWorld) { w.srv.SetDown(true) }, func(w *bskyWorld) { w.srv.SetDown(false) }},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			w := newBskyWorld(t, true, "10m", "")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			d := w.started(true)
			w.post(blueskytest.Post{Text: "before"})
			w.statuses(ctx, 1)

			f.fault(w)
			want := numbered(f.name, 5)
			for _, text := range want {
				w.post(blueskytest.Post{Text: text})
				if f.name == "down 10s" {
					time.Sleep(2 * time.Second) // 5 posts over the 10 s outage
				}
			}
			f.recover(w)
			want = append([]string{"before"}, want...)
			if got := w.statuses(ctx, len(want)); !slices.Equal(got, want) {
				t.Fatalf("statuses\n got %q\nwant %q", got, want)
			}
			// A sentinel proves nothing came twice.
			w.post(blueskytest.Post{Text: "sentinel"})
			want = append(want, "sentinel")
			if got := w.statuses(ctx, len(want)); !slices.Equal(got, want) {
				t.Fatalf("after the sentinel\n got %q\nwant %q", got, want)
			}
			d.stop(t)
		})
	}
}

// TestBlueskyKill9LosesNothing: kill -9 during a stream of 30 posts,
// restart; every post becomes a status, in order, and only a status in
// flight at a kill may come twice.
func TestBlueskyKill9LosesNothing(t *testing.T) {
	t.Parallel()
	w := newBskyWorld(t, true, "1s", "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := w.started(true)
	const total, kills = 30, 3
	want := numbered("bsky", total)
	added := make(chan struct{})
	go func() {
		defer close(added)
		for _, text := range want {
			if _, err := w.srv.CreatePost(w.alice, blueskytest.Post{Text: text}); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(150 * time.Millisecond): // the pace of the stream, not a wait for a result
			}
		}
	}()
	inFlight := map[string]bool{}
	for i := range kills {
		time.Sleep(time.Duration(400+i*300) * time.Millisecond) // kill moments spread over the stream
		d = killAndRestart(t, d, w.watcher, inFlight, w.start)
	}
	<-added
	waitFor(t, "every post as a status", 90*time.Second, func() bool {
		got, _ := dedupe(texts(w.watcher.Statuses()))
		return len(got) >= total
	})
	got := texts(w.watcher.Statuses())
	dups := checkOnceInOrder(t, got, want, inFlight, kills)
	t.Logf("%d posts, %d kill -9, %d statuses, %d repeats", total, kills, len(got), len(dups))
	d.stop(t)
}

func TestDemoBluesky(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := r2sync(t, "demo", "--source", "bluesky")
	if code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout, "→ status "); n != 5 {
		t.Errorf("demo shows %d statuses, want 5:\n%s", n, stdout)
	}
	for _, want := range []string{"https://xmpp.org/rfcs/rfc6121.html", "https://example.com/a/long/path 和 https://example.org/b/full", "sync.include_replies = false", "sync.include_retweets = false", " ms\n", "is not mirrored (no flood"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	if code, _, stderr := r2sync(t, "demo", "--source", "myspace"); code != 2 || !strings.Contains(stderr, "myspace") {
		t.Errorf("unknown demo source: exit %d, %q", code, stderr)
	}
}

// TestBlueskyMirrorTable: source = "bluesky" inside a [[mirror]] with
// its own [mirror.bluesky] works like the top-level layout.
func TestBlueskyMirrorTable(t *testing.T) {
	t.Parallel()
	w := newBskyWorld(t, true, "1s", "")
	stateDir := filepath.Join(w.dir, "mirrors")
	w.state = filepath.Join(stateDir, "bsky.json")
	text := fmt.Sprintf(`[renren]
ca_file = %q
address = %q
ping_interval = "30s"

[state]
dir = %q

[log]
level = "debug"
format = "json"

[[mirror]]
name = "bsky"
source = "bluesky"
  [mirror.bluesky]
  handle = %q
  appview = %q
  jetstream = %q
  plc_directory = %q
  poll_interval = "1s"
  [mirror.renren]
  jid = %q
  password = %q
`, w.prosody.CAFile(), w.prosody.Addr(), stateDir, bskyHandle, w.srv.URL, w.srv.JetstreamURL, w.srv.PLCURL, userJID, userPassword)
	if err := os.WriteFile(w.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := r2sync(t, "check", "--config", w.config)
	if code != 0 || !strings.Contains(stdout, "bluesky: ok, account @"+bskyHandle) {
		t.Fatalf("check exited %d\n%s%s", code, stdout, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := w.started(true)
	w.post(blueskytest.Post{Text: "from a mirror table"})
	if got := w.statuses(ctx, 1); got[0] != "from a mirror table" {
		t.Fatalf("statuses %q", got)
	}
	d.stop(t)
}
