package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren/prosodytest"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// The script of the issue: five tweets, of which a reply to someone else
// and a retweet are not mirrored.
func fiveTweets() ([]twittertest.Tweet, []string) {
	bob := twittertest.Tweet{UserID: 7, ScreenName: "bob", Text: "original by bob"}
	tweets := []twittertest.Tweet{
		{Text: "reading https://xmpp.org/rfcs/rfc6121.html today",
			URLs: []twittertest.URL{{Short: "https://t.co/abcDEF1234", Expanded: "https://xmpp.org/rfcs/rfc6121.html"}}},
		{Text: "Tom & Jerry <3 <b>XMPP</b>"},
		{Text: "@bob thanks!", InReplyToUserID: 7, InReplyToScreenName: "bob"},
		{RetweetOf: &bob},
		{Text: "同步到人人网 🎉👨‍👩‍👧"},
	}
	want := []string{
		"[r2] reading https://xmpp.org/rfcs/rfc6121.html today",
		"[r2] Tom & Jerry <3 <b>XMPP</b>",
		"[r2] 同步到人人网 🎉👨‍👩‍👧",
	}
	return tweets, want
}

func TestRunMirrorsNewTweetsOnce(t *testing.T) { forEachAPI(t, testRunMirrorsNewTweetsOnce) }

func testRunMirrorsNewTweetsOnce(t *testing.T, api string) {
	w := newWorld(t, api, "[sync]\ntemplate = \"[r2] {{.Text}}\"\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	w.server.AddTweet(twittertest.Tweet{Text: "old one"})
	w.server.AddTweet(twittertest.Tweet{Text: "old two"})
	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })

	tweets, want := fiveTweets()
	for _, tw := range tweets {
		w.server.AddTweet(tw)
	}
	if got := w.statuses(ctx, 3); !slices.Equal(got, want) {
		t.Fatalf("statuses\n got %q\nwant %q", got, want)
	}
	// A sentinel proves nothing else was queued before it: not the old
	// tweets, not the reply, not the retweet.
	w.server.AddTweet(twittertest.Tweet{Text: "sentinel"})
	if got := w.statuses(ctx, 4); !slices.Equal(got, append(want, "[r2] sentinel")) {
		t.Fatalf("statuses after sentinel %q", got)
	}
	first := slices.IndexFunc(w.watcher.Presences(), func(p prosodytest.Status) bool {
		return strings.HasPrefix(p.From, userJID+"/")
	})
	if first < 0 {
		t.Error("the watcher saw no presence from the daemon")
	} else if p := w.watcher.Presences()[first]; p.HasStatus || p.Text != "" {
		t.Errorf("first presence from the daemon carries status %q; it must carry none", p.Text)
	}
	start := time.Now()
	d.stop(t)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("shutdown took %s, want under 5s", el)
	}
	if st := w.readState(); len(st.Pending) != 0 {
		t.Errorf("pending statuses after shutdown: %v", st.Pending)
	}
}

func TestKill9LosesNothing(t *testing.T) { forEachAPI(t, testKill9LosesNothing) }

func testKill9LosesNothing(t *testing.T, api string) {
	w := newWorld(t, api, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })

	const total, kills = 30, 5
	var want []string
	for i := range total {
		want = append(want, "tweet "+strings.Repeat("x", i%3)+string(rune('A'+i)))
	}
	added := make(chan struct{})
	go func() {
		defer close(added)
		for _, text := range want {
			w.server.AddTweet(twittertest.Tweet{Text: text})
			select {
			case <-ctx.Done():
				return
			case <-time.After(150 * time.Millisecond): // the pace of the stream, not a wait for a result
			}
		}
	}()
	// Statuses the watcher had when each killed session was gone: the one
	// in flight at the kill may legitimately come again after the restart.
	inFlight := map[string]bool{}
	for i := range kills {
		time.Sleep(time.Duration(300+i*170) * time.Millisecond) // a kill moment spread over the stream
		d = killAndRestart(t, d, w.watcher, inFlight, func() *daemonProc { return w.start() })
	}
	<-added
	got := w.statuses(ctx, total)
	waitFor(t, "the queue to drain", 30*time.Second, func() bool { return len(w.readState().Pending) == 0 })
	got = texts(w.watcher.Statuses())
	dups := checkOnceInOrder(t, got, want, inFlight, kills)
	t.Logf("%d tweets, %d kill -9, %d statuses, %d duplicates from a kill inside the send window", total, kills, len(got), len(dups))
	d.stop(t)
}

// dedupe removes consecutive repeats and returns them.
func dedupe(ss []string) (out, dups []string) {
	for i, s := range ss {
		if i > 0 && ss[i-1] == s {
			dups = append(dups, s)
			continue
		}
		out = append(out, s)
	}
	return out, dups
}

func countUnavailable(w *world) int { return daemonGone(w.watcher) }

func TestPostIsNotMirroredAgain(t *testing.T) { forEachAPI(t, testPostIsNotMirroredAgain) }

func testPostIsNotMirroredAgain(t *testing.T, api string) {
	for _, running := range []bool{true, false} {
		name := map[bool]string{true: "daemon running", false: "daemon started later"}[running]
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, api, "")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			d := w.start()
			waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })
			if !running {
				d.stop(t)
			}
			const msg = "hello from r2sync post & <friends> 你好"
			code, stdout, stderr := r2sync(t, "post", "--config", w.config, msg)
			if code != 0 {
				t.Fatalf("post exited %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			w.checkNoSecrets(stdout + stderr)
			if !strings.Contains(stdout, "tweet posted: ") || !strings.Contains(stdout, "status set: "+msg) {
				t.Errorf("post output %q", stdout)
			}
			created := w.server.Tweets()
			if len(created) != 1 || created[0].Text != msg {
				t.Fatalf("tweets on the server: %+v", created)
			}
			signed := false
			for _, r := range w.server.Requests() {
				if r.Method == "POST" && (strings.HasSuffix(r.Path, "statuses/update.json") || r.Path == "/2/tweets") && r.OAuthVerified {
					signed = true
				}
			}
			if !signed {
				t.Errorf("no OAuth-verified statuses/update request in %+v", w.server.Requests())
			}
			if got := w.statuses(ctx, 1); got[0] != msg {
				t.Fatalf("first status %q, want %q", got[0], msg)
			}
			if !running {
				d = w.start()
			}
			w.server.AddTweet(twittertest.Tweet{Text: "after post"})
			if got := w.statuses(ctx, 2); !slices.Equal(got, []string{msg, "after post"}) {
				t.Fatalf("statuses %q: the posted tweet must not be mirrored again", got)
			}
			d.stop(t)
		})
	}
}

func TestCheck(t *testing.T) { forEachAPI(t, testCheck) }

func testCheck(t *testing.T, api string) {
	w := newWorld(t, api, "")
	code, stdout, stderr := r2sync(t, "check", "--config", w.config)
	if code != 0 {
		t.Fatalf("check with good credentials exited %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"config: ok", "twitter: ok, authenticated as @alice", "renren: ok, logged in as " + userJID} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
	w.checkNoSecrets(stdout + stderr)

	tests := []struct {
		name           string
		consumerSecret string
		password       string
		want           []string
	}{
		{name: "bad oauth secret", consumerSecret: "cs-WRONG", password: userPassword, want: []string{"twitter: FAILED", "401", "renren: ok"}},
		{name: "bad xmpp password", consumerSecret: apiKeys.ConsumerSecret, password: "pw-WRONG", want: []string{"twitter: ok", "renren: FAILED: login failed for " + userJID, "not-authorized", "check renren.password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := w.writeConfig(strings.ReplaceAll(tt.name, " ", "-")+".toml", w.configText(tt.consumerSecret, tt.password))
			code, stdout, stderr := r2sync(t, "check", "--config", cfg)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, want := range tt.want {
				if !strings.Contains(stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, stdout)
				}
			}
			// One failing check is one line: the next line must be the
			// other check's, not a continuation of the error.
			if n := strings.Count(stdout, "FAILED"); n != 1 {
				t.Errorf("%d FAILED lines, want 1:\n%s", n, stdout)
			}
			if lines := strings.Split(strings.TrimSpace(stdout), "\n"); len(lines) != 3 {
				t.Errorf("%d output lines, want 3 (config, twitter, renren):\n%s", len(lines), stdout)
			}
			for _, s := range append(secrets(), "cs-WRONG", "pw-WRONG") {
				if strings.Contains(stdout+stderr, s) {
					t.Errorf("output contains the secret %q", s)
				}
			}
		})
	}
}

func TestBadConfigExits78(t *testing.T) {
	dir := t.TempDir()
	good := `[twitter]
consumer_key = "a"
consumer_secret = "b"
access_token = "c"
access_secret = "d"
[renren]
jid = "1@talk.xiaonei.com"
password = "e"
[state]
file = "` + filepath.Join(dir, "state.json") + `"
`
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{name: "unknown key", content: good + "[sync]\ntemplat = \"x\"\n", want: "unknown key sync.templat"},
		{name: "integer duration", content: strings.Replace(good, "[renren]", "poll_interval = 60\n[renren]", 1), want: "line 6: twitter.poll_interval"},
		{name: "wrong type", content: good + "[sync]\ninclude_replies = \"yes\"\n", want: "sync.include_replies"},
		{name: "missing password", content: strings.Replace(good, "password = \"e\"\n", "", 1), want: "renren.password: required"},
		{name: "bad template field", content: good + "[sync]\ntemplate = \"{{.Nope}}\"\n", want: "sync.template"},
		{name: "not toml", content: "this is not toml", want: "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".toml")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"run", "check", "post"} {
				args := []string{cmd, "--config", path}
				if cmd == "post" {
					args = append(args, "hello")
				}
				code, stdout, stderr := r2sync(t, args...)
				if code != 78 {
					t.Errorf("%s: exit %d, want 78 (stdout %q, stderr %q)", cmd, code, stdout, stderr)
				}
				if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, path) {
					t.Errorf("%s: stderr %q: want one line naming %s and %q", cmd, stderr, path, tt.want)
				}
				if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
					t.Errorf("%s: stack trace in %q", cmd, stderr)
				}
			}
		})
	}
	t.Run("default path from environment", func(t *testing.T) {
		t.Setenv("R2SYNC_CONFIG", filepath.Join(dir, "missing.toml"))
		code, _, stderr := r2sync(t, "check")
		if code != 78 || !strings.Contains(stderr, "missing.toml") {
			t.Errorf("exit %d, stderr %q; want 78 naming missing.toml", code, stderr)
		}
	})
}

func TestDemo(t *testing.T) {
	code, stdout, stderr := r2sync(t, "demo")
	if code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout, "→ status "); n != 3 {
		t.Errorf("demo shows %d statuses, want 3:\n%s", n, stdout)
	}
	for _, want := range []string{"https://xmpp.org/rfcs/rfc6121.html", "Tom & Jerry <3", "同步到人人网", "not mirrored", "is not mirrored (no flood"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"post", "--help"}, {"check", "--help"}, {"demo", "--help"}, {"state", "--help"}, {"version"}} {
		code, stdout, stderr := r2sync(t, args...)
		if code != 0 || stdout == "" {
			t.Errorf("r2sync %v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	if code, _, stderr := r2sync(t, "frobnicate"); code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
}
