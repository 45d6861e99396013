package health

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/r2sync/r2sync/daemon"
)

// Handler serves GET /healthz (liveness), /readyz (readiness) and
// /metrics (Prometheus text format 0.0.4). Health answers are 200 "ok" or
// 503 with the reason on one line.
func (m *Monitor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { answer(w, m.Live()) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { answer(w, m.Ready()) })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = m.WriteMetrics(w)
	})
	return mux
}

func answer(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, oneLine(err.Error(), 300))
		return
	}
	fmt.Fprintln(w, "ok")
}

// WriteMetrics writes every metric in the Prometheus text exposition
// format. It is hand-written rather than built on client_golang: a dozen
// metrics do not justify ten modules, a global registry and a larger
// binary in a 20 MB image. Every metric but r2sync_build_info carries
// mirror="NAME"; the source's own carry source="NAME" too.
func (m *Monitor) WriteMetrics(w io.Writer) error {
	// Ask the source outside m.mu: it takes its own lock. The optional
	// abilities are looked up on the source itself.
	var rl daemon.RateLimit
	if r, ok := m.opts.Source.(daemon.RateLimitReporter); ok {
		rl = r.RateLimit()
	}
	var usage *daemon.Usage
	if r, ok := m.opts.Source.(daemon.UsageReporter); ok {
		u := r.Usage()
		usage = &u
	}
	now := m.now()
	m.mu.Lock()
	e := &expo{w: bufio.NewWriter(w)}
	mirror := func(l ...string) labels { return append(labels{"mirror", m.opts.Mirror}, l...) }

	e.family("r2sync_build_info", "gauge", "The running version; always 1.")
	e.sample("r2sync_build_info", labels{"version", m.opts.Version}, 1)

	e.family("r2sync_polls_total", "counter", "Polls of the source, by result.")
	e.byLabel("r2sync_polls_total", mirror(), "result", m.polls, "ok", "error")

	e.family("r2sync_posts_seen_total", "counter", "New posts the source returned.")
	e.sample("r2sync_posts_seen_total", mirror(), float64(m.seen))

	e.family("r2sync_posts_skipped_total", "counter", "New posts not mirrored, by reason.")
	e.byLabel("r2sync_posts_skipped_total", mirror(), "reason", m.skipped, "reply", "repost")

	e.family("r2sync_posts_mirrored_total", "counter", "Posts whose status the XMPP server confirmed, since start.")
	e.sample("r2sync_posts_mirrored_total", mirror(), float64(m.deliveries["ok"]))

	e.family("r2sync_statuses_delivered_total", "counter", "Attempts to set a status, by result; failed ones stay queued.")
	e.byLabel("r2sync_statuses_delivered_total", mirror(), "result", m.deliveries, "ok", "error")

	e.family("r2sync_statuses_uncertain_total", "counter", "Sends the XMPP server never acknowledged (perhaps published), by outcome: retried, or dropped after the last allowed attempt.")
	e.byLabel("r2sync_statuses_uncertain_total", mirror(), "outcome", m.uncertain, "dropped", "retried")

	e.family("r2sync_status_queue_seconds", "summary", "Time statuses waited in the queue before delivery.")
	e.sample("r2sync_status_queue_seconds_sum", mirror(), m.queuedSum.Seconds())
	e.sample("r2sync_status_queue_seconds_count", mirror(), float64(m.deliveries["ok"]))

	e.family("r2sync_mirrored_lifetime", "gauge", "Statuses delivered over the life of the state file.")
	e.sample("r2sync_mirrored_lifetime", mirror(), float64(m.mirrored))

	e.family("r2sync_pending_statuses", "gauge", "Statuses waiting for delivery.")
	e.sample("r2sync_pending_statuses", mirror(), float64(m.pending))

	e.family("r2sync_errors_total", "counter", "Errors by operation (poll, deliver, xmpp, state) and kind.")
	keys := make([]errorKey, 0, len(m.errs))
	for k := range m.errs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b errorKey) int { return strings.Compare(a.op+"\x00"+a.kind, b.op+"\x00"+b.kind) })
	for _, k := range keys {
		e.sample("r2sync_errors_total", mirror("op", k.op, "kind", k.kind), float64(m.errs[k]))
	}

	e.family("r2sync_xmpp_session_up", "gauge", "1 while the XMPP session is up.")
	e.sample("r2sync_xmpp_session_up", mirror(), boolFloat(m.sessionUp))

	e.family("r2sync_xmpp_reconnects_total", "counter", "XMPP sessions established after the first.")
	e.sample("r2sync_xmpp_reconnects_total", mirror(), float64(max(m.sessions-1, 0)))

	e.family("r2sync_feed_events_total", "counter", "News-feed notifications the XMPP server sent (Renren's).")
	e.sample("r2sync_feed_events_total", mirror(), float64(m.feedEvents))

	e.family("r2sync_seconds_since_last_success", "gauge", "Seconds since the last successful poll or delivery; since start when none yet.")
	e.sample("r2sync_seconds_since_last_success", mirror("op", "poll"), m.since(now, m.lastPollOK))
	e.sample("r2sync_seconds_since_last_success", mirror("op", "deliver"), m.since(now, m.lastDeliver))

	e.family("r2sync_last_success_timestamp_seconds", "gauge", "Unix time of the last successful poll or delivery; 0 when none yet.")
	e.sample("r2sync_last_success_timestamp_seconds", mirror("op", "poll"), unix(m.lastPollOK))
	e.sample("r2sync_last_success_timestamp_seconds", mirror("op", "deliver"), unix(m.lastDeliver))

	e.family("r2sync_ready", "gauge", "1 when /readyz answers ok.")
	e.sample("r2sync_ready", mirror(), boolFloat(m.readyLocked(now) == nil))
	m.mu.Unlock()

	source := mirror("source", m.opts.SourceName)
	if rl != (daemon.RateLimit{}) {
		e.family("r2sync_source_rate_limit_remaining", "gauge", "Requests left in the source API's current rate-limit window, as it last reported.")
		e.sample("r2sync_source_rate_limit_remaining", source, float64(rl.Remaining))
		e.family("r2sync_source_rate_limit_limit", "gauge", "Requests the source API allows per rate-limit window.")
		e.sample("r2sync_source_rate_limit_limit", source, float64(rl.Limit))
		e.family("r2sync_source_rate_limit_reset_timestamp_seconds", "gauge", "Unix time the source API's rate-limit window resets.")
		e.sample("r2sync_source_rate_limit_reset_timestamp_seconds", source, unix(rl.Reset))
	}
	if usage != nil {
		e.family("r2sync_source_requests_total", "counter", "Source API responses, by method kind (read: GET, write: the rest).")
		e.sample("r2sync_source_requests_total", append(slices.Clip(source), "kind", "read"), float64(usage.ReadRequests))
		e.sample("r2sync_source_requests_total", append(slices.Clip(source), "kind", "write"), float64(usage.Requests-usage.ReadRequests))
		e.family("r2sync_source_posts_read_total", "counter", "Posts received in the source's timeline responses (billed per post on pay-per-use plans).")
		e.sample("r2sync_source_posts_read_total", source, float64(usage.PostsRead))
		e.family("r2sync_source_posts_created_total", "counter", "Posts r2sync created on the source (r2sync post).")
		e.sample("r2sync_source_posts_created_total", source, float64(usage.PostsCreated))
	}
	if e.err != nil {
		return e.err
	}
	return e.w.Flush()
}

func (m *Monitor) since(now, t time.Time) float64 {
	if t.IsZero() {
		t = m.start
	}
	return now.Sub(t).Seconds()
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1e3
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// labels alternates names and values.
type labels []string

// expo writes the text exposition format.
type expo struct {
	w   *bufio.Writer
	err error
}

func (e *expo) family(name, typ, help string) {
	e.printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (e *expo) sample(name string, l labels, v float64) {
	var b strings.Builder
	b.WriteString(name)
	if len(l) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(l); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(l[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	e.printf("%s %s\n", b.String(), strconv.FormatFloat(v, 'f', -1, 64))
}

// byLabel writes one sample per key of counts, with the labels in base
// and label=key, sorted, always including the keys in always so that a
// rate() has a series from the start.
func (e *expo) byLabel(name string, base labels, label string, counts map[string]int64, always ...string) {
	keys := slices.Clone(always)
	for k := range counts {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.sample(name, append(slices.Clip(base), label, k), float64(counts[k]))
	}
}

func (e *expo) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
