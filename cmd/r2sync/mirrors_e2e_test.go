package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/renren/prosodytest"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// The three-mirror world: one Twitter app with three users, a real
// Prosody with XMPP accounts A and B. alice → A; bob and carol → B, which
// share one XMPP session.
const (
	jidA  = "100001@talk.xiaonei.com"
	jidB  = "100002@talk.xiaonei.com"
	passA = "xmpp-A-S3CRET"
	passB = "xmpp-B-S3CRET"
)

// mirrorsWorld is a running three-mirror setup.
type mirrorsWorld struct {
	*world
	users map[string]twittertest.User // by mirror name
}

func newMirrorsWorld(t *testing.T, passwordA string) *mirrorsWorld {
	t.Helper()
	p := prosodytest.Start(t, prosodytest.Options{
		Domain: "talk.xiaonei.com",
		Users:  map[string]string{"100001": passA, "100002": passB, watcherName: watcherPass},
		Group:  []string{"100001", "100002", watcherName},
	})
	server := twittertest.NewServer(apiKeys)
	t.Cleanup(server.Close)
	w := &world{t: t, api: "v2", prosody: p, server: server, dir: t.TempDir()}
	w.watcher = p.Watch(t, watcherName, watcherPass)
	w.state = filepath.Join(w.dir, "state", "alice.json")
	mw := &mirrorsWorld{world: w, users: map[string]twittertest.User{
		"alice": server.Users()[0],
		"bob":   server.AddUser(twittertest.User{ScreenName: "bob"}),
		"carol": server.AddUser(twittertest.User{ScreenName: "carol"}),
	}}
	w.config = w.writeConfig("config.toml", mw.configText(passwordA))
	return mw
}

func (mw *mirrorsWorld) configText(passwordA string) string {
	w := mw.world
	var b strings.Builder
	fmt.Fprintf(&b, "[twitter]\n%sconsumer_key = %q\nconsumer_secret = %q\npoll_interval = \"1s\"\n\n", apiConfig(w.server, w.api), apiKeys.ConsumerKey, apiKeys.ConsumerSecret)
	fmt.Fprintf(&b, "[renren]\naddress = %q\nca_file = %q\nping_interval = \"30s\"\n\n", w.prosody.Addr(), w.prosody.CAFile())
	fmt.Fprintf(&b, "[state]\ndir = %q\n\n[log]\nlevel = \"debug\"\nformat = \"json\"\n\n", filepath.Join(w.dir, "state"))
	for _, m := range []struct{ name, jid, pass string }{{"alice", jidA, passwordA}, {"bob", jidB, passB}, {"carol", jidB, passB}} {
		u := mw.users[m.name]
		fmt.Fprintf(&b, "[[mirror]]\nname = %q\n  [mirror.twitter]\n  access_token = %q\n  access_secret = %q\n  [mirror.renren]\n  jid = %q\n  password = %q\n  [mirror.sync]\n  template = \"%s: {{.Text}}\"\n\n",
			m.name, u.AccessToken, u.AccessSecret, m.jid, m.pass, m.name)
	}
	return b.String()
}

// tweet adds a tweet of mirror name's user.
func (mw *mirrorsWorld) tweet(name, text string) {
	u := mw.users[name]
	mw.server.AddTweet(twittertest.Tweet{Text: text, UserID: u.ID, ScreenName: u.ScreenName})
}

// statusesOf returns the statuses jid published that mirror name rendered,
// without the prefix, in order.
func (mw *mirrorsWorld) statusesOf(jid, name string) []string {
	var out []string
	for _, s := range mw.watcher.Statuses() {
		if !strings.HasPrefix(s.From, jid+"/") {
			continue
		}
		if text, ok := strings.CutPrefix(s.Text, name+": "); ok {
			out = append(out, text)
		}
	}
	return out
}

// logins counts the daemon's logins as jid: one available presence
// without a status per session.
func (mw *mirrorsWorld) logins(jid string) int {
	n := 0
	for _, p := range mw.watcher.Presences() {
		if p.Type == "" && !p.HasStatus && strings.HasPrefix(p.From, jid+"/r2sync") {
			n++
		}
	}
	return n
}

// waitStarted waits until each named mirror has recorded its newest
// tweet: from then on it mirrors every new one.
func (mw *mirrorsWorld) waitStarted(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		file := filepath.Join(mw.dir, "state", n+".json")
		waitFor(t, "the first poll of "+n, 30*time.Second, func() bool {
			if _, err := os.Stat(file); err != nil {
				return false
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			store := statefile.New(file)
			defer store.Close()
			st, err := store.Load(ctx)
			return err == nil && st.Initialized
		})
	}
}

var mirrorTargets = map[string]string{"alice": jidA, "bob": jidB, "carol": jidB}

// waitDelivered waits until mirror name's statuses are want (at least
// len(want) of them) and returns how long it took.
func (mw *mirrorsWorld) waitDelivered(t *testing.T, name string, n int, timeout time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	// Distinct statuses: after a kill -9 the one in flight may come
	// twice, and counting it would stop the wait before the last one.
	waitFor(t, fmt.Sprintf("%d statuses of mirror %s", n, name), timeout, func() bool {
		distinct, _ := dedupe(mw.statusesOf(mirrorTargets[name], name))
		return len(distinct) >= n
	})
	return time.Since(began)
}

// TestMirrorsE2E: three mirrors in one daemon against a real Prosody, two
// of them on one XMPP account. Each account's tweets reach the right XMPP
// account once and in order; the shared account has one session; a kill
// -9 in a stream of tweets loses nothing; a revoked token stops only its
// mirror, which delivers again soon after the token is restored.
func TestMirrorsE2E(t *testing.T) {
	t.Parallel()
	mw := newMirrorsWorld(t, passA)
	names := []string{"alice", "bob", "carol"}
	d := mw.start()
	waitFor(t, "both sessions", 30*time.Second, func() bool { return mw.logins(jidA) == 1 && mw.logins(jidB) == 1 })
	mw.waitStarted(t, names...)

	// A stream to all three, killed in the middle.
	const total = 12
	want := map[string][]string{}
	for _, n := range names {
		want[n] = numbered(n, total)
	}
	for i := 0; i < total/2; i++ {
		for _, n := range names {
			mw.tweet(n, want[n][i])
		}
		time.Sleep(150 * time.Millisecond) // the stream's pace
	}
	waitFor(t, "some statuses before the kill", 30*time.Second, func() bool { return len(mw.statusesOf(jidB, "bob")) >= 2 })
	d.kill()
	for i := total / 2; i < total; i++ {
		for _, n := range names {
			mw.tweet(n, want[n][i])
		}
	}
	d = mw.start()
	for _, n := range names {
		took := mw.waitDelivered(t, n, total, 60*time.Second)
		t.Logf("mirror %s: %d statuses delivered %s after the restart", n, total, took.Round(time.Millisecond))
	}
	for _, n := range names {
		got := mw.statusesOf(mirrorTargets[n], n)
		deduped, dups := dedupe(got)
		if !slices.Equal(deduped, want[n]) {
			t.Errorf("mirror %s: got %q, want %q once each in order", n, got, want[n])
		}
		if len(dups) > 1 {
			t.Errorf("mirror %s: %d repeats after kill -9 (%q), want at most the one in flight", n, len(dups), dups)
		}
		t.Logf("mirror %s: %d repeats after kill -9", n, len(dups))
		// Nothing of another mirror's account reaches the wrong JID.
		for other, jid := range mirrorTargets {
			if jid != mirrorTargets[n] && len(mw.statusesOf(jid, n)) > 0 {
				t.Errorf("mirror %s's statuses reached %s (%s's account)", n, jid, other)
			}
		}
	}
	if a, b := mw.logins(jidA), mw.logins(jidB); a != 2 || b != 2 {
		t.Errorf("logins over two runs: A %d, B %d; want 2 each (one session per XMPP account per run)", a, b)
	}

	// Revoke bob's token: alice and carol go on at the usual pace.
	mw.server.RevokeToken(mw.users["bob"].ID)
	revoked := time.Now()
	mw.tweet("alice", "alice after revoke")
	mw.tweet("carol", "carol after revoke")
	mw.tweet("bob", "bob after revoke")
	for _, n := range []string{"alice", "carol"} {
		took := mw.waitDelivered(t, n, total+1, 10*time.Second)
		t.Logf("mirror %s: delivered %s after bob's token was revoked", n, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("mirror %s took %s with bob's token revoked, want a few poll intervals", n, took)
		}
	}
	time.Sleep(time.Until(revoked.Add(8 * time.Second))) // the token stays revoked 8s: the scenario, not a wait for a result
	if got, _ := dedupe(mw.statusesOf(jidB, "bob")); len(got) != total {
		t.Fatalf("bob delivered with a revoked token: %q", got)
	}
	mw.server.RestoreToken(mw.users["bob"].ID)
	took := mw.waitDelivered(t, "bob", total+1, 60*time.Second)
	t.Logf("mirror bob: delivered %s after its token was restored", took.Round(time.Millisecond))
	// The daemon's credential back-off doubles from the poll interval
	// (1, 2, 4, 8 s…): after 8 s revoked, the next try is at most about
	// 8 s after the restore.
	if took > 12*time.Second {
		t.Errorf("bob delivered %s after the restore, want within a few poll intervals", took)
	}
	if !strings.Contains(d.out.String(), `"mirror":"bob"`) {
		t.Errorf("no log line names mirror bob:\n%s", d.out)
	}
	d.stop(t)
}

// TestMirrorsWrongPassword: a wrong XMPP password for one mirror leaves the
// others delivering.
func TestMirrorsWrongPassword(t *testing.T) {
	t.Parallel()
	mw := newMirrorsWorld(t, "wrong-pass")
	d := mw.start()
	waitFor(t, "B's session", 30*time.Second, func() bool { return mw.logins(jidB) == 1 })
	mw.waitStarted(t, "alice", "bob", "carol")
	mw.tweet("alice", "alice one")
	mw.tweet("bob", "bob one")
	mw.tweet("carol", "carol one")
	mw.waitDelivered(t, "bob", 1, 20*time.Second)
	mw.waitDelivered(t, "carol", 1, 20*time.Second)
	if got := mw.statusesOf(jidA, "alice"); len(got) != 0 {
		t.Errorf("alice delivered with a wrong password: %q", got)
	}
	select {
	case err := <-d.exited:
		t.Fatalf("the daemon exited (%v) on one mirror's wrong password:\n%s", err, d.out)
	default:
	}
	d.stop(t)
}

// TestMirrorsCorruptState: a corrupt state file stops its mirror alone,
// named in the log; the others deliver. When every mirror's state is
// corrupt, run exits 65 (EX_DATAERR), the last mirror's status.
func TestMirrorsCorruptState(t *testing.T) {
	t.Parallel()
	mw := newMirrorsWorld(t, passA)
	stateDir := filepath.Join(mw.dir, "state")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	corrupt := func(name string) {
		if err := os.WriteFile(filepath.Join(stateDir, name+".json"), []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	corrupt("bob")
	d := mw.start()
	mw.waitStarted(t, "alice", "carol")
	mw.tweet("alice", "alice one")
	mw.tweet("carol", "carol one")
	mw.waitDelivered(t, "alice", 1, 20*time.Second)
	mw.waitDelivered(t, "carol", 1, 20*time.Second)
	var named bool
	for _, l := range strings.Split(d.out.String(), "\n") {
		if strings.Contains(l, `"mirror not started"`) && strings.Contains(l, `"mirror":"bob"`) && strings.Contains(l, "corrupt") {
			named = true
		}
	}
	if !named {
		t.Errorf("no log line says mirror bob did not start on its corrupt state:\n%s", d.out)
	}
	d.stop(t)

	corrupt("alice")
	corrupt("carol")
	code, _, stderr := r2sync(t, "run", "--config", mw.config)
	if code != exitDataErr || !strings.Contains(stderr, "corrupt") {
		t.Errorf("run with every state corrupt: exit %d, want 65; stderr:\n%s", code, stderr)
	}
}

// TestMirrorsReload: SIGHUP rebuilds every mirror from the edited config;
// the XMPP sessions whose [renren] did not change are kept.
func TestMirrorsReload(t *testing.T) {
	t.Parallel()
	mw := newMirrorsWorld(t, passA)
	mw.rewriteConfig("[log]\n", fmt.Sprintf("[http]\nlisten = %q\n\n[log]\n", closedPort(t)))
	d := mw.start()
	mw.waitStarted(t, "alice", "bob", "carol")
	waitFor(t, "both sessions", 30*time.Second, func() bool { return mw.logins(jidA) == 1 && mw.logins(jidB) == 1 })
	// /readyz is ready once every mirror is; status has a row per mirror.
	waitFor(t, "the daemon ready", 30*time.Second, func() bool {
		code, _, _ := r2sync(t, "healthcheck", "--config", mw.config)
		return code == 0
	})
	_, stdout, _ := r2sync(t, "status", "--config", mw.config)
	for _, n := range []string{"alice", "bob", "carol"} {
		var row string
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(l, n+" ") {
				row = l
			}
		}
		if !strings.Contains(row, mirrorTargets[n]) || !strings.Contains(row, " up ") {
			t.Errorf("status row of %s: %q, want its JID and session up\n%s", n, row, stdout)
		}
	}
	t.Logf("status:\n%s", stdout)
	mw.rewriteConfig(`template = "carol: {{.Text}}"`, `template = "carol: new {{.Text}}"`)
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", 30*time.Second, func() bool { return strings.Count(d.out.String(), `"config reloaded"`) == 3 })
	mw.tweet("carol", "after reload")
	mw.tweet("alice", "after reload")
	waitFor(t, "carol's status in the new template", 20*time.Second, func() bool {
		return slices.Contains(mw.statusesOf(jidB, "carol"), "new after reload")
	})
	mw.waitDelivered(t, "alice", 1, 20*time.Second)
	if a, b := mw.logins(jidA), mw.logins(jidB); a != 1 || b != 1 {
		t.Errorf("logins after the reload: A %d, B %d; want 1 each (sessions kept)", a, b)
	}
	d.stop(t)
}
