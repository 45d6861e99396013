package health_test

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/health"
)

// Several mirrors in one registry: one HELP and TYPE per family however
// many mirrors, every series labelled with its mirror, build info once.
func TestRegistryMetrics(t *testing.T) {
	c := newClock()
	r := health.NewRegistry(health.RegistryOptions{Version: "v9", Now: c.Now})
	names := []string{"carol", "alice", "bob"}
	mons := map[string]*health.Monitor{}
	for i, name := range names {
		m := r.Mirror(name, health.Options{PollInterval: time.Minute, Version: "ignored",
			Source: reportingSource{rl: daemon.RateLimit{Limit: 900, Remaining: 900 - i}}, SourceName: "twitter"})
		mons[name] = m
	}
	mons["alice"].Polled(nil)
	mons["alice"].Polled(nil)
	mons["bob"].Polled(errors.New("502 bad gateway"))
	mons["carol"].Skipped("reply")

	var b strings.Builder
	if err := r.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	checkExposition(t, out)
	for _, want := range []string{
		`r2sync_build_info{version="v9"} 1`,
		`r2sync_polls_total{mirror="alice",result="ok"} 2`,
		`r2sync_polls_total{mirror="bob",result="ok"} 0`,
		`r2sync_polls_total{mirror="bob",result="error"} 1`,
		`r2sync_errors_total{mirror="bob",op="poll",kind="other"} 1`,
		`r2sync_posts_skipped_total{mirror="carol",reason="reply"} 1`,
		`r2sync_posts_skipped_total{mirror="alice",reason="reply"} 0`,
		`r2sync_source_rate_limit_remaining{mirror="carol",source="twitter"} 900`,
		`r2sync_source_rate_limit_remaining{mirror="alice",source="twitter"} 899`,
		`r2sync_ready{mirror="bob"} 0`,
	} {
		if !hasLine(out, want) {
			t.Errorf("metrics lack the line %q", want)
		}
	}
	if n := strings.Count(out, "# HELP r2sync_polls_total "); n != 1 {
		t.Errorf("HELP r2sync_polls_total %d times, want once", n)
	}
	if n := strings.Count(out, "r2sync_build_info{"); n != 1 {
		t.Errorf("build info %d times, want once:\n%s", n, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "r2sync_build_info") {
			continue
		}
		if !strings.Contains(line, `{mirror="`) {
			t.Errorf("series without a mirror label: %q", line)
		}
	}
	// Within a family, the mirrors come sorted by name.
	a := strings.Index(out, `r2sync_ready{mirror="alice"}`)
	bb := strings.Index(out, `r2sync_ready{mirror="bob"}`)
	cc := strings.Index(out, `r2sync_ready{mirror="carol"}`)
	if a >= bb || bb >= cc {
		t.Errorf("r2sync_ready not sorted by mirror:\n%s", out)
	}
}

// /readyz is ok only when every mirror is ready and names those that are
// not; /healthz likewise for liveness.
func TestRegistryProbes(t *testing.T) {
	c := newClock()
	r := health.NewRegistry(health.RegistryOptions{Now: c.Now})
	if err := r.Ready(); err == nil || err.Error() != "no mirrors" {
		t.Errorf("Ready() without mirrors = %v", err)
	}
	alice := r.Mirror("alice", health.Options{PollInterval: time.Minute})
	bob := r.Mirror("bob", health.Options{PollInterval: time.Minute})
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	for _, m := range []*health.Monitor{alice, bob} {
		m.SessionUp()
	}
	alice.Polled(nil)
	if code, body := get("/readyz"); code != 503 || body != "mirror \"bob\": no successful poll yet\n" {
		t.Errorf("/readyz with bob not polled = %d %q", code, body)
	}
	bob.Polled(nil)
	if code, body := get("/readyz"); code != 200 || body != "ok\n" {
		t.Errorf("/readyz with both ready = %d %q", code, body)
	}
	if got := r.Summary(); got != "2 mirrors, 2 ready" {
		t.Errorf("Summary() = %q", got)
	}
	alice.SessionDown(errors.New("stream closed"))
	bob.Stopped()
	code, body := get("/readyz")
	if code != 503 || !strings.Contains(body, `mirror "alice": xmpp session down`) || !strings.Contains(body, `mirror "bob": mirror loop stopped`) {
		t.Errorf("/readyz with both down = %d %q", code, body)
	}
	if code, body := get("/healthz"); code != 503 || body != "mirror \"bob\": mirror loop stopped\n" {
		t.Errorf("/healthz with bob stopped = %d %q", code, body)
	}
	if got := r.Summary(); !strings.HasPrefix(got, "2 mirrors, 0 ready; alice: xmpp session down; bob: mirror loop stopped") {
		t.Errorf("Summary() = %q", got)
	}
	rows := r.Summaries()
	if len(rows) != 2 || rows[0].Name != "alice" || rows[1].Name != "bob" || rows[0].Ready == nil || rows[1].Live == nil || rows[0].Live != nil {
		t.Errorf("Summaries() = %+v", rows)
	}
}

// Many failing mirrors make a bounded answer that still counts them all.
func TestRegistryReadyBounded(t *testing.T) {
	r := health.NewRegistry(health.RegistryOptions{})
	for i := range 50 {
		r.Mirror(strings.Repeat("m", 1+i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)), health.Options{})
	}
	err := r.Ready()
	if err == nil || !strings.Contains(err.Error(), "and 40 more of 50 mirrors") || strings.Count(err.Error(), "mirror \"") != 10 {
		t.Errorf("Ready() = %v", err)
	}
}

// FirstPoll waits for a first poll of every mirror, of either result.
func TestRegistryFirstPoll(t *testing.T) {
	r := health.NewRegistry(health.RegistryOptions{})
	a := r.Mirror("a", health.Options{})
	b := r.Mirror("b", health.Options{})
	first := r.FirstPoll()
	a.Polled(nil)
	select {
	case <-first:
		t.Fatal("FirstPoll closed before b polled")
	default:
	}
	b.Polled(errors.New("status 401"))
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("FirstPoll not closed after both polled")
	}
}

// Registering a name again replaces the earlier monitor in the answers.
func TestRegistryReplace(t *testing.T) {
	r := health.NewRegistry(health.RegistryOptions{})
	old := r.Mirror("a", health.Options{})
	old.Polled(nil)
	r.Mirror("a", health.Options{})
	var b strings.Builder
	if err := r.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	if !hasLine(b.String(), `r2sync_polls_total{mirror="a",result="ok"} 0`) || strings.Count(b.String(), `r2sync_ready{`) != 1 {
		t.Errorf("after replacing a:\n%s", b.String())
	}
}
