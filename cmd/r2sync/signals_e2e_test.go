package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// exitWithin waits for d to exit within limit and returns its error and
// how long it took from start.
func exitWithin(t *testing.T, d *daemonProc, start time.Time, limit time.Duration) (error, time.Duration) {
	t.Helper()
	select {
	case err := <-d.exited:
		d.exited <- err
		return err, time.Since(start)
	case <-time.After(limit - time.Since(start)):
		t.Fatalf("still running %s later; output:\n%s", limit, d.out)
		return nil, 0
	}
}

// TestSignalEndsRunPromptly sends SIGTERM to `r2sync run` in each phase
// where it used to be ignored or could be: start-up blocked where no
// context reaches, a status template that loops, a login to a server that
// never answers, a poll the API never answers. Each ends the process
// within a few seconds.
func TestSignalEndsRunPromptly(t *testing.T) {
	t.Setenv("GORACE", "atexit_sleep_ms=0")

	t.Run("start-up blocked on a config file nobody writes", func(t *testing.T) {
		// Opening a FIFO without a writer blocks in the kernel: no context
		// reaches it, only the deadline after the signal does.
		fifo := filepath.Join(t.TempDir(), "config.toml")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		w := &world{t: t, config: fifo, state: filepath.Join(t.TempDir(), "state.json")}
		d := w.start()
		time.Sleep(500 * time.Millisecond) // a moment to block in open(2); there is nothing to wait for
		start := time.Now()
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		err, took := exitWithin(t, d, start, shutdownDeadline+4*time.Second)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
			t.Errorf("exit %v, want death by SIGTERM", err)
		}
		if want := fmt.Sprintf("r2sync: still running %s after terminated; exiting now", shutdownDeadline); strings.TrimSpace(d.out.String()) != want {
			t.Errorf("output %q, want %q", d.out, want)
		}
		if took < shutdownDeadline {
			t.Errorf("exit after %s, before the deadline of %s", took, shutdownDeadline)
		}
		t.Logf("blocked start-up: exit (%v) %s after SIGTERM", err, took.Round(time.Millisecond))
	})

	t.Run("template that loops", func(t *testing.T) {
		w := newWorld(t, "v1.1", "[sync]\ntemplate = \"{{range 100000}}{{range 100000}}{{range 100000}}x{{end}}{{end}}{{end}}\"\n")
		start := time.Now()
		d := w.start()
		select {
		case err := <-d.exited:
			d.exited <- err
		case <-time.After(2 * time.Second):
			// The old start-up: the sample render never returns. Ask it to stop.
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
		}
		err, took := exitWithin(t, d, start, 7*time.Second)
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		line := strings.TrimSpace(d.out.String())
		if code != 78 || !strings.Contains(line, "sync.template: {{range}} is not allowed") || strings.Contains(line, "\n") {
			t.Errorf("exit %d after %s, output %q; want 78 and one line naming sync.template", code, took, line)
		}
		if n := len(w.server.Requests()); n != 0 {
			t.Errorf("%d API requests before the config was refused", n)
		}
		t.Logf("looping template: exit %d after %s: %s", code, took.Round(time.Millisecond), line)
	})

	t.Run("login to a server that never answers", func(t *testing.T) {
		w := newWorld(t, "v1.1", "")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var accepted atomic.Int32
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				defer c.Close() // holds it open, silent
			}
		}()
		w.rewriteConfig(fmt.Sprintf("address = %q", w.prosody.Addr()), fmt.Sprintf("address = %q", ln.Addr()))
		d := w.start()
		waitFor(t, "the login attempt", 30*time.Second, func() bool { return accepted.Load() > 0 })
		start := time.Now()
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		err, took := exitWithin(t, d, start, 10*time.Second)
		if err != nil || took > 5*time.Second {
			t.Errorf("exit %v after %s, want 0 within 5s", err, took)
		}
		t.Logf("mid-login: exit (%v) %s after SIGTERM", err, took.Round(time.Millisecond))
	})

	t.Run("poll the API never answers", func(t *testing.T) {
		w := newWorld(t, "v1.1", "")
		proxy := newAPIProxy(t, w.server.URL())
		u, _ := url.Parse(w.server.URL())
		w.rewriteConfig("//"+u.Host, "//"+proxy.host, "[twitter]\n", "[twitter]\ntimeout = \"5m\"\n")
		w.server.Fail(twittertest.Fault{Delay: time.Hour, Times: 100})
		d := w.start()
		waitFor(t, "a request to hang", 30*time.Second, func() bool { return len(proxy.hits()) > 0 })
		start := time.Now()
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		err, took := exitWithin(t, d, start, 10*time.Second)
		if err != nil || took > 5*time.Second {
			t.Errorf("exit %v after %s, want 0 within 5s", err, took)
		}
		t.Logf("mid-poll: exit (%v) %s after SIGTERM", err, took.Round(time.Millisecond))
	})
}
