package benchdelay_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/internal/benchdelay"
	"github.com/r2sync/r2sync/renren/prosodytest"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

const (
	mirrorUser  = "123456"
	mirrorPass  = "bench-mirror-S3CRET"
	watcherUser = "watcher"
	watcherPass = "bench-watcher-S3CRET"
)

// world is what both daemons share: one Prosody, one twittertest and
// the two taps in front of them, and the watcher that receives statuses.
type world struct {
	prosody *prosodytest.Server
	api     *twittertest.Server
	httpTap *benchdelay.HTTPTap
	xmpp    *benchdelay.XMPPTap
	recv    *receiver
}

// receiver notes when the watcher got each distinct status text.
type receiver struct {
	mu     sync.Mutex
	at     map[string]time.Time
	count  map[string]int
	change chan struct{}
}

func (r *receiver) run(ctx context.Context, w *prosodytest.Watcher, from string) {
	for k := 1; ; k++ {
		got, err := w.WaitStatuses(ctx, from, k)
		now := time.Now()
		if err != nil {
			return
		}
		r.mu.Lock()
		for _, s := range got[k-1:] {
			if _, ok := r.at[s.Text]; !ok {
				r.at[s.Text] = now
			}
			r.count[s.Text]++
		}
		k = len(got)
		close(r.change)
		r.change = make(chan struct{})
		r.mu.Unlock()
	}
}

// wait waits until every text has arrived, or ctx ends.
func (r *receiver) wait(ctx context.Context, texts []string) error {
	for {
		r.mu.Lock()
		missing := 0
		for _, t := range texts {
			if _, ok := r.at[t]; !ok {
				missing++
			}
		}
		ch := r.change
		r.mu.Unlock()
		if missing == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d statuses not received: %w", missing, len(texts), ctx.Err())
		}
	}
}

func (r *receiver) get(text string) (time.Time, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.at[text], r.count[text]
}

// daemonSpec says how to start one daemon of the comparison.
type daemonSpec struct {
	name string
	argv []string // the command; "--config FILE" is appended
	env  []string
	// ready reports cold start's end: r2sync's /readyz, the Python
	// daemon's log line after its first poll.
	readyLine string // a stderr line containing it marks readiness; "" means /readyz
	goDump    bool   // SIGQUIT at the end counts goroutines
}

// result is one daemon's row of numbers.
type result struct {
	name                       string
	e2e, added                 []time.Duration
	wait, server               []time.Duration // created → response flushed; presence → watcher
	gaps                       []time.Duration // between polls
	repeats, lost              int
	interval                   time.Duration
	reqPerPoll, idleReqPerPoll float64
	idleBytesPerPoll           float64
	coldStart                  time.Duration
	idleRSS, peakRSS           int64
	idleCPUPerPoll             time.Duration
	idleCPU30s                 time.Duration
	idleWakeups                float64
	threads, goroutines        int
}

func envInt(t *testing.T, key string, def int) int {
	if v := os.Getenv(key); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			t.Fatalf("%s=%q: not a positive number", key, v)
		}
		return n
	}
	return def
}

// TestDelayBench is `make bench`: both daemons, one after the other,
// against the same servers; it prints the table and writes it to
// $R2SYNC_BENCH_TABLE when set.
func TestDelayBench(t *testing.T) {
	if os.Getenv("R2SYNC_BENCH") == "" {
		t.Skip("the side-by-side benchmark runs with R2SYNC_BENCH=1 (make bench)")
	}
	tweets := envInt(t, "R2SYNC_BENCH_TWEETS", 200)
	idle := time.Duration(envInt(t, "R2SYNC_BENCH_IDLE_SECONDS", 60)) * time.Second
	bin, size := buildRelease(t)
	w := newWorld(t)

	specs := []daemonSpec{{name: "r2sync", argv: []string{bin, "run"}, env: []string{"GOTRACEBACK=all"}, goDump: true}}
	py := os.Getenv("R2SYNC_BENCH_PY")
	if py == "" {
		py, _ = filepath.Abs("../../../shared/bench/baseline_py.py")
	}
	if _, err := os.Stat(py); err == nil && os.Getenv("R2SYNC_BENCH_NO_PY") == "" {
		specs = append(specs, daemonSpec{name: "python", argv: []string{"/usr/bin/python3", py, "run"}, readyLine: "first run: starting after tweet"})
	} else {
		t.Logf("r2sync alone (R2SYNC_BENCH_NO_PY, or no Python peer at %s)", py)
	}
	var rows []result
	for _, s := range specs {
		rows = append(rows, runOne(t, w, s, tweets, idle))
	}
	floor := measureFloor(t, w, idle)
	micro := microBench(t)
	table := formatTable(rows, size, micro, tweets, idle) + floor
	fmt.Print(table)
	if out := os.Getenv("R2SYNC_BENCH_TABLE"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rows {
		if r.lost > 0 {
			t.Errorf("%s lost %d statuses", r.name, r.lost)
		}
	}
}

// measureFloor runs floorprobe against the tap for the idle window, on
// new connections, on a kept-alive one and without requests: the CPU and
// wakeups per poll of a Go program that only polls, or only wakes, on
// this machine.
func measureFloor(t *testing.T, w *world, idle time.Duration) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "floorprobe")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./floorprobe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build floorprobe: %v\n%s", err, out)
	}
	var b strings.Builder
	b.WriteString("\nfloor on this machine, a Go program (GOMAXPROCS=1, as r2sync runs one mirror) that only GETs once a second with net/http, or only wakes:\n")
	for _, mode := range []string{"new", "keepalive", "tick"} {
		cmd := exec.Command(bin, mode, strings.TrimSuffix(w.httpTap.URL(), "1.1/")+"floor")
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pause(3 * time.Second)
		p0, err := benchdelay.ReadProc(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		pause(idle)
		p1, err := benchdelay.ReadProc(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		polls := idle / time.Second
		what := map[string]string{"new": "new connection: ", "keepalive": "kept alive:     ", "tick": "no request:     "}[mode]
		fmt.Fprintf(&b, "  %-9s %s%.3f ms CPU and %.1f wakeups per poll, RSS %s\n", mode, what,
			float64((p1.CPU-p0.CPU)/polls)/1e6, float64(p1.Slices-p0.Slices)/float64(polls), benchdelay.MiB(p1.RSS))
	}
	return b.String()
}

// buildRelease builds cmd/r2sync the way the release does: static,
// -trimpath, stripped.
func buildRelease(t *testing.T) (string, int64) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "r2sync")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "../../cmd/r2sync")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build r2sync: %v\n%s", err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	return bin, fi.Size()
}

func newWorld(t *testing.T) *world {
	t.Helper()
	p := prosodytest.Start(t, prosodytest.Options{
		Users: map[string]string{mirrorUser: mirrorPass, watcherUser: watcherPass},
		Group: []string{mirrorUser, watcherUser},
	})
	api := twittertest.NewServer(twittertest.Options{})
	t.Cleanup(api.Close)
	ht, err := benchdelay.NewHTTPTap(strings.TrimSuffix(api.URL(), "/1.1/"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ht.Close)
	xt, err := benchdelay.NewXMPPTap(p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(xt.Close)
	watcher := p.Watch(t, watcherUser, watcherPass)
	r := &receiver{at: map[string]time.Time{}, count: map[string]int{}, change: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go r.run(ctx, watcher, p.JID(mirrorUser))
	return &world{prosody: p, api: api, httpTap: ht, xmpp: xt, recv: r}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// config is one TOML both daemons read (the Python one ignores what it
// does not know). Each daemon gets its own twittertest user, so that
// each starts with X's full rate-limit window, as a fresh daemon would.
func (w *world) config(t *testing.T, dir string, u twittertest.User, listen string) string {
	t.Helper()
	o := w.api.Options()
	text := fmt.Sprintf(`[twitter]
api_base = %q
consumer_key = %q
consumer_secret = %q
access_token = %q
access_secret = %q
poll_interval = "1s"

[renren]
jid = %q
password = %q
address = %q
ca_file = %q
ping_interval = "1h"

[sync]
template = "{{.Text}}"

[state]
file = %q

[http]
listen = %q

[log]
level = "info"
format = "json"
`, w.httpTap.URL(), o.ConsumerKey, o.ConsumerSecret, u.AccessToken, u.AccessSecret,
		w.prosody.JID(mirrorUser), mirrorPass, w.xmpp.Addr(), w.prosody.CAFile(),
		filepath.Join(dir, "state.json"), listen)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuf is the daemon's output, watched for lines.
type syncBuf struct {
	mu    sync.Mutex
	b     strings.Builder
	lines chan string
}

func (s *syncBuf) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		s.mu.Lock()
		s.b.WriteString(line)
		s.b.WriteByte('\n')
		s.mu.Unlock()
		select {
		case s.lines <- line:
		default:
		}
	}
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var goroutineHeader = regexp.MustCompile(`(?m)^goroutine \d+ [^\n]*\[`)

func runOne(t *testing.T, w *world, spec daemonSpec, tweets int, idle time.Duration) result {
	t.Helper()
	res := result{name: spec.name}
	dir := t.TempDir()
	u := w.api.AddUser(twittertest.User{ScreenName: "bench_" + spec.name})
	listen := freeAddr(t)
	cfg := w.config(t, dir, u, listen)
	// A user with a history, so that the first poll has a cursor.
	w.api.AddTweet(twittertest.Tweet{ID: snowflake(), Text: "history", UserID: u.ID, ScreenName: u.ScreenName})

	cmd := exec.Command(spec.argv[0], append(spec.argv[1:], "--config", cfg)...)
	cmd.Env = append(os.Environ(), spec.env...)
	if v := os.Getenv("R2SYNC_BENCH_GODEBUG"); v != "" {
		cmd.Env = append(cmd.Env, "GODEBUG="+v)
	}
	if v := os.Getenv("R2SYNC_BENCH_ENV"); v != "" && spec.goDump {
		cmd.Env = append(cmd.Env, strings.Fields(v)...)
	}
	out := &syncBuf{lines: make(chan string, 1024)}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	consumed := make(chan struct{})
	go func() { out.consume(stderr); close(consumed) }()
	exited := make(chan error, 1)
	go func() { <-consumed; exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	pid := cmd.Process.Pid

	// Cold start.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if spec.readyLine != "" {
		for ready := false; !ready; {
			select {
			case line := <-out.lines:
				ready = strings.Contains(line, spec.readyLine)
			case err := <-exited:
				t.Fatalf("%s exited before it was ready: %v\n%s", spec.name, err, out)
			case <-ctx.Done():
				t.Fatalf("%s not ready within 30s:\n%s", spec.name, out)
			}
		}
	} else {
		client := &http.Client{Timeout: time.Second}
		for {
			resp, err := client.Get("http://" + listen + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case err := <-exited:
				t.Fatalf("%s exited before it was ready: %v\n%s", spec.name, err, out)
			case <-ctx.Done():
				t.Fatalf("%s not ready within 30s:\n%s", spec.name, out)
			case <-time.After(time.Millisecond):
			}
		}
	}
	res.coldStart = time.Since(began)
	t.Logf("%s: cold start %v", spec.name, res.coldStart)

	// Idle: a few polls to settle, then the measured window.
	pause(3 * time.Second)
	p0, err := benchdelay.ReadProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	n0 := len(w.httpTap.Responses())
	in0, out0 := w.httpTap.Bytes()
	pause(idle)
	p1, err := benchdelay.ReadProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	idleResps := w.httpTap.Responses()[n0:]
	in1, out1 := w.httpTap.Bytes()
	polls := 0
	for _, r := range idleResps {
		if !r.MaxID {
			polls++
		}
	}
	if polls == 0 {
		t.Fatalf("%s: no poll in %v idle", spec.name, idle)
	}
	if os.Getenv("R2SYNC_BENCH_DEBUG") != "" {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid)); err == nil {
			var sum []string
			name := ""
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Fields(line)
				switch {
				case len(f) >= 5 && strings.Contains(f[0], "-"):
					name = strings.Join(f[1:2], "") + " " + strings.Join(f[5:], " ")
				case len(f) >= 2 && f[0] == "Rss:" && f[1] != "0":
					sum = append(sum, f[1]+" kB "+name)
				}
			}
			t.Logf("%s mappings:\n%s", spec.name, strings.Join(sum, "\n"))
		}
	}
	res.idleRSS = p1.RSS
	res.idleCPUPerPoll = (p1.CPU - p0.CPU) / time.Duration(polls)
	res.idleWakeups = float64(p1.Slices-p0.Slices) / float64(polls)
	res.idleCPU30s = (p1.CPU - p0.CPU) * 30 * time.Second / idle
	res.idleReqPerPoll = float64(len(idleResps)) / float64(polls)
	res.idleBytesPerPoll = float64(in1-in0+out1-out0) / float64(polls)
	t.Logf("%s: idle %d polls, RSS %s, CPU %v", spec.name, polls, benchdelay.MiB(p1.RSS), p1.CPU-p0.CPU)

	// Delay: one tweet per poll cycle, at a phase of the cycle taken from
	// a van der Corput sequence. Arrivals are spread evenly over the
	// cycle, as random ones are on average, but without their sampling
	// noise: i.i.d. arrivals put the median of 200 delays within about
	// ±40 ms of interval/2 only, as wide as the p50 target's margin.
	// Each cycle is found from the daemon's last poll the tap saw and
	// the median interval so far.
	first := len(w.httpTap.Responses())
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	type sent struct {
		id, text string
		at       time.Time
	}
	var all []sent
	var texts []string
	var used time.Time // the poll whose cycle holds the last tweet
	for i := range tweets {
		polls, interval := pollTimes(w.httpTap.Responses()[first:])
		if interval == 0 {
			interval = time.Second
		}
		last := time.Now()
		if len(polls) > 0 {
			last = polls[len(polls)-1]
		}
		cycle := last
		if !used.IsZero() && !cycle.After(used) {
			cycle = used.Add(interval) // that cycle has its tweet already
		}
		at := cycle.Add(time.Duration(vanDerCorput(i+1) * float64(interval)))
		for at.Before(time.Now().Add(5 * time.Millisecond)) {
			cycle = cycle.Add(interval)
			at = at.Add(interval)
		}
		used = cycle
		pause(time.Until(at))
		text := fmt.Sprintf("bench %s %d %x", spec.name, i, rng.Uint32())
		at = time.Now()
		tw := w.api.AddTweet(twittertest.Tweet{ID: snowflake(), Text: text, UserID: u.ID, ScreenName: u.ScreenName})
		all = append(all, sent{id: fmt.Sprint(tw.ID), text: text, at: at})
		texts = append(texts, text)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 90*time.Second)
	err = w.recv.wait(wctx, texts)
	wcancel()
	if err != nil {
		t.Errorf("%s: %v", spec.name, err)
	}
	resps := w.httpTap.Responses()[first:]
	for _, s := range all {
		recv, n := w.recv.get(s.text)
		if n == 0 {
			res.lost++
			continue
		}
		res.repeats += n - 1
		res.e2e = append(res.e2e, recv.Sub(s.at))
		for _, r := range resps {
			if r.Flushed.After(recv) {
				break
			}
			if containsID(r.IDs, s.id) {
				res.wait = append(res.wait, r.Flushed.Sub(s.at))
				if sentAt, ok := w.xmpp.FirstAfter(r.Flushed); ok && !sentAt.After(recv) {
					res.added = append(res.added, sentAt.Sub(r.Flushed))
					if os.Getenv("R2SYNC_BENCH_DEBUG") != "" && sentAt.Sub(r.Flushed) > time.Millisecond {
						t.Logf("%s: tweet %d (%s): added %v", spec.name, len(res.added)-1, s.id, sentAt.Sub(r.Flushed))
					}
					res.server = append(res.server, recv.Sub(sentAt))
				}
				break
			}
		}
	}
	var gaps []time.Duration
	var last time.Time
	pollsDuring, reqs := 0, 0
	for _, r := range resps {
		reqs++
		if r.MaxID {
			continue
		}
		pollsDuring++
		if !last.IsZero() {
			gaps = append(gaps, r.Flushed.Sub(last))
		}
		last = r.Flushed
	}
	res.interval = benchdelay.Quantile(gaps, 0.5)
	res.gaps = gaps
	if pollsDuring > 0 {
		res.reqPerPoll = float64(reqs) / float64(pollsDuring)
	}
	p2, err := benchdelay.ReadProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	res.peakRSS, res.threads = p2.HWM, p2.Threads

	// Stop: r2sync dumps its goroutines on SIGQUIT.
	sig := syscall.SIGTERM
	if spec.goDump {
		sig = syscall.SIGQUIT
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	stopped = true
	if spec.goDump {
		res.goroutines = countGoroutines(out.String())
		if d := os.Getenv("R2SYNC_BENCH_DUMP"); d != "" {
			_ = os.WriteFile(d, []byte(out.String()), 0o644)
		}
		if res.goroutines == 0 {
			o := out.String()
			t.Logf("%s: no goroutine dump after SIGQUIT; output ends:\n%s", spec.name, o[max(0, len(o)-3000):])
		}
	}
	return res
}

// countGoroutines counts the goroutines of a SIGQUIT dump that the
// program made: the runtime's own (created by runtime.*, or the runtime
// frames of GOTRACEBACK=system) are not runtime.NumGoroutine's either.
func countGoroutines(dump string) int {
	n := 0
	for _, g := range goroutineHeader.Split(dump, -1)[1:] {
		if strings.Contains(g, "created by runtime.") || strings.Contains(g, "runtime.runfinq") ||
			strings.Contains(g, "runtime.forcegchelper") || strings.Contains(g, "runtime.bgsweep") ||
			strings.Contains(g, "runtime.bgscavenge") || strings.Contains(g, "runtime.gcBgMarkWorker") {
			continue
		}
		n++
	}
	return n
}

// pollTimes returns when each poll's first page was flushed, and the
// median interval between them (0 with fewer than two).
func pollTimes(resps []benchdelay.Response) ([]time.Time, time.Duration) {
	var at []time.Time
	var gaps []time.Duration
	for _, r := range resps {
		if r.MaxID {
			continue
		}
		if n := len(at); n > 0 {
			gaps = append(gaps, r.Flushed.Sub(at[n-1]))
		}
		at = append(at, r.Flushed)
	}
	return at, benchdelay.Quantile(gaps, 0.5)
}

// vanDerCorput is the i-th term of the base-2 van der Corput sequence,
// in [0, 1): 0.5, 0.25, 0.75, 0.125, ...
func vanDerCorput(i int) float64 {
	x, f := 0.0, 0.5
	for ; i > 0; i >>= 1 {
		if i&1 == 1 {
			x += f
		}
		f /= 2
	}
	return x
}

// snowflake is an id like X's: milliseconds since its epoch, then 22
// bits of machine and sequence, so that a user's consecutive tweets are
// never consecutive numbers.
func snowflake() int64 {
	return twittertest.SnowflakeID(time.Now()) | rand.Int64N(1<<22)
}

func containsID(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// pause waits out a measurement window: the daemon runs meanwhile, and
// there is nothing to wait for but the clock.
func pause(d time.Duration) { <-time.After(d) }
