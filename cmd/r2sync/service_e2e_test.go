package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// notifySocket is a fake systemd notify socket that records datagrams.
type notifySocket struct {
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
	done chan struct{}
}

func listenNotify(t *testing.T) (*notifySocket, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &notifySocket{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-s.done })
	return s, path
}

// index returns the position of the first message containing line as one
// of its lines, or -1.
func (s *notifySocket) index(line string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range s.msgs {
		for _, l := range strings.Split(m, "\n") {
			if l == line || (strings.HasSuffix(line, "*") && strings.HasPrefix(l, strings.TrimSuffix(line, "*"))) {
				return i
			}
		}
	}
	return -1
}

func (s *notifySocket) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// TestRunAsService runs the daemon the way systemd and a container do:
// with $NOTIFY_SOCKET and a watchdog, and with [http] listen, and checks
// the readiness protocol, the endpoints, `healthcheck` and `status`.
func TestRunAsService(t *testing.T) { forEachAPI(t, testRunAsService) }

func testRunAsService(t *testing.T, api string) {
	listen := closedPort(t)
	w := newWorld(t, api, fmt.Sprintf("[http]\nlisten = %q\n", listen))
	sock, path := listenNotify(t)
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "1000000") // a ping every 500ms
	t.Setenv("JOURNAL_STREAM", "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if code, _, stderr := r2sync(t, "healthcheck", "--config", w.config); code != 1 || !strings.Contains(stderr, "daemon not reachable") {
		t.Errorf("healthcheck without a daemon: exit %d, stderr %q; want 1, not reachable", code, stderr)
	}
	d := w.start()
	waitFor(t, "READY=1", 30*time.Second, func() bool { return sock.index("READY=1") >= 0 })
	ready := sock.index("READY=1")
	if i := sock.index("STATUS=connected*"); i < 0 || i > ready {
		t.Errorf("READY=1 came without a STATUS=connected line at or before it: %q", sock.all())
	}
	waitFor(t, "a watchdog ping after READY", 10*time.Second, func() bool {
		for _, m := range sock.all()[ready:] {
			if m == "WATCHDOG=1" {
				return true
			}
		}
		return false
	})
	if code, stdout, stderr := r2sync(t, "healthcheck", "--config", w.config); code != 0 || stdout != "ready: ok\n" {
		t.Errorf("healthcheck when ready: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	w.server.AddTweet(twittertest.Tweet{Text: "hello from the service test"})
	if got := w.statuses(ctx, 1); got[0] != "hello from the service test" {
		t.Fatalf("status %q", got[0])
	}
	base := "http://" + listen
	var metrics string
	waitFor(t, "the delivery in /metrics", 10*time.Second, func() bool {
		_, metrics = get(t, base+"/metrics")
		return strings.Contains(metrics, "\nr2sync_posts_mirrored_total{mirror=\"default\"} 1\n")
	})
	for _, want := range []string{
		"\nr2sync_xmpp_session_up{mirror=\"default\"} 1\n",
		"\nr2sync_ready{mirror=\"default\"} 1\n",
		"\nr2sync_posts_seen_total{mirror=\"default\"} 1\n",
		"\nr2sync_pending_statuses{mirror=\"default\"} 0\n",
		"\nr2sync_source_rate_limit_remaining{mirror=\"default\",source=\"twitter\"} ",
		"\nr2sync_seconds_since_last_success{mirror=\"default\",op=\"poll\"} ",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", strings.TrimSpace(want), metrics)
		}
	}
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	waitFor(t, "STATUS with the mirrored tweet", 15*time.Second, func() bool {
		return sock.index("STATUS=connected; 1 mirrored; last status *") >= 0
	})

	code, stdout, stderr := r2sync(t, "status", "--config", w.config)
	if code != 0 {
		t.Fatalf("status: exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"mirrored:       1 status\n", "last mirrored:  tweet ", "pending:        none\n", "daemon:         ready\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status output lacks %q:\n%s", want, stdout)
		}
	}
	t.Logf("r2sync status:\n%s", stdout)

	d.stop(t)
	if i := sock.index("STOPPING=1"); i < ready {
		t.Errorf("no STOPPING=1 after READY=1: %q", sock.all())
	}
	if !strings.Contains(d.out.String(), `"ts":`) {
		t.Errorf("JSON logs off journald lack timestamps:\n%s", d.out)
	}
}

// get fetches url and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
