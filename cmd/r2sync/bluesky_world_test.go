package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/bluesky/blueskytest"
	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/renren/prosodytest"
)

// The Bluesky suite: the daemon, as built, with source = "bluesky"
// against blueskytest (AppView, PDS, PLC directory, Jetstream) and a
// real Prosody, a watcher account seeing the user's presence.

const (
	bskyHandle  = "alice.test"
	bskyAppPass = "bsky-app-S3CRET-pass"
)

// bskyWorld is one Bluesky end-to-end setup.
type bskyWorld struct {
	t       testing.TB
	bin     string // the r2sync binary
	prosody *prosodytest.Server
	srv     *blueskytest.Server
	alice   string // DIDs
	bob     string
	watcher *prosodytest.Watcher
	dir     string
	config  string
	state   string
}

// newBskyWorld writes a config with source = "bluesky"; jetstream false
// means poll only. extra is appended (e.g. a [sync] table).
func newBskyWorld(t testing.TB, jetstream bool, pollInterval, extra string) *bskyWorld {
	t.Helper()
	p := prosodytest.Start(t, prosodytest.Options{
		Domain: "talk.xiaonei.com",
		Users:  map[string]string{"123456": userPassword, watcherName: watcherPass},
		Group:  []string{"123456", watcherName},
	})
	srv := blueskytest.New()
	t.Cleanup(srv.Close)
	w := &bskyWorld{t: t, bin: binary, prosody: p, srv: srv, dir: t.TempDir()}
	w.alice = srv.AddAccount(bskyHandle, bskyAppPass)
	w.bob = srv.AddAccount("bob.test", "bob-pass")
	w.watcher = p.Watch(t, watcherName, watcherPass)
	w.state = filepath.Join(w.dir, "state", "state.json")
	passFile := filepath.Join(w.dir, "bsky_app_password")
	if err := os.WriteFile(passFile, []byte(bskyAppPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	js := ""
	if jetstream {
		js = srv.JetstreamURL
	}
	w.config = filepath.Join(w.dir, "config.toml")
	text := fmt.Sprintf(`source = "bluesky"

[bluesky]
handle = %q
appview = %q
jetstream = %q
plc_directory = %q
app_password_file = %q
poll_interval = %q
timeout = "5s"

[renren]
jid = %q
password = %q
address = %q
ca_file = %q
ping_interval = "30s"

[state]
file = %q

[log]
level = "debug"
format = "json"
`, bskyHandle, srv.URL, js, srv.PLCURL, passFile, pollInterval, userJID, userPassword, p.Addr(), p.CAFile(), w.state) + extra
	if err := os.WriteFile(w.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *bskyWorld) checkNoSecrets(out string) {
	w.t.Helper()
	for _, s := range append(secrets(), bskyAppPass) {
		if strings.Contains(out, s) {
			w.t.Errorf("output contains the secret %q", s)
		}
	}
}

// start runs `r2sync run` on the world's config.
func (w *bskyWorld) start() *daemonProc {
	w.t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(w.bin, "run", "--config", w.config)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	d := &daemonProc{cmd: cmd, out: out, exited: make(chan error, 1)}
	go func() { d.exited <- cmd.Wait() }()
	w.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.exited
		w.checkNoSecrets(out.String())
		files, _ := filepath.Glob(w.state + "*")
		for _, f := range files {
			b, _ := os.ReadFile(f)
			w.checkNoSecrets(string(b))
		}
	})
	return d
}

// started starts the daemon and waits for its first start to be
// recorded and, with Jetstream, for the stream to be up.
func (w *bskyWorld) started(jetstream bool) *daemonProc {
	w.t.Helper()
	subs := w.srv.Requests("subscribe")
	d := w.start()
	w.waitFor("first start to be recorded", 30*time.Second, func() bool {
		store := statefile.New(w.state)
		defer store.Close()
		st, err := store.Load(context.Background())
		return err == nil && st.Initialized
	})
	if jetstream {
		w.waitFor("the Jetstream subscription", 30*time.Second, func() bool { return w.srv.Requests("subscribe") > subs })
	}
	return d
}

// waitFor polls cond until it holds or the deadline passes.
func (w *bskyWorld) waitFor(what string, timeout time.Duration, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *bskyWorld) statuses(ctx context.Context, n int) []string {
	w.t.Helper()
	got, err := w.watcher.WaitStatuses(ctx, userJID, n)
	if err != nil {
		w.t.Fatalf("waiting for %d statuses: %v", n, err)
	}
	return texts(got)
}

func (w *bskyWorld) post(p blueskytest.Post) blueskytest.Ref {
	w.t.Helper()
	r, err := w.srv.CreatePost(w.alice, p)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}
