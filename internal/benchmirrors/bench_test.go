package benchmirrors_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/twitter"
)

var (
	sizes      = flag.String("mirrors", "100,1000", "comma-separated mirror counts for BenchmarkMirrors")
	roundsProf = flag.String("roundsprofile", "", "write a CPU profile of the idle poll rounds alone (not the start-up) to this file")
)

// countingSink confirms every status at once. The benchmark measures the
// mirrors, not XMPP sessions: B-run shares one session per bare JID, so a
// session per mirror would overstate the cost of a mirror.
type countingSink struct {
	mu sync.Mutex
	n  int
}

func (s *countingSink) SetStatus(context.Context, string) error {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return nil
}

// polls counts polls of all mirrors and wakes the benchmark when a round
// is complete.
type polls struct {
	mu     sync.Mutex
	n      int
	target int
	done   chan struct{}
}

func (p *polls) expect(n int) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n, p.target, p.done = 0, n, make(chan struct{})
	return p.done
}

func (p *polls) add() {
	p.mu.Lock()
	p.n++
	if p.n == p.target {
		close(p.done)
	}
	p.mu.Unlock()
}

// observer is the mirror's health.Monitor that also counts polls.
type observer struct {
	*health.Monitor
	polls *polls
}

func (o observer) Polled(err error) {
	o.Monitor.Polled(err)
	if err != nil {
		panic(fmt.Sprintf("poll failed: %v", err))
	}
	o.polls.add()
}

// usage is what the process has used so far.
type usage struct {
	cpu        time.Duration // user + system
	rss        int64         // bytes
	heap       uint64        // live heap after a GC
	goroutines int
}

func measure(b *testing.B) usage {
	// Return freed memory to the OS first, so that RSS is what is live
	// and not what an earlier run left in the heap.
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return usage{
		cpu:        time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		rss:        rss(b),
		heap:       ms.HeapAlloc,
		goroutines: runtime.NumGoroutine(),
	}
}

// rss reads the resident set size from /proc/self/statm.
func rss(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(raw))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// BenchmarkMirrors runs N mirrors in one process, each with its own user
// and token on one X API v2 test server (twittertest, OAuth verified on
// every request; run in a child process of the benchmark so that its CPU
// and memory are not counted as the mirrors'), its own state file and
// health monitor in one health.Registry, and a counting sink. Each b.N round makes every
// mirror poll once; the timelines are empty, so every poll is idle.
//
// It reports KiB/mirror (RSS added per mirror, after every mirror's first
// poll), heap-KiB/mirror, goroutines/mirror, and ms-cpu/poll (process CPU
// per idle poll of this process: the mirror, the X client, OAuth signing,
// the kept-alive connections of the shared transport).
// The quiet-source variant replaces the X client and server by a source
// without HTTP, which leaves the mirror's own cost per poll.
func BenchmarkMirrors(b *testing.B) {
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			b.Fatalf("-mirrors: %q is not a positive count", s)
		}
		b.Run(fmt.Sprintf("x/N=%d", n), func(b *testing.B) { benchMirrors(b, n, true) })
		b.Run(fmt.Sprintf("quiet/N=%d", n), func(b *testing.B) { benchMirrors(b, n, false) })
	}
}

// quietSource is a source without posts and without HTTP: with it the
// benchmark measures the mirror loop, state file and health monitor
// alone, without the X client and the in-process test server.
type quietSource struct{}

func (quietSource) Since(context.Context, string) ([]daemon.Post, error) { return nil, nil }
func (quietSource) Newest(context.Context) (string, error)               { return "", nil }

func benchMirrors(b *testing.B, n int, x bool) {
	var api serverInfo
	if x {
		api = startServer(b, n)
	}
	dir := b.TempDir()
	reg := health.NewRegistry(health.RegistryOptions{Version: "bench"})
	renderer, err := daemon.NewRenderer("{{.Text}}", 140)
	if err != nil {
		b.Fatal(err)
	}
	var p polls
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()

	before := measure(b)
	ticks := make([]chan time.Time, n)
	first := p.expect(n)
	for i := range n {
		var src daemon.Source = quietSource{}
		if x {
			u := api.Users[i]
			v2, err := twitter.NewV2(twitter.Options{
				APIBase:     api.V2URL,
				ConsumerKey: api.ConsumerKey, ConsumerSecret: api.ConsumerSecret,
				AccessToken: u.AccessToken, AccessSecret: u.AccessSecret,
			})
			if err != nil {
				b.Fatal(err)
			}
			src = v2
		}
		name := fmt.Sprintf("m%04d", i)
		store := statefile.New(fmt.Sprintf("%s/%s.json", dir, name))
		defer store.Close()
		mon := reg.Mirror(name, health.Options{Source: src, SourceName: "twitter", PollInterval: time.Minute})
		tick := make(chan time.Time, 1)
		ticks[i] = tick
		m := daemon.NewMirror(daemon.Config{
			Name: name, Source: src, Sink: &countingSink{}, Store: store, Renderer: renderer,
			PollInterval: time.Minute, Logger: zap.NewNop(), Observer: observer{mon, &p},
			After: func(time.Duration) <-chan time.Time { return tick },
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Run(ctx); err != nil {
				b.Errorf("mirror %s: %v", name, err)
			}
		}()
	}
	select {
	case <-first:
	case <-time.After(5 * time.Minute):
		b.Fatal("the first polls did not finish within 5 minutes")
	}
	after := measure(b)

	b.ResetTimer()
	start := measure(b)
	if *roundsProf != "" {
		f, err := os.Create(*roundsProf)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		done := p.expect(n)
		for _, t := range ticks {
			t <- time.Time{}
		}
		<-done
	}
	b.StopTimer()
	if *roundsProf != "" {
		pprof.StopCPUProfile()
	}
	end := measure(b)

	per := float64(n)
	b.ReportMetric(float64(after.rss-before.rss)/1024/per, "KiB/mirror")
	b.ReportMetric((float64(after.heap)-float64(before.heap))/1024/per, "heap-KiB/mirror")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/per, "goroutines/mirror")
	b.ReportMetric(float64((end.cpu-start.cpu).Nanoseconds())/1e6/(per*float64(b.N)), "ms-cpu/poll")
}
