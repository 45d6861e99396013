package health

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/r2sync/r2sync/daemon"
)

// family is one metric family: its name, Prometheus type and HELP text.
// VictoriaMetrics/metrics writes samples only (its own HELP lines are a
// process-wide switch and carry no text), so the Registry writes HELP and
// TYPE from this table, once per family however many mirrors there are.
type family struct{ name, typ, help string }

// families lists every family in the order /metrics writes them.
var families = []family{
	{"r2sync_build_info", "gauge", "The running version; always 1."},
	{"r2sync_polls_total", "counter", "Polls of the source, by result."},
	{"r2sync_posts_seen_total", "counter", "New posts the source returned."},
	{"r2sync_posts_skipped_total", "counter", "New posts not mirrored, by reason."},
	{"r2sync_posts_mirrored_total", "counter", "Posts whose status the XMPP server confirmed, since start."},
	{"r2sync_statuses_delivered_total", "counter", "Attempts to set a status, by result; failed ones stay queued."},
	{"r2sync_statuses_uncertain_total", "counter", "Sends the XMPP server never acknowledged (perhaps published), by outcome: retried, or dropped after the last allowed attempt."},
	{"r2sync_status_queue_seconds", "summary", "Time statuses waited in the queue before delivery."},
	{"r2sync_mirrored_lifetime", "gauge", "Statuses delivered over the life of the state file."},
	{"r2sync_pending_statuses", "gauge", "Statuses waiting for delivery."},
	{"r2sync_errors_total", "counter", "Errors by operation (poll, deliver, xmpp, state) and kind."},
	{"r2sync_xmpp_session_up", "gauge", "1 while the XMPP session is up."},
	{"r2sync_xmpp_reconnects_total", "counter", "XMPP sessions established after the first."},
	{"r2sync_feed_events_total", "counter", "News-feed notifications the XMPP server sent (Renren's)."},
	{"r2sync_seconds_since_last_success", "gauge", "Seconds since the last successful poll or delivery; since start when none yet."},
	{"r2sync_last_success_timestamp_seconds", "gauge", "Unix time of the last successful poll or delivery; 0 when none yet."},
	{"r2sync_ready", "gauge", "1 when /readyz answers ok."},
	{"r2sync_source_rate_limit_remaining", "gauge", "Requests left in the source API's current rate-limit window, as it last reported."},
	{"r2sync_source_rate_limit_limit", "gauge", "Requests the source API allows per rate-limit window."},
	{"r2sync_source_rate_limit_reset_timestamp_seconds", "gauge", "Unix time the source API's rate-limit window resets."},
	{"r2sync_source_requests_total", "counter", "Source API responses, by method kind (read: GET, write: the rest)."},
	{"r2sync_source_posts_read_total", "counter", "Posts received in the source's timeline responses (billed per post on pay-per-use plans)."},
	{"r2sync_source_posts_created_total", "counter", "Posts r2sync created on the source (r2sync post)."},
	{"r2sync_source_events_total", "counter", "Events of the source that are never mirrored, by event: edits, deletes, posts of other accounts on a stream."},
}

// series are one mirror's metrics in its own metrics.Set. Counters are
// atomic; gauges read the Monitor under its lock when scraped.
type series struct {
	set    *metrics.Set
	mirror string // the escaped label pair: mirror="NAME"

	pollsOK, pollsErr         *metrics.Counter
	seen                      *metrics.Counter
	deliveredOK, deliveredErr *metrics.Counter
	uncertainRetried          *metrics.Counter
	uncertainDropped          *metrics.Counter
	feedEvents                *metrics.Counter
	queued                    *metrics.FloatCounter

	mu      sync.Mutex // guards the lazily made counters below
	skipped map[string]*metrics.Counter
	errs    map[[2]string]*metrics.Counter
}

// name builds a series name: the family, mirror="NAME" and pairs of
// further label names and values.
func (s *series) name(fam string, l ...string) string {
	var b strings.Builder
	b.WriteString(fam)
	b.WriteByte('{')
	b.WriteString(s.mirror)
	for i := 0; i+1 < len(l); i += 2 {
		fmt.Fprintf(&b, `,%s="%s"`, l[i], escapeLabel(l[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

func newSeries(m *Monitor) *series {
	s := &series{
		set:     metrics.NewSet(),
		mirror:  `mirror="` + escapeLabel(m.opts.Mirror) + `"`,
		skipped: map[string]*metrics.Counter{},
		errs:    map[[2]string]*metrics.Counter{},
	}
	set := s.set
	s.pollsOK = set.NewCounter(s.name("r2sync_polls_total", "result", "ok"))
	s.pollsErr = set.NewCounter(s.name("r2sync_polls_total", "result", "error"))
	s.seen = set.NewCounter(s.name("r2sync_posts_seen_total"))
	// So that a rate() has a series from the start.
	s.skipCounter("reply")
	s.skipCounter("repost")
	s.deliveredOK = set.NewCounter(s.name("r2sync_statuses_delivered_total", "result", "ok"))
	s.deliveredErr = set.NewCounter(s.name("r2sync_statuses_delivered_total", "result", "error"))
	s.uncertainRetried = set.NewCounter(s.name("r2sync_statuses_uncertain_total", "outcome", "retried"))
	s.uncertainDropped = set.NewCounter(s.name("r2sync_statuses_uncertain_total", "outcome", "dropped"))
	s.queued = set.NewFloatCounter(s.name("r2sync_status_queue_seconds_sum"))
	s.feedEvents = set.NewCounter(s.name("r2sync_feed_events_total"))

	delivered := func() float64 { return float64(s.deliveredOK.Get()) }
	set.NewGauge(s.name("r2sync_posts_mirrored_total"), delivered)
	set.NewGauge(s.name("r2sync_status_queue_seconds_count"), delivered)
	locked := func(f func() float64) func() float64 {
		return func() float64 {
			m.mu.Lock()
			defer m.mu.Unlock()
			return f()
		}
	}
	set.NewGauge(s.name("r2sync_mirrored_lifetime"), locked(func() float64 { return float64(m.mirrored) }))
	set.NewGauge(s.name("r2sync_pending_statuses"), locked(func() float64 { return float64(m.pending) }))
	set.NewGauge(s.name("r2sync_xmpp_session_up"), locked(func() float64 { return boolFloat(m.sessionUp) }))
	set.NewGauge(s.name("r2sync_xmpp_reconnects_total"), locked(func() float64 { return float64(max(m.sessions-1, 0)) }))
	for _, op := range []string{"poll", "deliver"} {
		last := func() time.Time {
			if op == "poll" {
				return m.lastPollOK
			}
			return m.lastDeliver
		}
		set.NewGauge(s.name("r2sync_seconds_since_last_success", "op", op), locked(func() float64 { return m.since(m.now(), last()) }))
		set.NewGauge(s.name("r2sync_last_success_timestamp_seconds", "op", op), locked(func() float64 { return unix(last()) }))
	}
	set.NewGauge(s.name("r2sync_ready"), locked(func() float64 { return boolFloat(m.readyLocked(m.now()) == nil) }))
	s.sourceMetrics(m.opts.Source, m.opts.SourceName)
	return s
}

// sourceMetrics exports the source's rate-limit budget and API usage
// when it has those abilities, asked at each scrape on the source itself
// (not a wrapper). The budget is left out until the source reports one.
func (s *series) sourceMetrics(src daemon.Source, name string) {
	rlr, hasRL := src.(daemon.RateLimitReporter)
	ur, hasUsage := src.(daemon.UsageReporter)
	ec, hasEvents := src.(daemon.EventCounter)
	if !hasRL && !hasUsage && !hasEvents {
		return
	}
	l := func(fam string, more ...string) string {
		return s.name(fam, append([]string{"source", name}, more...)...)
	}
	names := struct{ remaining, limit, reset, reads, writes, postsRead, created string }{
		l("r2sync_source_rate_limit_remaining"), l("r2sync_source_rate_limit_limit"),
		l("r2sync_source_rate_limit_reset_timestamp_seconds"),
		l("r2sync_source_requests_total", "kind", "read"), l("r2sync_source_requests_total", "kind", "write"),
		l("r2sync_source_posts_read_total"), l("r2sync_source_posts_created_total"),
	}
	s.set.RegisterMetricsWriter(func(w io.Writer) {
		if hasRL {
			if rl := rlr.RateLimit(); rl != (daemon.RateLimit{}) {
				metrics.WriteGaugeUint64(w, names.remaining, uint64(max(rl.Remaining, 0)))
				metrics.WriteGaugeUint64(w, names.limit, uint64(max(rl.Limit, 0)))
				fmt.Fprintf(w, "%s %s\n", names.reset, strconv.FormatFloat(unix(rl.Reset), 'f', -1, 64))
			}
		}
		if hasUsage {
			u := ur.Usage()
			metrics.WriteCounterUint64(w, names.reads, uint64(max(u.ReadRequests, 0)))
			metrics.WriteCounterUint64(w, names.writes, uint64(max(u.Requests-u.ReadRequests, 0)))
			metrics.WriteCounterUint64(w, names.postsRead, uint64(max(u.PostsRead, 0)))
			metrics.WriteCounterUint64(w, names.created, uint64(max(u.PostsCreated, 0)))
		}
		if hasEvents {
			counts := ec.EventCounts()
			events := make([]string, 0, len(counts))
			for e := range counts {
				events = append(events, e)
			}
			slices.Sort(events)
			for _, e := range events {
				metrics.WriteCounterUint64(w, l("r2sync_source_events_total", "event", e), uint64(max(counts[e], 0)))
			}
		}
	})
}

func (s *series) skipCounter(reason string) *metrics.Counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.skipped[reason]
	if !ok {
		c = s.set.NewCounter(s.name("r2sync_posts_skipped_total", "reason", reason))
		s.skipped[reason] = c
	}
	return c
}

func (s *series) errorCounter(op, kind string) *metrics.Counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{op, kind}
	c, ok := s.errs[k]
	if !ok {
		c = s.set.NewCounter(s.name("r2sync_errors_total", "op", op, "kind", kind))
		s.errs[k] = c
	}
	return c
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

func escapeLabel(s string) string {
	return labelEscaper.Replace(s)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
