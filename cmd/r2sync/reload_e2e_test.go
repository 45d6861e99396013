package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// reloadAndWait sends SIGHUP and waits for the log line that ends the
// reload, msg ("config reloaded" or "config not reloaded"); it returns
// that line and how long the reload took.
func reloadAndWait(t *testing.T, d *daemonProc, msg string) (string, time.Duration) {
	t.Helper()
	key := fmt.Sprintf("%q", msg)
	before := strings.Count(d.out.String(), key)
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, msg, 30*time.Second, func() bool { return strings.Count(d.out.String(), key) > before })
	took := time.Since(start)
	var line string
	for _, l := range strings.Split(d.out.String(), "\n") {
		if strings.Contains(l, key) {
			line = l
		}
	}
	return line, took
}

// TestReloadOnSIGHUP: SIGHUP used to kill the daemon without a clean
// shutdown. Now it reloads the config: a new template applies to the next
// status, and nothing is lost or repeated, neither when the XMPP session
// is kept (only [sync] changed) nor when it is replaced while statuses
// are being delivered. An invalid config is one error line naming the
// key, and the running config keeps mirroring.
func TestReloadOnSIGHUP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	w := newWorld(t, "v1.1", fmt.Sprintf("[sync]\ntemplate = \"[a] {{.Text}}\"\n[http]\nlisten = %q\n", listen))
	// ready waits for /readyz to answer 200: the monitor of the new
	// config knows the session it was handed is up.
	ready := func(t *testing.T) {
		t.Helper()
		waitFor(t, "/readyz to be ok", 20*time.Second, func() bool {
			code, _, err := httpGet(ctx, "http://"+listen+"/readyz")
			return err == nil && code == 200
		})
	}
	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })
	waitFor(t, "the daemon's session", 30*time.Second, func() bool { return w.sessionCount() == 1 })
	want := []string{"[a] one"}
	w.server.AddTweet(twittertest.Tweet{Text: "one"})
	checkOnce(t, w.statuses(ctx, len(want)), want)

	t.Run("new template, same session", func(t *testing.T) {
		w.rewriteConfig(`"[a] {{.Text}}"`, `"[b] {{.Text}}"`)
		line, took := reloadAndWait(t, d, "config reloaded")
		if !strings.Contains(line, `"xmpp_session_kept":true`) {
			t.Errorf("reload line %s: want the session kept", line)
		}
		w.server.AddTweet(twittertest.Tweet{Text: "two"})
		want = append(want, "[b] two")
		checkOnce(t, w.statuses(ctx, len(want)), want)
		ready(t)
		if n, gone := w.sessionCount(), countUnavailable(w); n != 1 || gone != 0 {
			t.Errorf("%d logins and %d unavailable presences, want the one session kept", n, gone)
		}
		t.Logf("template reload: %s from SIGHUP to %q; next status %q", took.Round(time.Millisecond), "config reloaded", want[len(want)-1])
	})

	t.Run("invalid config keeps the running one", func(t *testing.T) {
		w.rewriteConfig(fmt.Sprintf("jid = %q", userJID), `jid = "123456@b<x>"`)
		line, _ := reloadAndWait(t, d, "config not reloaded; the running config stays")
		if !strings.Contains(line, `renren.jid: domain \"b<x>\" is not a valid domain name`) || !strings.Contains(line, w.config) {
			t.Errorf("error line %s: want it to name the file and renren.jid", line)
		}
		w.server.AddTweet(twittertest.Tweet{Text: "three"})
		want = append(want, "[b] three")
		checkOnce(t, w.statuses(ctx, len(want)), want)
		if n := strings.Count(d.out.String(), `"config not reloaded`); n != 1 {
			t.Errorf("%d error lines, want 1", n)
		}
		w.rewriteConfig(`jid = "123456@b<x>"`, fmt.Sprintf("jid = %q", userJID))
	})

	t.Run("new session during delivery", func(t *testing.T) {
		logins, gone := w.sessionCount(), countUnavailable(w)
		// A changed [renren] section means a new session; the statuses
		// queued meanwhile must each come once, in order.
		w.rewriteConfig(`ping_interval = "30s"`, `ping_interval = "20s"`, `"[b] {{.Text}}"`, `"[c] {{.Text}}"`)
		batch := numbered("reload stream", 10)
		for _, text := range batch {
			w.server.AddTweet(twittertest.Tweet{Text: text})
		}
		w.statuses(ctx, len(want)+1)
		line, took := reloadAndWait(t, d, "config reloaded")
		pendingAtReload := len(w.readState().Pending)
		if !strings.Contains(line, `"xmpp_session_kept":false`) {
			t.Errorf("reload line %s: want a new session", line)
		}
		w.server.AddTweet(twittertest.Tweet{Text: "four"})
		got := w.statuses(ctx, len(want)+len(batch)+1)
		// The batch was queued, and so rendered, before or after the
		// reload: strip the template to compare.
		var plain []string
		for _, s := range got[len(want):] {
			plain = append(plain, strings.TrimPrefix(strings.TrimPrefix(s, "[b] "), "[c] "))
		}
		checkOnce(t, plain, append(slices.Clone(batch), "four"))
		if last := got[len(got)-1]; last != "[c] four" {
			t.Errorf("status after the reload %q, want %q", last, "[c] four")
		}
		waitFor(t, "the new login", 10*time.Second, func() bool { return w.sessionCount() == logins+1 })
		if n := countUnavailable(w); n != gone+1 {
			t.Errorf("%d unavailable presences, want %d: the old session closes cleanly", n, gone+1)
		}
		ready(t)
		want = append(want, got[len(want):]...)
		t.Logf("session reload during delivery: %s from SIGHUP to %q with %d statuses still pending; %d statuses each once", took.Round(time.Millisecond), "config reloaded", pendingAtReload, len(batch)+1)
	})

	if n := strings.Count(d.out.String(), `"config reloaded"`); n != 2 {
		t.Errorf("%d %q lines, want 2", n, "config reloaded")
	}
	d.stop(t)
	if st := w.readState(); len(st.Pending) != 0 {
		t.Errorf("pending after stop: %v", st.Pending)
	}
}
