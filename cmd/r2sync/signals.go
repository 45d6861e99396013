package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownDeadline bounds the whole graceful shutdown after SIGTERM or
// SIGINT: the status in flight gets daemon.DefaultGrace (3s), the XMPP
// session a second to say goodbye, scrapes in progress two. Past it the
// process ends anyway: something blocked where no context reaches (a read
// of a FIFO, a wedged file system), and a stop request must be answered
// before a service manager's patience ends (Docker's is 10s).
const shutdownDeadline = 8 * time.Second

// signals is how the process hears its signals.
type signals struct {
	// ctx ends at the first SIGINT or SIGTERM (and SIGHUP for one-shot
	// commands).
	ctx context.Context
	// reload receives one value per SIGHUP for `r2sync run`; nil for other
	// commands. It holds at most one request: more during a reload ask
	// for nothing new.
	reload <-chan struct{}
	// stop stops listening.
	stop func()
}

// notifySignals starts listening for the signals of command cmd (the
// first argument, or ""). SIGINT and SIGTERM cancel ctx and restore the
// default handling, so that a second one ends the process at once; if the
// process still runs shutdownDeadline later, it says so on stderr and
// ends as that signal would have ended it. SIGHUP asks `run` to reload
// its config. For every other command it is a request to stop, like
// SIGINT: a closed terminal should not leave `post` halfway through a
// state update. A SIGHUP that was ignored at start (nohup) stays ignored.
func notifySignals(cmd string, stderr io.Writer) signals {
	ctx, cancel := context.WithCancel(context.Background())
	stops := []os.Signal{os.Interrupt, syscall.SIGTERM}
	var reload chan struct{}
	hup := make(chan os.Signal, 1)
	switch {
	case cmd == "run":
		reload = make(chan struct{}, 1)
		signal.Notify(hup, syscall.SIGHUP)
	case !signal.Ignored(syscall.SIGHUP):
		stops = append(stops, syscall.SIGHUP)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stops...)
	done := make(chan struct{})
	go signalLoop(signalLoopConfig{
		sigs: sigs, hup: hup, reload: reload, done: done,
		stop: func() {
			cancel()
			signal.Reset(stops...)
		},
		deadline: shutdownDeadline,
		expire:   func(sig os.Signal) { expire(stderr, sig) },
	})
	return signals{
		ctx:    ctx,
		reload: reload,
		stop: func() {
			signal.Stop(sigs)
			signal.Stop(hup)
			close(done)
			cancel()
		},
	}
}

// signalLoopConfig is what signalLoop works with; tests fake the effects.
type signalLoopConfig struct {
	sigs     <-chan os.Signal // stop requests
	hup      <-chan os.Signal // reload requests
	reload   chan<- struct{}  // where reload requests go; nil drops them
	done     <-chan struct{}  // closed when the command has returned
	stop     func()           // cancels the command, restores default handling
	deadline time.Duration
	expire   func(os.Signal) // ends the process
}

// signalLoop turns signals into cancellation and reload requests until
// done, and ends the process when a stop takes longer than the deadline.
func signalLoop(c signalLoopConfig) {
	var stopping os.Signal
	var expired <-chan time.Time
	for {
		select {
		case <-c.done:
			return
		case <-c.hup:
			if stopping == nil && c.reload != nil {
				select {
				case c.reload <- struct{}{}:
				default:
				}
			}
		case sig := <-c.sigs:
			if stopping != nil {
				// Only until stop restored the default handling.
				c.expire(sig)
				return
			}
			stopping = sig
			c.stop()
			t := time.NewTimer(c.deadline)
			defer t.Stop()
			expired = t.C
		case <-expired:
			c.expire(stopping)
			return
		}
	}
}

// expire ends the process as sig would have without a handler, after one
// line on stderr: systemd counts a SIGTERM death as a clean stop.
func expire(stderr io.Writer, sig os.Signal) {
	fmt.Fprintf(stderr, "r2sync: still running %s after %s; exiting now\n", shutdownDeadline, sig)
	if s, ok := sig.(syscall.Signal); ok {
		signal.Reset(s)
		_ = syscall.Kill(os.Getpid(), s)
		time.Sleep(time.Second) // the signal is on its way
	}
	os.Exit(exitFail)
}
