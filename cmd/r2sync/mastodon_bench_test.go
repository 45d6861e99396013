package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/mastodon/mastodontest"
	"github.com/r2sync/r2sync/renren/prosodytest"
)

// BenchmarkMastodonDelay measures the delay from a post being made on
// mastodontest to its status reaching a second XMPP account (the
// watcher) on a real Prosody, through the real daemon (releaseBinary,
// without the race detector): with the user stream, and for comparison
// polling every second. b.N is not used: one run is the sample. Posts come at random gaps around a mean, so that they do not
// fall into step with the poll ticker.
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
				d := measureMastodonDelays(b, bin, mode.stream, mode.poll, mode.gap, mode.n)
				slices.Sort(d)
				q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
				b.ReportMetric(q(0.50), "p50-ms")
				b.ReportMetric(q(0.95), "p95-ms")
				b.ReportMetric(q(0.99), "p99-ms")
				b.ReportMetric(q(1), "max-ms")
				b.ReportMetric(float64(len(d)), "posts")
				b.Logf("%s: %d posts, delay p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms", mode.name, len(d), q(0.5), q(0.95), q(0.99), q(1))
			}
		})
	}
}

// measureMastodonDelays runs one daemon over n posts and returns each
// post's delay.
func measureMastodonDelays(b *testing.B, bin string, stream bool, poll string, gap time.Duration, n int) []time.Duration {
	p := prosodytest.Start(b, prosodytest.Options{
		Domain: "talk.xiaonei.com",
		Users:  map[string]string{"123456": userPassword, watcherName: watcherPass},
		Group:  []string{"123456", watcherName},
	})
	api := mastodontest.NewServer(mastodontest.Options{Token: mastoToken, Username: "alice", RateLimit: -1})
	defer api.Close()
	watcher := p.Watch(b, watcherName, watcherPass)
	dir := b.TempDir()
	state := filepath.Join(dir, "state.json")
	cfg := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf(`source = "mastodon"
[mastodon]
server = %q
access_token = %q
stream = %t
poll_interval = %q
[renren]
jid = %q
password = %q
address = %q
ca_file = %q
[sync]
template = "{{.Text}}"
[state]
file = %q
[log]
level = "warn"
`, api.URL(), mastoToken, stream, poll, userJID, userPassword, p.Addr(), p.CAFile(), state)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	out := &syncBuffer{}
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Ready: the first start recorded (the mirror's first poll done) and,
	// with the stream, the stream open.
	deadline := time.Now().Add(30 * time.Second)
	for {
		store := statefile.New(state)
		st, err := store.Load(ctx)
		store.Close()
		if err == nil && st.Initialized && (!stream || api.OpenStreams() > 0) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the daemon did not start; output:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}

	created := make([]time.Time, n)
	arrived := make([]time.Time, n)
	done := make(chan error, 1)
	go func() {
		seen := 0
		for seen < n {
			got, err := watcher.WaitStatuses(ctx, userJID, seen+1)
			now := time.Now()
			if err != nil {
				done <- err
				return
			}
			for _, s := range got[seen:] {
				i, err := strconv.Atoi(strings.TrimPrefix(s.Text, "bench "))
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
		if _, err := api.Post(mastodontest.NewStatus{Text: fmt.Sprintf("bench %d", i)}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(gap/2 + rand.N(gap)) // the pace of posting, not a wait for a result
	}
	if err := <-done; err != nil {
		b.Fatalf("%v; daemon output:\n%s", err, out)
	}
	delays := make([]time.Duration, n)
	for i := range n {
		delays[i] = arrived[i].Sub(created[i])
	}
	return delays
}
