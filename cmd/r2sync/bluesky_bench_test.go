package main

import (
	"context"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/bluesky/blueskytest"
)

// benchPosts is how many posts each delay benchmark makes.
const benchPosts = 200

var (
	releaseOnce sync.Once
	releaseBin  string
	releaseErr  error
)

// releaseBinary builds r2sync as a release is built (no -race, which
// the end-to-end binary has and which would inflate every delay).
func releaseBinary(b *testing.B) string {
	releaseOnce.Do(func() {
		releaseBin = filepath.Join(filepath.Dir(binary), "r2sync-release")
		out, err := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", releaseBin, ".").CombinedOutput()
		if err != nil {
			releaseErr = err
			b.Logf("build: %s", out)
		}
	})
	if releaseErr != nil {
		b.Fatal(releaseErr)
	}
	return releaseBin
}

// BenchmarkBlueskyDelay measures the delay from a post being created on
// blueskytest to its status reaching a second XMPP account on a real
// Prosody, over benchPosts posts, with Jetstream and with polling at
// 1 s. It reports p50/p95/p99/max in milliseconds; b.N is not used (one
// run is 200 samples).
func BenchmarkBlueskyDelay(b *testing.B) {
	for _, mode := range []struct {
		name      string
		jetstream bool
	}{{"jetstream", true}, {"poll1s", false}} {
		b.Run(mode.name, func(b *testing.B) {
			w := newBskyWorld(b, mode.jetstream, "1s", "")
			w.bin = releaseBinary(b)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			d := w.started(mode.jetstream)
			defer d.kill()
			delays := make([]time.Duration, 0, benchPosts)
			b.ResetTimer()
			for i := range benchPosts {
				if !mode.jetstream {
					// A random phase against the poll ticker, as real posts have.
					time.Sleep(rand.N(time.Second))
				}
				ref := w.post(blueskytest.Post{Text: "bench " + strconv.Itoa(i)})
				if _, err := w.watcher.WaitStatuses(ctx, userJID, i+1); err != nil {
					b.Fatal(err)
				}
				delays = append(delays, time.Since(ref.Created))
			}
			b.StopTimer()
			if got := texts(w.watcher.Statuses()); len(got) != benchPosts {
				b.Fatalf("%d statuses for %d posts", len(got), benchPosts)
			}
			reportDelays(b, mode.name, delays)
		})
	}
}

// reportDelays reports the quantiles of a delay benchmark's samples in
// milliseconds, and how many there were.
func reportDelays(b *testing.B, name string, delays []time.Duration) {
	b.Helper()
	slices.Sort(delays)
	q := func(p float64) float64 {
		return float64(delays[int(p*float64(len(delays)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.95), "p95-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(len(delays)), "posts")
	b.Logf("%s: %d posts, delay p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms", name, len(delays), q(0.5), q(0.95), q(0.99), q(1))
}
