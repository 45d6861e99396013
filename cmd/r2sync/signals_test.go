package main

import (
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// loopUnderTest runs signalLoop with recorded effects.
type loopUnderTest struct {
	sigs, hup chan os.Signal
	reload    chan struct{}
	done      chan struct{}
	stopped   chan struct{}
	expired   chan os.Signal
	returned  chan struct{}
}

func startLoop(t *testing.T, reloads bool, deadline time.Duration) *loopUnderTest {
	l := &loopUnderTest{
		// Unbuffered: a send returns once the loop has taken it, and the
		// loop handles one signal at a time.
		sigs: make(chan os.Signal), hup: make(chan os.Signal),
		done: make(chan struct{}), stopped: make(chan struct{}, 2),
		expired: make(chan os.Signal, 2), returned: make(chan struct{}),
	}
	var reload chan<- struct{}
	if reloads {
		l.reload = make(chan struct{}, 1)
		reload = l.reload
	}
	go func() {
		defer close(l.returned)
		signalLoop(signalLoopConfig{
			sigs: l.sigs, hup: l.hup, reload: reload, done: l.done,
			stop:     func() { l.stopped <- struct{}{} },
			deadline: deadline,
			expire:   func(sig os.Signal) { l.expired <- sig },
		})
	}()
	t.Cleanup(func() {
		select {
		case <-l.returned:
		default:
			close(l.done)
			<-l.returned
		}
	})
	return l
}

func receive[T any](t *testing.T, what string, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5s", what)
	}
	var zero T
	return zero
}

func nothing[T any](t *testing.T, what string, c <-chan T, within time.Duration) {
	t.Helper()
	select {
	case <-c:
		t.Fatalf("unexpected %s", what)
	case <-time.After(within):
	}
}

// TestSignalLoopDeadline: the first SIGTERM cancels the command at once;
// a command that is still running at the deadline is ended; one that
// returned in time is not.
func TestSignalLoopDeadline(t *testing.T) {
	t.Run("stuck command is ended at the deadline", func(t *testing.T) {
		l := startLoop(t, true, 200*time.Millisecond)
		start := time.Now()
		l.sigs <- syscall.SIGTERM
		receive(t, "stop", l.stopped)
		if sig := receive(t, "expiry", l.expired); sig != syscall.SIGTERM {
			t.Errorf("expired with %v, want SIGTERM", sig)
		}
		if took := time.Since(start); took < 200*time.Millisecond {
			t.Errorf("expired after %s, before the deadline", took)
		}
		receive(t, "return", l.returned)
	})
	t.Run("command that returns in time", func(t *testing.T) {
		l := startLoop(t, true, 300*time.Millisecond)
		l.sigs <- syscall.SIGINT
		receive(t, "stop", l.stopped)
		close(l.done)
		receive(t, "return", l.returned)
		nothing(t, "expiry", l.expired, 400*time.Millisecond)
	})
	t.Run("a second signal before the default handling is back", func(t *testing.T) {
		l := startLoop(t, true, time.Hour)
		l.sigs <- syscall.SIGTERM
		receive(t, "stop", l.stopped)
		l.sigs <- syscall.SIGTERM
		receive(t, "expiry", l.expired)
	})
}

// TestSignalLoopReload: each SIGHUP is one reload request for run; more
// while one waits merge into it without blocking the loop (a SIGTERM is
// still heard); none once stopping.
func TestSignalLoopReload(t *testing.T) {
	l := startLoop(t, true, time.Hour)
	l.hup <- syscall.SIGHUP
	receive(t, "reload", l.reload)
	for range 3 {
		l.hup <- syscall.SIGHUP
	}
	l.sigs <- syscall.SIGTERM
	receive(t, "stop", l.stopped)
	receive(t, "reload", l.reload)
	l.hup <- syscall.SIGHUP
	nothing(t, "reload while stopping", l.reload, 100*time.Millisecond)
}

// TestSIGHUPPerCommand: SIGHUP asks `run` to reload and leaves it
// running; for a one-shot command it is a stop request like SIGINT.
func TestSIGHUPPerCommand(t *testing.T) {
	t.Run("run reloads", func(t *testing.T) {
		s := notifySignals("run", io.Discard)
		defer s.stop()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		receive(t, "reload", s.reload)
		if err := s.ctx.Err(); err != nil {
			t.Errorf("SIGHUP ended run: %v", err)
		}
	})
	t.Run("post stops", func(t *testing.T) {
		s := notifySignals("post", io.Discard)
		defer s.stop()
		if s.reload != nil {
			t.Error("post has a reload channel")
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		receive(t, "cancellation", s.ctx.Done())
	})
}
