package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// testEnv returns an env whose output the test reads, with a fixed clock.
func testEnv(now time.Time) (*env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }, now: func() time.Time { return now }}, &stdout, &stderr
}

// statusConfig writes a config naming state (and listen, when set) and
// returns its path. The secrets are absent: status must not need them.
func statusConfig(t *testing.T, state, listen string) string {
	t.Helper()
	text := fmt.Sprintf("[renren]\njid = \"1@talk.xiaonei.com\"\npassword_file = \"/nonexistent/secret\"\n[state]\nfile = %q\n", state)
	if listen != "" {
		text += fmt.Sprintf("[http]\nlisten = %q\n", listen)
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStatus(t *testing.T) {
	t.Setenv("TZ", "UTC")
	now := time.Date(2026, 11, 23, 21, 30, 0, 0, time.UTC)
	state := filepath.Join(t.TempDir(), "state.json")
	cfg := statusConfig(t, state, "")
	ctx := context.Background()

	e, stdout, _ := testEnv(now)
	if err := cmdStatus(ctx, e, []string{"--config", cfg}); err != nil {
		t.Fatal(err)
	}
	if want := "state file:  " + state + "\nstarted:     not yet: the first start records your newest tweet and mirrors nothing older\n"; stdout.String() != want {
		t.Errorf("before the first start:\n%s\nwant\n%s", stdout, want)
	}

	_, err := statefile.New(state).Update(ctx, func(s *daemon.State) error {
		s.Initialized = true
		s.Cursors = map[string]string{sourceKey(""): "1864000000000000003"}
		s.Mirrored = 12
		s.LastMirrored = &daemon.Delivered{PostID: "1864000000000000001", At: now.Add(-3 * time.Minute)}
		s.Pending = []daemon.Status{
			{PostID: "1864000000000000002", Text: "Tom & Jerry <3\nXMPP", QueuedAt: now.Add(-2 * time.Minute)},
			{PostID: "1864000000000000003", Text: strings.Repeat("长", 80), QueuedAt: now.Add(-90 * time.Second)},
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e, stdout, _ = testEnv(now)
	if err := cmdStatus(ctx, e, []string{"--config", cfg}); err != nil {
		t.Fatal(err)
	}
	want := `state file:     ` + state + `
mirrored:       12 statuses
last mirrored:  tweet 1864000000000000001 at 2026-11-23 21:27:00 UTC (3m ago)
newest seen:    tweet 1864000000000000003 (only newer tweets are mirrored)
pending:        2 waiting for the XMPP server, oldest first:
                tweet 1864000000000000002, queued 2m ago: "Tom & Jerry <3 XMPP"
                tweet 1864000000000000003, queued 1m ago: "` + strings.Repeat("长", 59) + `…"
`
	if stdout.String() != want {
		t.Errorf("status:\n%s\nwant\n%s", stdout, want)
	}
}

func TestStatusAsksTheDaemon(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	now := time.Now()
	srv := daemonServer(t, 503, "xmpp session down", `r2sync_posts_skipped_total{mirror="default",reason="reply"} 0
r2sync_posts_skipped_total{mirror="default",reason="skip_tags"} 2
r2sync_posts_skipped_total{mirror="default",reason="visibility"} 1
r2sync_posts_skipped_total{mirror="other",reason="reply"} 7
`)
	e, stdout, _ := testEnv(now)
	if err := cmdStatus(context.Background(), e, []string{"--config", statusConfig(t, state, srv)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "daemon:      not ready: xmpp session down\n") {
		t.Errorf("status output lacks the daemon's answer:\n%s", stdout)
	}
	if !strings.Contains(stdout.String(), "skipped:     2 skip_tags, 1 visibility since the daemon started\n") {
		t.Errorf("status output lacks the skips by reason:\n%s", stdout)
	}

	e, stdout, _ = testEnv(now)
	if err := cmdStatus(context.Background(), e, []string{"--config", statusConfig(t, state, closedPort(t))}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "not reachable at http://127.0.0.1:") {
		t.Errorf("status output with no daemon:\n%s", stdout)
	}
}

func TestStatusCorruptState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, _, _ := testEnv(time.Now())
	err := cmdStatus(context.Background(), e, []string{"--config", statusConfig(t, state, "")})
	if err == nil || !strings.Contains(err.Error(), "is corrupt") {
		t.Fatalf("corrupt state: err %v", err)
	}
}

// daemonServer answers /readyz with code and ready, and /metrics with
// metrics, as a running daemon does; it returns its host:port.
func daemonServer(t *testing.T, code int, ready, metrics string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.WriteHeader(code)
			_, _ = w.Write([]byte(ready + "\n"))
		case "/metrics":
			_, _ = w.Write([]byte(metrics))
		default:
			t.Errorf("request %s %s, want /readyz or /metrics", r.Method, r.URL.Path)
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
