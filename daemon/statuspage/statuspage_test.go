package statuspage_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/daemon/statuspage"
)

type rows []health.MirrorStatus

func (r rows) Statuses() []health.MirrorStatus { return r }

var now = time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC)

func testRows() rows {
	var hourly [health.Hours]uint32
	hourly[health.Hours-1], hourly[0] = 3, 1
	return rows{
		{
			Name: "alice", Source: "twitter", SourceAccount: "@alice", XMPPAccount: "alice@example.org",
			SessionUp: true, SessionSince: now.Add(-time.Hour),
			LastStatus: `<script>alert("x")</script> & more`, LastStatusAt: now.Add(-3 * time.Minute),
			Mirrored: 7, Pending: 2, Skipped: map[string]uint64{"visibility": 2, "reply": 1},
			Hourly: hourly, HourStart: now.Truncate(time.Hour),
		},
		{
			Name: `bob"><img src=x>`, Source: "mastodon", XMPPAccount: "bob@example.org",
			SessionSince: now.Add(-10 * time.Second), LastError: "xmpp: <b>login</b> refused", LastErrorAt: now.Add(-time.Second),
			Ready: "xmpp session down", Live: "", HourStart: now.Truncate(time.Hour),
		},
	}
}

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Result()
}

func TestPage(t *testing.T) {
	h := statuspage.Handler(testRows(), statuspage.Options{Now: func() time.Time { return now }, Version: "v9", Refresh: 7 * time.Second})
	resp := get(t, h, "/")
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="7">`,
		`1 of 2 ready`,
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more`,
		`xmpp: &lt;b&gt;login&lt;/b&gt; refused`,
		`bob&#34;&gt;&lt;img src=x&gt;`,
		`twitter @alice`, `alice@example.org`, `since 1h ago`, `3m ago · 7 in all`,
		`reply 1, visibility 2`, `title="xmpp session down">not ready`,
		`<td class="num pending">2</td>`, `4 in 24 h`, `<title>10:00: 3</title>`, `<title>11:00: 1</title>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<img", "<b>", "http://", "https://"} {
		if bad == "http://" {
			// the SVG namespace is a name, not a fetch
			body = strings.ReplaceAll(body, `xmlns="http://www.w3.org/2000/svg"`, "")
		}
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if n := strings.Count(body, `<tr class="mirror"`); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
	if n := strings.Count(body, "<rect "); n != 2*health.Hours {
		t.Errorf("%d bars, want %d", n, 2*health.Hours)
	}
}

func TestPageNoMirrors(t *testing.T) {
	b, _ := io.ReadAll(get(t, statuspage.Handler(rows{}, statuspage.Options{}), "/").Body)
	if !strings.Contains(string(b), "no mirrors") {
		t.Errorf("empty page: %s", b)
	}
	if resp := get(t, statuspage.Handler(rows{}, statuspage.Options{}), "/nothing"); resp.StatusCode != 404 {
		t.Errorf("GET /nothing = %d, want 404", resp.StatusCode)
	}
}

func TestAPI(t *testing.T) {
	h := statuspage.Handler(testRows(), statuspage.Options{Now: func() time.Time { return now }})
	resp := get(t, h, "/api/mirrors")
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
	var got statuspage.API
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !got.GeneratedAt.Equal(now) || len(got.Mirrors) != 2 {
		t.Fatalf("answer %+v", got)
	}
	a, b := got.Mirrors[0], got.Mirrors[1]
	if a.Name != "alice" || a.Source.Kind != "twitter" || a.Source.Account != "@alice" || a.XMPP.Account != "alice@example.org" ||
		a.XMPP.Session != "up" || !a.XMPP.Since.Equal(now.Add(-time.Hour)) || a.LastStatus == nil ||
		a.LastStatus.Text != `<script>alert("x")</script> & more` || a.Pending != 2 || a.Mirrored != 7 ||
		a.Skipped["visibility"] != 2 || a.LastError != nil || !a.Ready || !a.Live || len(a.Hourly) != health.Hours ||
		a.Hourly[health.Hours-1] != 3 || !a.HourlyEnd.Equal(now.Truncate(time.Hour).Add(time.Hour)) {
		t.Errorf("alice: %+v", a)
	}
	if b.XMPP.Session != "down" || b.LastStatus != nil || b.LastError == nil || b.Ready || b.NotReady != "xmpp session down" || b.Skipped == nil {
		t.Errorf("bob: %+v", b)
	}
}
