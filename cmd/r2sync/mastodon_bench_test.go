package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/mastodon/mastodontest"
)

// BenchmarkMastodonDelay measures the delay from a post being made on
// mastodontest to its status reaching a second XMPP account (the
// watcher) on a real Prosody, through the real daemon (releaseBinary,
// without the race detector): with the user stream, and for comparison
// polling every second, on the end-to-end world's config (newMastoWorld,
// as BenchmarkBlueskyDelay uses newBskyWorld). b.N is not used: one run
// is the sample. Posts come at random gaps around a mean, so that they
// do not fall into step with the poll ticker.
func BenchmarkMastodonDelay(b *testing.B) {
	bin := releaseBinary(b)
	for _, mode := range []struct {
		name   string
		stream bool
		poll   string
		gap    time.Duration // mean time between posts
		n      int
	}{
		{"stream", true, "1h", 40 * time.Millisecond, 250},
		{"poll=1s", false, "1s", 250 * time.Millisecond, 200},
	} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				reportDelays(b, mode.name, measureMastodonDelays(b, bin, mode.stream, mode.poll, mode.gap, mode.n))
			}
		})
	}
}

// measureMastodonDelays runs one daemon over n posts and returns each
// post's delay.
func measureMastodonDelays(b *testing.B, bin string, stream bool, poll string, gap time.Duration, n int) []time.Duration {
	mw := newMastoWorld(b, stream, poll, "")
	mw.bin = bin
	d := mw.startMasto(stream)
	defer d.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	created := make([]time.Time, n)
	arrived := make([]time.Time, n)
	done := make(chan error, 1)
	go func() {
		seen := 0
		for seen < n {
			got, err := mw.watcher.WaitStatuses(ctx, userJID, seen+1)
			now := time.Now()
			if err != nil {
				done <- err
				return
			}
			for _, s := range got[seen:] {
				i, err := strconv.Atoi(strings.TrimPrefix(s.Text, "[r2] bench "))
				if err != nil || i < 0 || i >= n || !arrived[i].IsZero() {
					done <- fmt.Errorf("unexpected status %q", s.Text)
					return
				}
				arrived[i] = now
			}
			seen = len(got)
		}
		done <- nil
	}()
	b.ResetTimer()
	for i := range n {
		created[i] = time.Now()
		mw.post(mastodontest.NewStatus{Text: fmt.Sprintf("bench %d", i)})
		time.Sleep(gap/2 + rand.N(gap)) // the pace of posting, not a wait for a result
	}
	if err := <-done; err != nil {
		b.Fatalf("%v; daemon output:\n%s", err, d.out)
	}
	delays := make([]time.Duration, n)
	for i := range n {
		delays[i] = arrived[i].Sub(created[i])
	}
	return delays
}
