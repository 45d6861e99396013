package health_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/health"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newMonitor(c *clock) *health.Monitor {
	return health.New(health.Options{PollInterval: time.Minute, Now: c.Now, Version: "v1.2.3"})
}

// Errors shaped like the adapters' errors.
type rateLimited struct{}

func (rateLimited) Error() string      { return "twitter api: status 429: rate limited" }
func (rateLimited) RetryAt() time.Time { return time.Unix(1e9, 0) }
func (rateLimited) RateLimited() bool  { return true }
func (rateLimited) Permanent() bool    { return false }

type permanent struct{}

func (permanent) Error() string   { return "twitter api: status 401: check the tokens" }
func (permanent) Permanent() bool { return true }

type fatal struct{}

func (fatal) Error() string { return "login failed for 1@x: not-authorized" }
func (fatal) Fatal() bool   { return true }

type netTimeout struct{}

func (netTimeout) Error() string   { return "i/o timeout" }
func (netTimeout) Timeout() bool   { return true }
func (netTimeout) Temporary() bool { return true }

type netRefused struct{}

func (netRefused) Error() string   { return "connection refused" }
func (netRefused) Timeout() bool   { return false }
func (netRefused) Temporary() bool { return false }

func TestKind(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "fatal", err: fmt.Errorf("xmpp: %w", fatal{}), want: "fatal"},
		{name: "rate limited", err: fmt.Errorf("fetch posts: %w", rateLimited{}), want: "rate_limited"},
		{name: "permanent", err: fmt.Errorf("fetch posts: %w", permanent{}), want: "permanent"},
		{name: "deadline", err: fmt.Errorf("fetch: %w", context.DeadlineExceeded), want: "timeout"},
		{name: "net timeout", err: fmt.Errorf("dial: %w", netTimeout{}), want: "timeout"},
		{name: "net refused", err: fmt.Errorf("dial: %w", netRefused{}), want: "network"},
		{name: "plain", err: errors.New("502 bad gateway"), want: "other"},
		{name: "disk full", err: fmt.Errorf("save state: %w", &fs.PathError{Op: "write", Path: "/s", Err: syscall.ENOSPC}), want: "disk_full"},
		{name: "quota", err: fmt.Errorf("save state: %w", syscall.EDQUOT), want: "disk_full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := health.Kind(tt.err); got != tt.want {
				t.Errorf("Kind(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestReadyAndLive(t *testing.T) {
	c := newClock()
	m := newMonitor(c)
	if err := m.Live(); err != nil {
		t.Fatalf("fresh monitor not live: %v", err)
	}
	if err := m.Ready(); err == nil || !strings.Contains(err.Error(), "xmpp session down") {
		t.Fatalf("fresh monitor Ready() = %v, want xmpp session down", err)
	}
	m.SessionUp()
	if err := m.Ready(); err == nil || !strings.Contains(err.Error(), "no successful poll yet") {
		t.Fatalf("Ready() before a poll = %v", err)
	}
	m.Polled(fmt.Errorf("fetch posts: %w", permanent{}))
	if err := m.Ready(); err == nil || !strings.Contains(err.Error(), "status 401") {
		t.Fatalf("Ready() after a failed first poll = %v, want the poll error", err)
	}
	select {
	case <-m.FirstPoll():
		t.Fatal("FirstPoll closed by a failed poll")
	default:
	}
	m.Polled(nil)
	if err := m.Ready(); err != nil {
		t.Fatalf("Ready() with a session and a good poll = %v", err)
	}
	select {
	case <-m.FirstPoll():
	default:
		t.Fatal("FirstPoll not closed after a good poll")
	}

	c.Advance(3 * time.Minute)
	if err := m.Ready(); err != nil {
		t.Fatalf("Ready() exactly 3 intervals after a good poll = %v", err)
	}
	c.Advance(time.Second)
	m.Polled(errors.New("502 bad gateway"))
	err := m.Ready()
	if err == nil || !strings.Contains(err.Error(), "no successful poll for 3m1s") || !strings.Contains(err.Error(), "502 bad gateway") {
		t.Fatalf("Ready() after 3 intervals of failures = %v", err)
	}
	if err := m.Live(); err != nil {
		t.Fatalf("failing polls still mean a live loop, got %v", err)
	}
	m.Polled(nil)
	m.SessionDown(errors.New("stream closed"))
	if err := m.Ready(); err == nil || !strings.Contains(err.Error(), "xmpp session down") {
		t.Fatalf("Ready() after SessionDown = %v", err)
	}

	// The loop may wait up to MaxPollWait between polls (a rejected
	// credential, a rate-limit reset), and a poll may take PollTimeout;
	// beyond that it is stuck.
	c.Advance(daemon.MaxPollWait + daemon.PollTimeout)
	if err := m.Live(); err != nil {
		t.Fatalf("Live() at the longest legitimate wait = %v", err)
	}
	c.Advance(time.Second)
	if err := m.Live(); err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("Live() past the longest wait = %v, want stalled", err)
	}
	m.Polled(nil)
	if err := m.Live(); err != nil {
		t.Fatalf("Live() after a new poll = %v", err)
	}
	m.Stopped()
	if err := m.Live(); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("Live() after Stopped = %v", err)
	}
}

func TestSummary(t *testing.T) {
	c := newClock()
	m := newMonitor(c)
	if got, want := m.Summary(), "connecting to XMPP; none mirrored yet; first poll pending"; got != want {
		t.Errorf("fresh Summary() = %q, want %q", got, want)
	}
	m.Restore(daemon.State{
		Mirrored:     11,
		LastMirrored: &daemon.Delivered{PostID: "1", At: c.Now().Add(-time.Hour)},
		Pending:      []daemon.Status{{PostID: "2"}},
	})
	m.SessionUp()
	m.Polled(nil)
	if got, want := m.Summary(), "connected; 11 mirrored; last status 1h ago; 1 pending"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	m.Delivered("2", time.Second)
	m.Pending(0)
	c.Advance(3 * time.Minute)
	if got, want := m.Summary(), "connected; 12 mirrored; last status 3m ago"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	m.Polled(errors.New("twitter api: status 503\nretry later"))
	c.Advance(2 * time.Minute)
	m.SessionDown(errors.New("stream closed"))
	if got, want := m.Summary(), "XMPP down, reconnecting; 12 mirrored; last status 5m ago; polls failing for 2m ago: twitter api: status 503 retry later"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
}

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                   "just now",
		42 * time.Second:    "42s ago",
		3 * time.Minute:     "3m ago",
		5 * time.Hour:       "5h ago",
		47 * time.Hour:      "47h ago",
		72 * time.Hour:      "3d ago",
		59*time.Minute + 59: "59m ago",
	} {
		if got := health.Ago(d); got != want {
			t.Errorf("Ago(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestMetrics(t *testing.T) {
	c := newClock()
	reset := c.Now().Add(10 * time.Minute)
	m := health.New(health.Options{
		PollInterval: time.Minute, Now: c.Now, Version: `v1 "quoted"`,
		Source: reportingSource{
			rl:    daemon.RateLimit{Limit: 900, Remaining: 897, Reset: reset},
			usage: daemon.Usage{Requests: 7, ReadRequests: 6, PostsRead: 5, PostsCreated: 1},
		},
		SourceName: "twitter",
	})
	m.Restore(daemon.State{Mirrored: 40})
	m.SessionUp()
	m.SessionDown(errors.New("stream closed"))
	m.SessionUp()
	m.Polled(nil)
	m.Seen(5)
	m.Skipped("reply")
	m.Skipped("repost")
	m.Skipped("posted by r2sync post")
	m.Pending(3)
	c.Advance(2 * time.Second)
	m.Delivered("1", 1500*time.Millisecond)
	m.Delivered("2", 500*time.Millisecond)
	m.DeliveryFailed(fmt.Errorf("set status: %w", context.DeadlineExceeded))
	m.Pending(1)
	m.Polled(fmt.Errorf("fetch posts: %w", rateLimited{}))
	m.FeedEvent()
	c.Advance(8 * time.Second)

	var b strings.Builder
	if err := m.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`r2sync_build_info{version="v1 \"quoted\""} 1`,
		`r2sync_polls_total{mirror="default",result="error"} 1`,
		`r2sync_polls_total{mirror="default",result="ok"} 1`,
		`r2sync_posts_seen_total{mirror="default"} 5`,
		`r2sync_posts_skipped_total{mirror="default",reason="posted by r2sync post"} 1`,
		`r2sync_posts_skipped_total{mirror="default",reason="reply"} 1`,
		`r2sync_posts_skipped_total{mirror="default",reason="repost"} 1`,
		`r2sync_posts_mirrored_total{mirror="default"} 2`,
		`r2sync_statuses_delivered_total{mirror="default",result="error"} 1`,
		`r2sync_statuses_delivered_total{mirror="default",result="ok"} 2`,
		`r2sync_status_queue_seconds_sum{mirror="default"} 2`,
		`r2sync_status_queue_seconds_count{mirror="default"} 2`,
		`r2sync_mirrored_lifetime{mirror="default"} 42`,
		`r2sync_pending_statuses{mirror="default"} 1`,
		`r2sync_errors_total{mirror="default",op="deliver",kind="timeout"} 1`,
		`r2sync_errors_total{mirror="default",op="poll",kind="rate_limited"} 1`,
		`r2sync_errors_total{mirror="default",op="xmpp",kind="other"} 1`,
		`r2sync_xmpp_session_up{mirror="default"} 1`,
		`r2sync_xmpp_reconnects_total{mirror="default"} 1`,
		`r2sync_feed_events_total{mirror="default"} 1`,
		`r2sync_seconds_since_last_success{mirror="default",op="poll"} 10`,
		`r2sync_seconds_since_last_success{mirror="default",op="deliver"} 8`,
		fmt.Sprintf(`r2sync_last_success_timestamp_seconds{mirror="default",op="poll"} %d`, c.Now().Add(-10*time.Second).Unix()),
		`r2sync_ready{mirror="default"} 1`,
		`r2sync_source_rate_limit_remaining{mirror="default",source="twitter"} 897`,
		`r2sync_source_rate_limit_limit{mirror="default",source="twitter"} 900`,
		fmt.Sprintf(`r2sync_source_rate_limit_reset_timestamp_seconds{mirror="default",source="twitter"} %d`, reset.Unix()),
		`r2sync_source_requests_total{mirror="default",source="twitter",kind="read"} 6`,
		`r2sync_source_requests_total{mirror="default",source="twitter",kind="write"} 1`,
		`r2sync_source_posts_read_total{mirror="default",source="twitter"} 5`,
		`r2sync_source_posts_created_total{mirror="default",source="twitter"} 1`,
		"# TYPE r2sync_polls_total counter",
		"# TYPE r2sync_pending_statuses gauge",
	} {
		if !hasLine(out, want) {
			t.Errorf("metrics lack the line %q", want)
		}
	}
	checkExposition(t, out)
}

// Unacknowledged sends are counted by outcome, and a state that cannot be
// written makes the daemon unready until a write succeeds again.
func TestUncertainAndStateWrites(t *testing.T) {
	c := newClock()
	m := newMonitor(c)
	m.SessionUp()
	m.Polled(nil)
	m.Uncertain("7", false)
	m.Uncertain("7", false)
	m.Uncertain("7", true)
	full := fmt.Errorf("save state: write state journal: %w", &fs.PathError{Op: "write", Path: "/var/lib/r2sync/state.json.journal.3", Err: syscall.ENOSPC})
	m.StateWrite(full)
	m.StateWrite(full)
	if err := m.Ready(); err == nil || !strings.Contains(err.Error(), "state not saved: ") || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("Ready() while the state cannot be saved = %v", err)
	}
	if s := m.Summary(); !strings.Contains(s, "state not saved: save state: write state journal") {
		t.Errorf("Summary() while the state cannot be saved = %q", s)
	}
	var b strings.Builder
	if err := m.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`r2sync_statuses_uncertain_total{mirror="default",outcome="dropped"} 1`,
		`r2sync_statuses_uncertain_total{mirror="default",outcome="retried"} 2`,
		`r2sync_errors_total{mirror="default",op="state",kind="disk_full"} 2`,
		`r2sync_ready{mirror="default"} 0`,
	} {
		if !hasLine(b.String(), want) {
			t.Errorf("metrics lack the line %q", want)
		}
	}
	checkExposition(t, b.String())
	m.StateWrite(nil)
	if err := m.Ready(); err != nil {
		t.Errorf("Ready() once the state is saved again = %v", err)
	}
}

func TestMetricsWithoutRateLimit(t *testing.T) {
	m := newMonitor(newClock())
	var b strings.Builder
	if err := m.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "rate_limit") || strings.Contains(out, "r2sync_source_") {
		t.Errorf("source metrics without a source that reports them:\n%s", out)
	}
	for _, want := range []string{`r2sync_polls_total{mirror="default",result="ok"} 0`, `r2sync_posts_skipped_total{mirror="default",reason="reply"} 0`, `r2sync_ready{mirror="default"} 0`} {
		if !hasLine(out, want) {
			t.Errorf("metrics lack the line %q", want)
		}
	}
	checkExposition(t, out)
}

// checkExposition checks the rules of the text format that a scraper
// enforces: each family's HELP and TYPE come once, before its samples,
// and every sample line is "name{labels} value".
func checkExposition(t *testing.T, out string) {
	t.Helper()
	typed := map[string]string{}
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "# HELP "):
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 {
				t.Errorf("line %d: bad TYPE %q", i+1, line)
				continue
			}
			if _, dup := typed[f[2]]; dup {
				t.Errorf("line %d: family %s typed twice", i+1, f[2])
			}
			typed[f[2]] = f[3]
		default:
			name, _, _ := strings.Cut(line, "{")
			name, _, _ = strings.Cut(name, " ")
			family := name
			for _, suffix := range []string{"_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && typed[base] == "summary" {
					family = base
				}
			}
			if _, ok := typed[family]; !ok {
				t.Errorf("line %d: sample %q before its TYPE", i+1, line)
			}
			if j := strings.LastIndexByte(line, ' '); j < 0 || strings.ContainsAny(line[j+1:], "{}\"") {
				t.Errorf("line %d: no value in %q", i+1, line)
			}
		}
	}
}

func hasLine(out, line string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

func TestHandler(t *testing.T) {
	c := newClock()
	m := newMonitor(c)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if code, _, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	if code, _, body := get("/readyz"); code != 503 || body != "xmpp session down\n" {
		t.Errorf("/readyz before the session = %d %q, want 503 naming the session", code, body)
	}
	m.SessionUp()
	m.Polled(nil)
	if code, _, body := get("/readyz"); code != 200 || body != "ok\n" {
		t.Errorf("/readyz when ready = %d %q", code, body)
	}
	code, ctype, body := get("/metrics")
	if code != 200 || ctype != "text/plain; version=0.0.4; charset=utf-8" || !hasLine(body, `r2sync_ready{mirror="default"} 1`) {
		t.Errorf("/metrics = %d %q:\n%s", code, ctype, body)
	}
	if code, _, _ := get("/nope"); code != 404 {
		t.Errorf("/nope = %d, want 404", code)
	}
	resp, err := srv.Client().Post(srv.URL+"/readyz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /readyz = %d, want 405", resp.StatusCode)
	}
}

// plainSource is a daemon.Source with no optional ability.
type plainSource struct{}

func (plainSource) Since(context.Context, string) ([]daemon.Post, error) { return nil, nil }
func (plainSource) Newest(context.Context) (string, error)               { return "", nil }

// reportingSource reports a rate-limit budget and API usage.
type reportingSource struct {
	plainSource
	rl    daemon.RateLimit
	usage daemon.Usage
}

func (r reportingSource) RateLimit() daemon.RateLimit { return r.rl }
func (r reportingSource) Usage() daemon.Usage         { return r.usage }

// The monitor asks the source itself for its optional abilities at each
// scrape: a source without them has no source metrics, one with a rate
// limit and no usage has only those, and a mirror other than the default
// is named in every metric.
func TestSourceAbilities(t *testing.T) {
	scrape := func(opts health.Options) string {
		t.Helper()
		var b strings.Builder
		if err := health.New(opts).WriteMetrics(&b); err != nil {
			t.Fatal(err)
		}
		checkExposition(t, b.String())
		return b.String()
	}
	if out := scrape(health.Options{Source: plainSource{}, SourceName: "x"}); strings.Contains(out, "r2sync_source_") {
		t.Errorf("source metrics for a source without the abilities:\n%s", out)
	}
	type limitOnly struct {
		plainSource
		daemon.RateLimitReporter
	}
	out := scrape(health.Options{Mirror: "alice", SourceName: "x", Source: limitOnly{RateLimitReporter: reportingSource{rl: daemon.RateLimit{Limit: 5}}}})
	if !hasLine(out, `r2sync_source_rate_limit_limit{mirror="alice",source="x"} 5`) || strings.Contains(out, "r2sync_source_requests_total") {
		t.Errorf("a source with a rate limit only:\n%s", out)
	}
	if !hasLine(out, `r2sync_ready{mirror="alice"} 0`) || !hasLine(out, `r2sync_pending_statuses{mirror="alice"} 0`) {
		t.Errorf("metrics do not name the mirror:\n%s", out)
	}
}

// TestConcurrent lets the mirror's goroutines, the session and scrapes
// meet under the race detector.
func TestConcurrent(t *testing.T) {
	m := health.New(health.Options{Source: reportingSource{rl: daemon.RateLimit{Limit: 1}}})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				switch i % 4 {
				case 0:
					m.Polled(nil)
					m.Skipped("reply")
				case 1:
					m.Delivered("1", time.Second)
					m.Pending(i)
				case 2:
					m.SessionUp()
					m.SessionDown(errors.New("x"))
					m.FeedEvent()
				case 3:
					_ = m.WriteMetrics(io.Discard)
					_ = m.Summary()
					_ = m.Ready()
				}
			}
		}()
	}
	wg.Wait()
	var b strings.Builder
	if err := m.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	if !hasLine(b.String(), `r2sync_polls_total{mirror="default",result="ok"} 200`) || !hasLine(b.String(), `r2sync_posts_mirrored_total{mirror="default"} 200`) {
		t.Errorf("counts lost under concurrency:\n%s", b.String())
	}
}

// countingSource counts events it does not mirror.
type countingSource struct {
	plainSource
	counts map[string]int64
}

func (c countingSource) EventCounts() map[string]int64 { return c.counts }

// A source's event counts (edits, deletes, …) are counters by event name,
// in a stable order.
func TestSourceEventCounts(t *testing.T) {
	var b strings.Builder
	src := countingSource{counts: map[string]int64{"edit": 2, "delete": 1}}
	if err := health.New(health.Options{Source: src, SourceName: "mastodon"}).WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	checkExposition(t, b.String())
	out := b.String()
	del := strings.Index(out, `r2sync_source_events_total{mirror="default",source="mastodon",event="delete"} 1`)
	edit := strings.Index(out, `r2sync_source_events_total{mirror="default",source="mastodon",event="edit"} 2`)
	if del < 0 || edit < 0 || del > edit {
		t.Errorf("event counters missing or unordered:\n%s", out)
	}
}
