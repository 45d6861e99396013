package daemon_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// rejectedErr is shaped like the twitter adapter's 401/403/453 errors.
type rejectedErr struct{}

func (rejectedErr) Error() string   { return "twitter api: status 401: check the access token" }
func (rejectedErr) Permanent() bool { return true }

// stepPolls runs the mirror on the fake clock and returns the waits of
// its poll loop; before ending wait i it calls step(i), which may change
// what the source answers next.
func stepPolls(t *testing.T, src *fakeSource, interval time.Duration, log *zap.Logger, n int, step func(i int)) []time.Duration {
	t.Helper()
	seen := make(chan time.Duration)
	clock := &fakeAfter{seen: seen, release: make(chan time.Time), quit: make(chan struct{})}
	store := statefile.New(t.TempDir() + "/state.json")
	defer store.Close()
	if _, err := store.Update(context.Background(), func(s *daemon.State) error { s.Initialized, s.Cursors = true, started(1); return nil }); err != nil {
		t.Fatal(err)
	}
	m := mirrorWith(t, daemon.Config{Source: src, Sink: &fakeSink{}, Store: store, PollInterval: interval, After: clock.After, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var waits []time.Duration
	for i := range n {
		select {
		case d := <-seen:
			waits = append(waits, d)
		case err := <-done:
			t.Fatalf("Run ended: %v", err)
		}
		step(i)
		clock.release <- time.Time{}
	}
	cancel()
	close(clock.quit)
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	return waits
}

func (f *fakeSource) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// levels returns the messages logged at level or above.
func levels(logged *observer.ObservedLogs, level zapcore.Level) []string {
	var out []string
	for _, e := range logged.All() {
		if e.Level >= level {
			out = append(out, e.Level.String()+": "+e.Message)
		}
	}
	return out
}

// Rejected credentials back off from the poll interval, doubling up to
// PermanentErrorBackoff, not a flat 15 minutes; one ERROR line when the
// source starts failing and one INFO line when it works again, not one
// per retry. A new run of failures starts again at the interval.
func TestPermanentErrorBackoff(t *testing.T) {
	src := &fakeSource{err: fmt.Errorf("fetch posts: %w", rejectedErr{})}
	log, logged := logs()
	waits := stepPolls(t, src, time.Minute, log, 11, func(i int) {
		switch i {
		case 6: // the user fixes the token: the next poll works
			src.setErr(nil)
		case 8: // and it breaks again
			src.setErr(fmt.Errorf("fetch posts: %w", rejectedErr{}))
		}
	})
	m := time.Minute
	want := []time.Duration{m, 2 * m, 4 * m, 8 * m, 15 * m, 15 * m, 15 * m, m, m, m, 2 * m}
	if !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	errLine := "error: poll failed; fix the cause, r2sync retries with a growing wait meanwhile"
	wantLogs := []string{errLine, "info: source works again", errLine}
	if got := levels(logged, zapcore.InfoLevel); !slices.Equal(got, wantLogs) {
		t.Errorf("log lines at info and above:\n%q\nwant\n%q", got, wantLogs)
	}
	failing, recovered := logged.FilterMessage("poll failed; fix the cause, r2sync retries with a growing wait meanwhile").All(), logged.FilterMessage("source works again").All()
	if len(failing) == 0 || len(recovered) == 0 {
		t.Fatalf("no error line or no recovery line")
	}
	first := failing[0].ContextMap()
	if e, _ := first["error"].(string); !strings.HasSuffix(e, "twitter api: status 401: check the access token") || first["retry_in"] != time.Minute {
		t.Errorf("error line fields %v", first)
	}
	back := recovered[0].ContextMap()
	if back["retries"] != int64(6) {
		t.Errorf("recovery line says %v retries, want 6", back["retries"])
	}
}

// A poll interval above PermanentErrorBackoff is never shortened.
func TestPermanentErrorBackoffLongInterval(t *testing.T) {
	src := &fakeSource{err: rejectedErr{}}
	log, logged := logs()
	waits := stepPolls(t, src, 20*time.Minute, log, 4, func(int) {})
	for _, d := range waits {
		if d != 20*time.Minute {
			t.Errorf("waits %v, want the 20m interval each", waits)
			break
		}
	}
	if got := levels(logged, zapcore.WarnLevel); len(got) != 1 {
		t.Errorf("log lines at warn and above: %q, want one", got)
	}
}
