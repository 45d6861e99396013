package benchdelay_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/internal/benchdelay"
)

// micro is one line of `go test -bench` for the poll → render → send path.
type micro struct {
	name          string
	ns, b, allocs float64
}

var benchLine = regexp.MustCompile(`^BenchmarkPollDeliver/(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op\s+([\d.]+) B/op\s+([\d.]+) allocs/op`)

// microBench runs daemon's BenchmarkPollDeliver.
func microBench(t *testing.T) []micro {
	t.Helper()
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkPollDeliver$", "-benchmem", "-benchtime", "2s", "../../daemon")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test -bench: %v\n%s", err, out)
	}
	var ms []micro
	for _, line := range strings.Split(string(out), "\n") {
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var x micro
		x.name = m[1]
		fmt.Sscan(m[2], &x.ns)
		fmt.Sscan(m[3], &x.b)
		fmt.Sscan(m[4], &x.allocs)
		ms = append(ms, x)
	}
	if len(ms) == 0 {
		t.Fatalf("no benchmark lines in:\n%s", out)
	}
	return ms
}

// defaultPollInterval is config.Default's, for requests per hour.
const defaultPollInterval = 60 * time.Second

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	gover := runtime.Version()
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		gover = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%s, %d cores, Linux %s, %s, %s/%s", model, runtime.NumCPU(), kernel, gover, runtime.GOOS, runtime.GOARCH)
}

func formatTable(rows []result, size int64, ms []micro, tweets int, idle time.Duration) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\nr2sync bench, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "machine: %s\n", machine())
	fmt.Fprintf(&b, "setup: real Prosody + twittertest (X's rate limits) on 127.0.0.1, poll_interval 1s, %d tweets per daemon, idle window %v\n\n", tweets, idle)
	cols := []string{"metric"}
	for _, r := range rows {
		cols = append(cols, r.name)
	}
	if len(rows) == 2 {
		cols = append(cols, rows[1].name+" / "+rows[0].name)
	}
	type line struct {
		name  string
		vals  []string
		ratio string
	}
	var lines []line
	add := func(name string, f func(r result) (string, float64)) {
		l := line{name: name}
		var xs []float64
		for _, r := range rows {
			s, x := f(r)
			l.vals = append(l.vals, s)
			xs = append(xs, x)
		}
		if len(xs) == 2 && xs[0] > 0 && xs[1] > 0 {
			l.ratio = fmt.Sprintf("%.1f×", xs[1]/xs[0])
		}
		lines = append(lines, l)
	}
	dur := func(d time.Duration) (string, float64) { return benchdelay.Millis(d), float64(d) }
	q := func(sel func(r result) []time.Duration, p float64) func(r result) (string, float64) {
		return func(r result) (string, float64) { return dur(benchdelay.Quantile(sel(r), p)) }
	}
	e2e := func(r result) []time.Duration { return r.e2e }
	added := func(r result) []time.Duration { return r.added }
	add("end-to-end delay p50", q(e2e, 0.5))
	add("end-to-end delay p95", q(e2e, 0.95))
	add("end-to-end delay p99", q(e2e, 0.99))
	add("end-to-end delay max", func(r result) (string, float64) { return dur(benchdelay.Max(r.e2e)) })
	add("  of which: tweet → its timeline response p50", q(func(r result) []time.Duration { return r.wait }, 0.5))
	add("  of which: presence → watcher (Prosody) p50 / p99", func(r result) (string, float64) {
		return benchdelay.Millis(benchdelay.Quantile(r.server, 0.5)) + " / " + benchdelay.Millis(benchdelay.Quantile(r.server, 0.99)), 0
	})
	add("added delay p50 (response → presence)", q(added, 0.5))
	add("added delay p95", q(added, 0.95))
	add("added delay p99", q(added, 0.99))
	add("added delay max", func(r result) (string, float64) { return dur(benchdelay.Max(r.added)) })
	add("statuses delivered / repeated / lost", func(r result) (string, float64) {
		return fmt.Sprintf("%d / %d / %d", len(r.e2e), r.repeats, r.lost), 0
	})
	add("effective poll interval (median)", func(r result) (string, float64) { return dur(r.interval) })
	add("poll interval p10 / p90", func(r result) (string, float64) {
		return benchdelay.Millis(benchdelay.Quantile(r.gaps, 0.1)) + " / " + benchdelay.Millis(benchdelay.Quantile(r.gaps, 0.9)), 0
	})
	add("target: end-to-end p50 ≤ interval/2 + 20 ms", func(r result) (string, float64) {
		limit := r.interval/2 + 20*time.Millisecond
		ok := "met"
		if benchdelay.Quantile(r.e2e, 0.5) > limit {
			ok = "missed"
		}
		return fmt.Sprintf("≤ %s: %s", benchdelay.Millis(limit), ok), 0
	})
	add("timeline requests per poll, tweets arriving", func(r result) (string, float64) {
		return fmt.Sprintf("%.2f", r.reqPerPoll), r.reqPerPoll
	})
	add("timeline requests per idle poll", func(r result) (string, float64) {
		return fmt.Sprintf("%.2f", r.idleReqPerPoll), r.idleReqPerPoll
	})
	add("requests per hour, idle, default 60s interval", func(r result) (string, float64) {
		x := r.idleReqPerPoll * float64(time.Hour/defaultPollInterval)
		return fmt.Sprintf("%.0f", x), x
	})
	add("bytes per idle poll (both ways)", func(r result) (string, float64) {
		return fmt.Sprintf("%.0f B", r.idleBytesPerPoll), r.idleBytesPerPoll
	})
	add("cold start (exec → session up, first poll)", func(r result) (string, float64) { return dur(r.coldStart) })
	add("idle RSS", func(r result) (string, float64) { return benchdelay.MiB(r.idleRSS), float64(r.idleRSS) })
	add("peak RSS", func(r result) (string, float64) { return benchdelay.MiB(r.peakRSS), float64(r.peakRSS) })
	add("CPU per idle poll", func(r result) (string, float64) {
		return fmt.Sprintf("%.3f ms", float64(r.idleCPUPerPoll)/1e6), float64(r.idleCPUPerPoll)
	})
	add("thread wakeups per idle poll", func(r result) (string, float64) {
		return fmt.Sprintf("%.1f", r.idleWakeups), r.idleWakeups
	})
	add("idle CPU per 30 s", func(r result) (string, float64) {
		return fmt.Sprintf("%.3f s", r.idleCPU30s.Seconds()), float64(r.idleCPU30s)
	})
	add("OS threads / goroutines", func(r result) (string, float64) {
		if r.goroutines > 0 {
			return fmt.Sprintf("%d / %d", r.threads, r.goroutines), 0
		}
		return fmt.Sprintf("%d / -", r.threads), 0
	})
	add("binary (static, -trimpath -s -w)", func(r result) (string, float64) {
		if r.goroutines > 0 || r.name == "r2sync" {
			return fmt.Sprintf("%.1f MB", float64(size)/1e6), 0
		}
		return "-", 0
	})
	width := make([]int, len(cols))
	for i, c := range cols {
		width[i] = len([]rune(c))
	}
	for _, l := range lines {
		cells := append(append([]string{l.name}, l.vals...), l.ratio)
		for i := range width {
			if i < len(cells) {
				width[i] = max(width[i], len([]rune(cells[i])))
			}
		}
	}
	row := func(cells []string) {
		b.WriteString("|")
		for i := range width {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			fmt.Fprintf(&b, " %s%s |", c, strings.Repeat(" ", width[i]-len([]rune(c))))
		}
		b.WriteString("\n")
	}
	row(cols)
	sep := make([]string, len(cols))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	row(sep)
	for _, l := range lines {
		row(append(append([]string{l.name}, l.vals...), l.ratio))
	}
	fmt.Fprintf(&b, "\ngo test -bench BenchmarkPollDeliver ./daemon (poll → render → send, real state file, free sink):\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "  %-10s %12.0f ns/op %10.0f B/op %8.0f allocs/op\n", m.name, m.ns, m.b, m.allocs)
	}
	return b.String()
}
