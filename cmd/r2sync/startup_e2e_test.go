package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// r2syncWithin runs the binary and fails the test unless it exits within
// timeout; it returns the exit code, the output and how long it ran.
func r2syncWithin(t *testing.T, timeout time.Duration, args ...string) (int, string, string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("r2sync %v still running after %s\nstdout: %s\nstderr: %s", args, timeout, &stdout, &stderr)
	}
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run r2sync %v: %v", args, err)
	}
	return code, stdout.String(), stderr.String(), took
}

// oneLine fails unless s is exactly one line.
func oneLine(t *testing.T, what, s string) string {
	t.Helper()
	s = strings.TrimSuffix(s, "\n")
	if s == "" || strings.Contains(s, "\n") {
		t.Errorf("%s: want one line, got %q", what, s)
	}
	return s
}

// TestRunRefusesASecondDaemon: two daemons on one state file (different
// resources, as in the issue) would both deliver the same pending status.
// The second refuses to start with one line naming the first one's PID
// and exit 75, before it connects anywhere; post, status and state reset
// keep working beside the running daemon; once it has stopped, the other
// may start.
func TestRunRefusesASecondDaemon(t *testing.T) {
	w := newWorld(t, "v1.1", "[sync]\ntemplate = \"{{.Text}}\"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })
	waitFor(t, "the daemon's session", 30*time.Second, func() bool { return w.sessionCount() == 1 })

	text := w.configText(apiKeys.ConsumerSecret, userPassword) + "[sync]\ntemplate = \"{{.Text}}\"\n"
	other := w.writeConfig("other.toml", strings.Replace(text, "[renren]\n", "[renren]\nresource = \"r2sync-other\"\n", 1))
	requests := len(w.server.Requests())
	code, stdout, stderr, took := r2syncWithin(t, 20*time.Second, "run", "--config", other)
	want := fmt.Sprintf("r2sync run: state file %s is in use by another r2sync run (pid %d)", w.state, d.cmd.Process.Pid)
	if code != 75 || oneLine(t, "stderr", stderr) != want || stdout != "" {
		t.Errorf("second run: exit %d after %s, stdout %q, stderr %q; want 75 and %q", code, took, stdout, stderr, want)
	}
	if n := len(w.server.Requests()); n != requests || loginsAs(w, "r2sync-other") != 0 {
		t.Errorf("the refused daemon connected: %d API requests, %d logins", n-requests, loginsAs(w, "r2sync-other"))
	}
	t.Logf("second run on the same state: exit %d after %s: %s", code, took.Round(time.Millisecond), strings.TrimSpace(stderr))

	// Beside the running daemon.
	if code, stdout, stderr, _ := r2syncWithin(t, time.Minute, "status", "--config", other); code != 0 || !strings.Contains(stdout, "state file:") {
		t.Errorf("status beside the daemon: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr, _ := r2syncWithin(t, time.Minute, "post", "--config", other, "posted beside"); code != 0 {
		t.Errorf("post beside the daemon: exit %d\n%s%s", code, stdout, stderr)
	}
	w.server.AddTweet(twittertest.Tweet{Text: "mirrored"})
	checkOnce(t, w.statuses(ctx, 2), []string{"posted beside", "mirrored"})
	if code, stdout, stderr, _ := r2syncWithin(t, time.Minute, "state", "reset", "--config", other); code != 0 {
		t.Errorf("state reset beside the daemon: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := loginsAs(w, "r2sync-other"); n != 0 {
		t.Errorf("%d logins of the refused daemon, want 0", n)
	}

	// The lock goes with the process, even a killed one.
	d.kill()
	d2 := w.start("--config", other)
	waitFor(t, "the other daemon's session", 30*time.Second, func() bool { return loginsAs(w, "r2sync-other") == 1 })
	d2.stop(t)
}

// loginsAs counts the logins (initial presences) of the user's resource.
func loginsAs(w *world, resource string) int {
	n := 0
	for _, p := range w.watcher.Presences() {
		if p.Type == "" && !p.HasStatus && p.From == userJID+"/"+resource {
			n++
		}
	}
	return n
}

// TestRunUnwritableState: a state that cannot be written used to give a
// WARN on every poll, forever, and exit 0 on SIGTERM. Now the start stops
// with one line naming the path and exit 73 (EX_CANTCREAT), before it
// connects anywhere. Tests run as root, whom permission bits do not stop:
// a directory that is a regular file (or a read-only mount) does.
func TestRunUnwritableState(t *testing.T) {
	w := newWorld(t, "v1.1", "")
	file := filepath.Join(w.dir, "file")
	if err := os.WriteFile(file, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, state, want string }{
		{"directory is a file", filepath.Join(file, "state.json"), "not a directory"},
	}
	ro := filepath.Join(w.dir, "ro")
	if err := os.Mkdir(ro, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", ro, "tmpfs", syscall.MS_RDONLY, "size=64k"); err == nil {
		t.Cleanup(func() { _ = syscall.Unmount(ro, 0) })
		cases = append(cases, struct{ name, state, want string }{"read-only file system", filepath.Join(ro, "state.json"), "read-only file system"})
	} else {
		t.Logf("no read-only tmpfs (%v): only the directory that is a file", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(w.configText(apiKeys.ConsumerSecret, userPassword), fmt.Sprintf("file = %q", w.state), fmt.Sprintf("file = %q", tc.state), 1)
			cfg := w.writeConfig(strings.ReplaceAll(tc.name, " ", "-")+".toml", text)
			code, stdout, stderr, took := r2syncWithin(t, 20*time.Second, "run", "--config", cfg)
			line := oneLine(t, "stderr", stderr)
			prefix := "r2sync run: state file " + tc.state + " cannot be written: "
			if code != 73 || !strings.HasPrefix(line, prefix) || !strings.Contains(line, tc.want) || stdout != "" {
				t.Errorf("exit %d after %s, stdout %q, stderr %q; want 73 and a line starting %q naming %q", code, took, stdout, stderr, prefix, tc.want)
			}
			if n := len(w.server.Requests()); n != 0 || w.sessionCount() != 0 {
				t.Errorf("the daemon connected before checking its state (%d API requests, %d sessions)", n, w.sessionCount())
			}
			t.Logf("%s: exit %d after %s: %s", tc.name, code, took.Round(time.Millisecond), line)
		})
	}
}

// TestRunListenNotHere: an http.listen address this machine does not have
// used to exit 1, which systemd restarts every 10s forever. It is a config
// error (78), said in one line naming the key, before anything connects.
func TestRunListenNotHere(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	content := fmt.Sprintf(`[twitter]
consumer_key = "a"
consumer_secret = "b"
access_token = "c"
access_secret = "d"
[renren]
jid = "1@talk.xiaonei.com"
password = "e"
[state]
file = %q
[http]
listen = "192.0.2.1:9479"
token_file = "http.token"
`, filepath.Join(dir, "state.json"))
	if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// Not loopback, so the token is required: with it, the address is
	// what fails.
	if err := os.WriteFile(filepath.Join(dir, "http.token"), []byte("listen-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr, took := r2syncWithin(t, 20*time.Second, "run", "--config", cfg)
	line := oneLine(t, "stderr", stderr)
	if code != 78 || !strings.HasPrefix(line, "r2sync run: http.listen: ") || !strings.Contains(line, "192.0.2.1:9479") {
		t.Errorf("exit %d after %s, stderr %q; want 78 and one line naming http.listen", code, took, stderr)
	}
	t.Logf("listen on an address not here: exit %d after %s: %s", code, took.Round(time.Millisecond), line)
}

// TestRunStopsOnAStateCorruptedWhileRunning: a state file that turns
// corrupt under the running daemon stops it (exit 65, EX_DATAERR) rather
// than have it start over and re-post; the HTTP listener, which outlives
// reloads, must not keep the process alive.
func TestRunStopsOnAStateCorruptedWhileRunning(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	w := newWorld(t, "v1.1", fmt.Sprintf("[http]\nlisten = %q\n", listen))
	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })
	if err := os.WriteFile(w.state, []byte(`{"initialized": tru`), 0o600); err != nil {
		t.Fatal(err)
	}
	w.server.AddTweet(twittertest.Tweet{Text: "after the corruption"})
	start := time.Now()
	err, took := exitWithin(t, d, start, 30*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 65 || !strings.Contains(d.out.String(), "is corrupt") {
		t.Errorf("exit %v after %s, want 65 naming the corrupt state; output:\n%s", err, took, d.out)
	}
	if n := len(texts(w.watcher.Statuses())); n != 0 {
		t.Errorf("%d statuses after the corruption, want 0", n)
	}
}
