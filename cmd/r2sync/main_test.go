package main

import (
	"bytes"
	"context"
	b64 "encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/renren/prosodytest"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// binary is the r2sync built once for every end-to-end test.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "r2sync-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "r2sync")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build r2sync:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Test credentials. Each secret is distinctive so that a leak is easy to find.
const (
	userJID      = "123456@talk.xiaonei.com"
	userPassword = "xmpp-pass-S3CRET"
	watcherName  = "watcher"
	watcherPass  = "watcher-pass"
)

var apiKeys = twittertest.Options{
	ConsumerKey: "ck-r2sync", ConsumerSecret: "cs-S3CRET-consumer",
	AccessToken: "42-at-r2sync", AccessSecret: "as-S3CRET-access",
	UserID: 42, ScreenName: "alice",
}

// secrets lists what must never appear in any output.
func secrets() []string {
	plain := "\x00123456\x00" + userPassword
	return []string{userPassword, apiKeys.ConsumerSecret, apiKeys.AccessSecret, base64(plain)}
}

// apiVersions are the Twitter API flavours every end-to-end suite runs
// against.
var apiVersions = []string{"v1.1", "v2"}

// forEachAPI runs f as a subtest per API version.
func forEachAPI(t *testing.T, f func(t *testing.T, api string)) {
	for _, api := range apiVersions {
		t.Run("api="+api, func(t *testing.T) { f(t, api) })
	}
}

// apiConfig returns the [twitter] lines that select api on server s.
func apiConfig(s *twittertest.Server, api string) string {
	if api == "v1.1" {
		return fmt.Sprintf("api_base = %q\n", s.URL())
	}
	return fmt.Sprintf("api = %q\napi_base = %q\n", api, s.V2URL())
}

// world is one end-to-end setup: a real Prosody, the Twitter test API, a
// watcher account that sees the user's presence, and a config file.
type world struct {
	t       testing.TB
	bin     string // the r2sync binary; "" is the end-to-end build
	api     string
	prosody *prosodytest.Server
	server  *twittertest.Server
	watcher *prosodytest.Watcher
	dir     string
	config  string
	state   string
}

func newWorld(t *testing.T, api, extra string) *world {
	t.Helper()
	p := prosodytest.Start(t, prosodytest.Options{
		Domain: "talk.xiaonei.com",
		Users:  map[string]string{"123456": userPassword, watcherName: watcherPass},
		Group:  []string{"123456", watcherName},
	})
	server := twittertest.NewServer(apiKeys)
	t.Cleanup(server.Close)
	w := &world{t: t, api: api, prosody: p, server: server, dir: t.TempDir()}
	w.watcher = p.Watch(t, watcherName, watcherPass)
	w.state = filepath.Join(w.dir, "state", "state.json")
	w.config = w.writeConfig("config.toml", w.configText(apiKeys.ConsumerSecret, userPassword)+extra)
	return w
}

func (w *world) configText(consumerSecret, password string) string {
	return fmt.Sprintf(`[twitter]
%sconsumer_key = %q
consumer_secret = %q
access_token = %q
access_secret = %q
poll_interval = "1s"

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
`, apiConfig(w.server, w.api), apiKeys.ConsumerKey, consumerSecret, apiKeys.AccessToken, apiKeys.AccessSecret,
		userJID, password, w.prosody.Addr(), w.prosody.CAFile(), w.state)
}

func (w *world) writeConfig(name, content string) string {
	w.t.Helper()
	path := filepath.Join(w.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// daemon is a running `r2sync run`.
type daemonProc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan error
}

func (w *world) start(args ...string) *daemonProc {
	w.t.Helper()
	out := &syncBuffer{}
	bin := w.bin
	if bin == "" {
		bin = binary
	}
	cmd := exec.Command(bin, append([]string{"run", "--config", w.config}, args...)...)
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
		w.checkStateHasNoSecrets()
	})
	return d
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemonProc) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		d.exited <- err
		if err != nil {
			t.Fatalf("r2sync run exited with %v after SIGTERM; output:\n%s", err, d.out)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("r2sync run did not exit within 10s of SIGTERM; output:\n%s", d.out)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *daemonProc) kill() {
	_ = d.cmd.Process.Kill()
	err := <-d.exited
	d.exited <- err
}

// readState reads the state as the daemon wrote it, through the store
// (state.json plus its journal), the way `r2sync status` does. A state
// that cannot be read yet reads as zero.
func (w *world) readState() daemon.State {
	store := statefile.New(w.state)
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Load(ctx)
	if err != nil {
		w.t.Logf("read state: %v", err)
	}
	return st
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// statuses returns the status texts the watcher saw from the user, in order.
func (w *world) statuses(ctx context.Context, n int) []string {
	w.t.Helper()
	got, err := w.watcher.WaitStatuses(ctx, userJID, n)
	if err != nil {
		w.t.Fatalf("waiting for %d statuses: %v (have %q)", n, err, texts(w.watcher.Statuses()))
	}
	return texts(got)
}

func texts(ss []prosodytest.Status) []string {
	var out []string
	for _, s := range ss {
		if s.Text != "" {
			out = append(out, s.Text)
		}
	}
	return out
}

// checkStateHasNoSecrets looks through every file the store keeps beside
// the state file (state.json, its journal, locks).
func (w *world) checkStateHasNoSecrets() {
	w.t.Helper()
	files, _ := filepath.Glob(w.state + "*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		w.checkNoSecrets(string(b))
	}
}

func (w *world) checkNoSecrets(out string) {
	w.t.Helper()
	for _, s := range secrets() {
		if strings.Contains(out, s) {
			w.t.Errorf("output contains the secret %q", s)
		}
	}
}

// r2sync runs the binary to completion and returns its exit code and output.
func r2sync(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run r2sync %v: %v", args, err)
	}
	return code, stdout.String(), stderr.String()
}

func base64(s string) string { return b64.StdEncoding.EncodeToString([]byte(s)) }

// syncBuffer is a bytes.Buffer safe for a process's output and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
