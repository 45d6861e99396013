package serverproc

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWaitReady(t *testing.T) {
	errNotYet, errBad := errors.New("connection refused"), errors.New("bad certificate")
	ready := func(probe func(n int) (error, bool)) Ready {
		n := 0
		return Ready{Name: "srv", Done: make(chan struct{}), Exited: func() error { return errors.New("exit status 1") },
			Timeout: 200 * time.Millisecond, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
			Probe: func(time.Time) (error, bool) { n++; return probe(n) }}
	}
	// Ready on the third probe.
	if err := WaitReady(ready(func(n int) (error, bool) {
		if n < 3 {
			return errNotYet, false
		}
		return nil, false
	})); err != nil {
		t.Errorf("ready on the third probe: %v", err)
	}
	// A final error ends the wait at once.
	if err := WaitReady(ready(func(int) (error, bool) { return errBad, true })); !errors.Is(err, errBad) {
		t.Errorf("final error: %v", err)
	}
	// Never ready: the timeout names the last error.
	if err := WaitReady(ready(func(int) (error, bool) { return errNotYet, false })); !errors.Is(err, errNotYet) || !strings.Contains(err.Error(), "srv not ready within 200ms") {
		t.Errorf("timeout: %v", err)
	}
	// The process exits meanwhile.
	r := ready(func(int) (error, bool) { return errNotYet, false })
	done := make(chan struct{})
	close(done)
	r.Done = done
	if err := WaitReady(r); err == nil || err.Error() != "srv exited during startup: exit status 1" {
		t.Errorf("exit: %v", err)
	}
}
