package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren/prosodytest"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// The fault suite: the daemon, as built, against a real Prosody and the
// Twitter test API while servers restart, the API misbehaves, the process
// is killed and signalled. Every suite checks that each tweet became
// exactly one status, in order.

// rewriteConfig replaces each old with its new in the world's config file.
func (w *world) rewriteConfig(pairs ...string) {
	w.t.Helper()
	b, err := os.ReadFile(w.config)
	if err != nil {
		w.t.Fatal(err)
	}
	text := string(b)
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			w.t.Fatalf("config lacks %q", pairs[i])
		}
		text = strings.Replace(text, pairs[i], pairs[i+1], 1)
	}
	if err := os.WriteFile(w.config, []byte(text), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// numbered returns n distinct tweet texts.
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %03d", prefix, i)
	}
	return out
}

// addTweets adds texts at pace in the background; the channel closes when
// all are added.
func addTweets(ctx context.Context, s *twittertest.Server, texts []string, pace time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, text := range texts {
			s.AddTweet(twittertest.Tweet{Text: text})
			select {
			case <-ctx.Done():
				return
			case <-time.After(pace): // the pace of the stream, not a wait for a result
			}
		}
	}()
	return done
}

// checkOnce fails unless got is want, each once, in order.
func checkOnce(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		deduped, dups := dedupe(got)
		t.Fatalf("got %d statuses (%d duplicates %q), want %d each once in order;\nin order and complete after dedupe: %v\ngot %q",
			len(got), len(dups), dups, len(want), slices.Equal(deduped, want), got)
	}
}

// sessionsUp counts the available presences of the daemon's sessions:
// one per login (the initial presence) plus one per status.
func sessionsUp(ps []prosodytest.Status) int {
	n := 0
	for _, p := range ps {
		if p.Type == "" && !p.HasStatus && strings.HasPrefix(p.From, userJID+"/r2sync") {
			n++
		}
	}
	return n
}

// tcpProxy stands between the daemon and Prosody so that a test can keep
// the daemon out (closed: connections are dropped at once) or freeze the
// network (bytes from the daemon are held back, as on a dead link).
type tcpProxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	closed bool
	frozen bool
	conns  map[net.Conn]struct{}
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		p.frozen = false
		for c := range p.conns {
			c.Close()
		}
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	return p
}

func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

// setClosed keeps the daemon out (true) or lets it in again (false).
func (p *tcpProxy) setClosed(closed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = closed
}

// setFrozen holds back (true) or releases (false) what the daemon sends.
func (p *tcpProxy) setFrozen(frozen bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = frozen
	p.cond.Broadcast()
}

func (p *tcpProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(up, c, true)
		go p.pipe(c, up, false)
	}
}

func (p *tcpProxy) pipe(dst, src net.Conn, holdable bool) {
	defer func() {
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && holdable {
			p.mu.Lock()
			for p.frozen {
				p.cond.Wait()
			}
			p.mu.Unlock()
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// apiProxy stands in front of the Twitter test API: it timestamps every
// request and can drop connections without an answer (a network error).
type apiProxy struct {
	srv  *http.Server
	host string // host:port

	mu    sync.Mutex
	drops int
	log   []apiHit
}

type apiHit struct {
	at      time.Time
	path    string
	dropped bool
}

func newAPIProxy(t *testing.T, target string) *apiProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	p := &apiProxy{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.host = ln.Addr().String()
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		drop := p.drops > 0
		if drop {
			p.drops--
		}
		p.log = append(p.log, apiHit{at: time.Now(), path: r.URL.Path, dropped: drop})
		p.mu.Unlock()
		if drop {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // a reset, not a clean close
				}
				c.Close()
			}
			return
		}
		// The API checks the OAuth signature against the URL the client
		// signed, which names this proxy: keep the Host header.
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() { p.srv.Close() })
	return p
}

// drop makes the next n requests fail with a connection reset.
func (p *apiProxy) drop(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drops += n
}

// hits returns the timeline requests seen so far.
func (p *apiProxy) hits() []apiHit {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []apiHit
	for _, h := range p.log {
		if isTimeline(h.path) {
			out = append(out, h)
		}
	}
	return out
}

func isTimeline(path string) bool {
	return strings.Contains(path, "user_timeline") || (strings.HasPrefix(path, "/2/users/") && strings.HasSuffix(path, "/tweets"))
}

// attemptTimes merges requests less than 100ms apart (net/http's own
// retry of a reset connection) into one attempt each.
func attemptTimes(hits []apiHit) []time.Time {
	var out []time.Time
	for _, h := range hits {
		if len(out) > 0 && h.at.Sub(out[len(out)-1]) < 100*time.Millisecond {
			continue
		}
		out = append(out, h.at)
	}
	return out
}

// timelinePath is a Fault.Path that matches only timeline reads.
func timelinePath(api string) string {
	if api == "v1.1" {
		return "user_timeline"
	}
	return "/2/users/"
}

// TestFaultProsodyRestarts restarts Prosody 10 times while 100 tweets come
// in. While Prosody is down the statuses wait in the state file; each
// restart is detected, the daemon logs in again and delivers them in order.
func TestFaultProsodyRestarts(t *testing.T) {
	w := newWorld(t, "v1.1", "[sync]\ntemplate = \"{{.Text}}\"\n")
	proxy := newTCPProxy(t, w.prosody.Addr())
	w.rewriteConfig(
		fmt.Sprintf("address = %q", w.prosody.Addr()), fmt.Sprintf("address = %q", proxy.Addr()),
		`ping_interval = "30s"`, `ping_interval = "5s"`)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	watchers := []*prosodytest.Watcher{w.watcher}
	seen := func() []string {
		var out []string
		for _, wt := range watchers {
			out = append(out, texts(wt.Statuses())...)
		}
		return out
	}

	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })
	waitFor(t, "the daemon's session", 30*time.Second, func() bool { return sessionsUp(w.watcher.Presences()) > 0 })

	const total, restarts = 100, 10
	want := numbered("restart stream", total)
	start := time.Now()
	added := addTweets(ctx, w.server, want, 120*time.Millisecond)
	for i := range restarts {
		// Each restart hits a live session: the current watcher has seen
		// the daemon log in.
		current := watchers[len(watchers)-1]
		waitFor(t, "the daemon to log in again", time.Minute, func() bool { return sessionsUp(current.Presences()) > 0 })
		time.Sleep(time.Duration(rand.N(800)) * time.Millisecond) // a random restart moment
		// The daemon stays out until a new watcher is in, so that the
		// watchers together see every status.
		proxy.setClosed(true)
		w.prosody.Restart(t)
		watchers = append(watchers, w.prosody.Watch(t, watcherName, watcherPass))
		proxy.setClosed(false)
		t.Logf("restart %d done after %s with %d statuses seen", i+1, time.Since(start).Round(time.Millisecond), len(seen()))
	}
	<-added
	last := watchers[len(watchers)-1]
	waitFor(t, "the login after the last restart", time.Minute, func() bool { return sessionsUp(last.Presences()) > 0 })
	waitFor(t, "every status", 3*time.Minute, func() bool { return len(seen()) >= total })
	waitFor(t, "the queue to drain", 30*time.Second, func() bool { return len(w.readState().Pending) == 0 })
	got := seen()
	_, dups := dedupe(got)
	t.Logf("%d prosody restarts during %d tweets: %d statuses, %d duplicates, in order: %v; took %s",
		restarts, total, len(got), len(dups), slices.Equal(got, want), time.Since(start).Round(time.Millisecond))
	checkOnce(t, got, want)
	logins := strings.Count(d.out.String(), `"session up"`)
	if logins < restarts+1 {
		t.Errorf("%d logins for %d restarts, want at least %d", logins, restarts, restarts+1)
	}
	d.stop(t)
}

// TestFaultTwitter injects each way the API fails. Transient faults are
// retried with growing waits and cost no tweet; a 429 is waited out until
// x-rate-limit-reset; rejected credentials and the v1.1 tier error are
// said once, plainly, and not hammered.
func TestFaultTwitter(t *testing.T) { forEachAPI(t, testFaultTwitter) }

func testFaultTwitter(t *testing.T, api string) {
	// Every check here is a lower bound on a wait or an exact count, which
	// a busy machine cannot fake: the APIs may share it.
	t.Parallel()
	w := newWorld(t, api, "[sync]\ntemplate = \"{{.Text}}\"\n")
	proxy := newAPIProxy(t, w.server.URL())
	u, _ := url.Parse(w.server.URL())
	w.rewriteConfig("//"+u.Host, "//"+proxy.host, "[twitter]\n", "[twitter]\ntimeout = \"1s\"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	path := timelinePath(api)

	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })

	// Consecutive failures per mode: waits of ≥0.5s, ≥1s, then ≥2s, which
	// a plain poll every second (the configured interval) cannot fake.
	const faults = 3
	transient := []struct {
		name   string
		inject func()
	}{
		// net/http retries an idempotent GET once by itself when a reused
		// connection is reset, so a reset costs two drops per attempt.
		{name: "network reset", inject: func() { proxy.drop(2 * faults) }},
		{name: "timeout", inject: func() { w.server.Fail(twittertest.Fault{Delay: 2 * time.Second, Times: faults, Path: path}) }},
		{name: "502 html", inject: func() { f := twittertest.FaultBadGateway(); f.Times, f.Path = faults, path; w.server.Fail(f) }},
		{name: "500 empty body", inject: func() { w.server.Fail(twittertest.Fault{Status: 500, Times: faults, Path: path}) }},
		{name: "200 garbage json", inject: func() { f := twittertest.FaultGarbage(); f.Times, f.Path = faults, path; w.server.Fail(f) }},
		{name: "200 html", inject: func() {
			w.server.Fail(twittertest.Fault{Status: 200, Body: "<html><body>maintenance</body></html>", Times: faults, Path: path})
		}},
		{name: "200 empty body", inject: func() {
			w.server.Fail(twittertest.Fault{Status: 200, ContentType: "application/json", Times: faults, Path: path})
		}},
	}
	var want []string
	for _, tt := range transient {
		text := "after " + tt.name
		want = append(want, text)
		before := len(proxy.hits())
		tt.inject()
		w.server.AddTweet(twittertest.Tweet{Text: text})
		got := w.statuses(ctx, len(want))
		checkOnce(t, got, want)
		hits := proxy.hits()[before:]
		attempts := attemptTimes(hits)
		// The faulted attempts, then the one that succeeded: the waits
		// between them must grow as the backoff says (1s, 2s, 4s with
		// jitter over the upper half).
		if len(attempts) < faults+1 {
			t.Fatalf("%s: %d timeline attempts, want at least %d", tt.name, len(attempts), faults+1)
		}
		var gaps []time.Duration
		for i := 1; i <= faults; i++ {
			gaps = append(gaps, attempts[i].Sub(attempts[i-1]).Round(time.Millisecond))
		}
		for i, g := range gaps {
			if floor := (time.Second << i) / 2; g < floor {
				t.Errorf("%s: wait %d after a failure was %s, want at least %s (gaps %v)", tt.name, i+1, g, floor, gaps)
			}
		}
		t.Logf("%s: %d requests in %d attempts until the status; waits %v", tt.name, len(hits), len(attempts), gaps)
	}

	t.Run("429 waits for x-rate-limit-reset", func(t *testing.T) {
		before := len(proxy.hits())
		reset := time.Now().Add(4 * time.Second).Truncate(time.Second).Add(time.Second)
		f := twittertest.FaultRateLimited(reset)
		f.Path = path
		w.server.Fail(f)
		want = append(want, "after 429")
		w.server.AddTweet(twittertest.Tweet{Text: "after 429"})
		checkOnce(t, w.statuses(ctx, len(want)), want)
		hits := proxy.hits()[before:]
		if len(hits) < 2 {
			t.Fatalf("%d timeline requests, want the limited one and a later one", len(hits))
		}
		if next := hits[1].at; next.Before(reset) {
			t.Errorf("retried at %s, before x-rate-limit-reset %s", next.Format(time.StampMilli), reset.Format(time.StampMilli))
		}
		t.Logf("429: %d timeline requests until the status; the retry came %s after the reset", len(hits), hits[1].at.Sub(reset).Round(time.Millisecond))
	})

	permanent := []struct {
		name  string
		fault twittertest.Fault
		want  []string // in the one error line
	}{
		{"401 rejected credentials", twittertest.Fault{Status: 401, Body: `{"errors":[{"code":89,"message":"Invalid or expired token."}]}`, Path: path},
			[]string{"401", "access token"}},
		{"403 code 453 api tier", func() twittertest.Fault { f := twittertest.FaultTier(); f.Path = path; return f }(),
			[]string{"453", "v2"}},
	}
	for _, tt := range permanent {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.name, "453") && api != "v1.1" {
				t.Skip("code 453 is a v1.1 answer")
			}
			before := len(proxy.hits())
			lines := strings.Count(d.out.String(), "fix the cause")
			w.server.Fail(tt.fault)
			w.server.AddTweet(twittertest.Tweet{Text: "after " + tt.name})
			want = append(want, "after "+tt.name)
			waitFor(t, "the error line", 30*time.Second, func() bool { return strings.Count(d.out.String(), "fix the cause") > lines })
			// The retry waits at least the poll interval (1s) and grows
			// while the error lasts (daemon: interval, 2×, 4×…, capped at
			// 15 min); the fault here lasts one answer, so the retry
			// after one interval succeeds.
			time.Sleep(3 * time.Second) // a window in which hammering would show
			hits := proxy.hits()[before:]
			if len(hits) > 4 {
				t.Errorf("%d timeline requests in 3s after a permanent error, want at most one a second", len(hits))
			}
			if len(hits) >= 2 && hits[1].at.Sub(hits[0].at) < 900*time.Millisecond {
				t.Errorf("retry %s after a permanent error, want at least the poll interval (1s)", hits[1].at.Sub(hits[0].at))
			}
			var line string
			for _, l := range strings.Split(d.out.String(), "\n") {
				if strings.Contains(l, "fix the cause") {
					line = l
				}
			}
			for _, s := range tt.want {
				if !strings.Contains(line, s) {
					t.Errorf("error line lacks %q: %s", s, line)
				}
			}
			if n := strings.Count(d.out.String(), "fix the cause") - lines; n != 1 {
				t.Errorf("%d error lines, want 1", n)
			}
			t.Logf("%s: %d timeline requests in 3s; line: %s", tt.name, len(hits), line)
			// The user fixes the cause and restarts: the tweet that came
			// meanwhile is mirrored, once.
			// The fault applied once: the fix is done.
			// The retry after one interval may already have delivered it:
			// wait for the new daemon's session and first poll, so that it
			// handles SIGTERM and the next fault.
			d.stop(t)
			sessions, polls := w.sessionCount(), len(proxy.hits())
			d = w.start()
			waitFor(t, "the restarted daemon's session and first poll", 30*time.Second, func() bool {
				return w.sessionCount() > sessions && len(proxy.hits()) > polls
			})
			checkOnce(t, w.statuses(ctx, len(want)), want)
		})
	}
	d.stop(t)
}

// TestFaultKill9 kills the daemon 25 times at random moments while tweets
// come in. Nothing may be lost; a status may come twice only when the kill
// fell between the server's receipt and the state update (the send
// window), and then it was the last status delivered before the kill.
func TestFaultKill9(t *testing.T) {
	w := newWorld(t, "v1.1", "[sync]\ntemplate = \"{{.Text}}\"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })

	const total, kills = 80, 25
	want := numbered("kill stream", total)
	added := addTweets(ctx, w.server, want, 250*time.Millisecond)
	inFlight := map[string]bool{}
	start := time.Now()
	up := 0
	for range kills {
		waitFor(t, "the daemon's session", 60*time.Second, func() bool { return w.sessionCount() > up })
		time.Sleep(time.Duration(rand.N(700)) * time.Millisecond) // a random kill moment
		d = killAndRestart(t, d, w.watcher, inFlight, func() *daemonProc {
			up = w.sessionCount()
			return w.start()
		})
	}
	<-added
	// Count distinct statuses: a duplicate must not end the wait early.
	waitFor(t, "every status", 2*time.Minute, func() bool {
		deduped, _ := dedupe(texts(w.watcher.Statuses()))
		return len(deduped) >= total
	})
	waitFor(t, "the queue to drain", 60*time.Second, func() bool { return len(w.readState().Pending) == 0 })
	got := texts(w.watcher.Statuses())
	deduped, dups := dedupe(got)
	t.Logf("%d tweets, %d kill -9 in %s: %d statuses, %d duplicates (%q), in order after dedupe: %v",
		total, kills, time.Since(start).Round(time.Millisecond), len(got), len(dups), dups, slices.Equal(deduped, want))
	checkOnceInOrder(t, got, want, inFlight, kills)
	d.stop(t)
}

// sessionCount counts the daemon's logins the watcher has seen.
func (w *world) sessionCount() int {
	n := 0
	for _, p := range w.watcher.Presences() {
		if p.Type == "" && !p.HasStatus && strings.HasPrefix(p.From, userJID+"/r2sync") {
			n++
		}
	}
	return n
}

// TestFaultShutdown sends SIGTERM while statuses are being delivered: the
// daemon exits 0 within 5s, says goodbye with an unavailable presence and
// leaves a state from which the next start delivers the rest, once. On a
// frozen network it still keeps the 5s; a second signal ends it at once.
func TestFaultShutdown(t *testing.T) {
	// The race runtime sleeps 1s at exit to collect reports; the 5s are
	// about r2sync, not about that.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	w := newWorld(t, "v1.1", "[sync]\ntemplate = \"{{.Text}}\"\n")
	proxy := newTCPProxy(t, w.prosody.Addr())
	w.rewriteConfig(fmt.Sprintf("address = %q", w.prosody.Addr()), fmt.Sprintf("address = %q", proxy.Addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })
	waitFor(t, "the daemon's session", 30*time.Second, func() bool { return w.sessionCount() == 1 })

	t.Run("during delivery", func(t *testing.T) {
		want := numbered("shutdown stream", 10)
		for _, text := range want {
			w.server.AddTweet(twittertest.Tweet{Text: text})
		}
		w.statuses(ctx, 1)
		gone := countUnavailable(w)
		took := signalAndWait(t, d, syscall.SIGTERM)
		if took > 5*time.Second {
			t.Errorf("exit took %s, want within 5s", took)
		}
		waitFor(t, "the unavailable presence", 10*time.Second, func() bool { return countUnavailable(w) > gone })
		st := w.readState()
		// The watcher may still be reading the last broadcasts.
		delivered := 0
		waitFor(t, "delivered plus pending to add up", 10*time.Second, func() bool {
			delivered = len(texts(w.watcher.Statuses()))
			return delivered+len(st.Pending) == len(want)
		})
		t.Logf("SIGTERM during delivery: exit 0 after %s, %d delivered, %d pending saved", took.Round(time.Millisecond), delivered, len(st.Pending))
		d = w.start()
		checkOnce(t, w.statuses(ctx, len(want)), want)
	})

	t.Run("frozen network", func(t *testing.T) {
		// The watcher sees a status before the daemon has the answer to
		// the ping that confirms it: freezing in between would leave that
		// one in flight too.
		waitFor(t, "the queue to drain", 10*time.Second, func() bool { return len(w.readState().Pending) == 0 })
		n := len(texts(w.watcher.Statuses()))
		queued := strings.Count(d.out.String(), `"statuses queued"`)
		proxy.setFrozen(true)
		w.server.AddTweet(twittertest.Tweet{Text: "stuck in flight"})
		waitFor(t, "the status to be queued", 30*time.Second, func() bool { return strings.Count(d.out.String(), `"statuses queued"`) > queued })
		took := signalAndWait(t, d, syscall.SIGTERM)
		if took > 5*time.Second {
			t.Errorf("exit on a frozen network took %s, want within 5s", took)
		}
		proxy.setFrozen(false)
		st := w.readState()
		t.Logf("SIGTERM with the send stuck: exit 0 after %s, pending %d", took.Round(time.Millisecond), len(st.Pending))
		d = w.start()
		got := w.statuses(ctx, n+1)
		if got[len(got)-1] != "stuck in flight" {
			t.Errorf("last status %q, want the one stuck at shutdown", got[len(got)-1])
		}
	})

	t.Run("second signal", func(t *testing.T) {
		queued := strings.Count(d.out.String(), `"statuses queued"`)
		proxy.setFrozen(true)
		defer proxy.setFrozen(false)
		w.server.AddTweet(twittertest.Tweet{Text: "second signal"})
		waitFor(t, "the status to be queued", 30*time.Second, func() bool { return strings.Count(d.out.String(), `"statuses queued"`) > queued })
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		// The first signal cancels the run and restores the default
		// handling; nothing is logged then to wait for.
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-d.exited:
			d.exited <- err
			took := time.Since(start)
			if took > time.Second {
				t.Errorf("exit %s after the second signal, want at once", took)
			}
			t.Logf("second SIGTERM: exit (%v) after %s", err, took.Round(time.Millisecond))
		case <-time.After(5 * time.Second):
			t.Fatal("no exit within 5s of the second signal")
		}
	})
}

// signalAndWait signals d and waits for a clean exit; it returns how long
// the exit took.
func signalAndWait(t *testing.T, d *daemonProc, sig os.Signal) time.Duration {
	t.Helper()
	start := time.Now()
	_ = d.cmd.Process.Signal(sig)
	select {
	case err := <-d.exited:
		d.exited <- err
		if err != nil {
			t.Fatalf("exit %v after %s, want 0; output:\n%s", err, sig, d.out)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit within 15s of %s", sig)
	}
	return time.Since(start)
}

// TestFaultCorruptState: a state file that cannot be read stops the daemon
// with one clear error before it connects anywhere; `r2sync state reset`
// recovers without re-posting old tweets.
func TestFaultCorruptState(t *testing.T) {
	w := newWorld(t, "v1.1", "[sync]\ntemplate = \"{{.Text}}\"\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w.server.AddTweet(twittertest.Tweet{Text: "old tweet"})
	if err := os.MkdirAll(strings.TrimSuffix(w.state, "/state.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.state, []byte(`{"initialized": tru`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := w.start()
	var err error
	select {
	case err = <-d.exited:
		d.exited <- err
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon kept running on a corrupt state file")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 65 {
		t.Fatalf("exit %v, want 65 (EX_DATAERR): restarting cannot help", err)
	}
	out := d.out.String()
	for _, s := range []string{"state file " + w.state + " is corrupt", "r2sync state reset"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if w.sessionCount() != 0 || len(w.server.Requests()) != 0 {
		t.Errorf("the daemon connected before checking its state (%d sessions, %d API requests)", w.sessionCount(), len(w.server.Requests()))
	}

	code, stdout, stderr := r2sync(t, "state", "reset", "--config", w.config)
	if code != 0 {
		t.Fatalf("state reset exited %d: %s%s", code, stdout, stderr)
	}
	d = w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })
	w.server.AddTweet(twittertest.Tweet{Text: "after reset"})
	checkOnce(t, w.statuses(ctx, 1), []string{"after reset"})
	d.stop(t)
}
