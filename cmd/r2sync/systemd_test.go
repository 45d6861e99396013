package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// fakeMonitor is a monitor with settable answers.
type fakeMonitor struct {
	polled chan struct{}
	mu     sync.Mutex
	live   error
	sum    string
}

func (f *fakeMonitor) FirstPoll() <-chan struct{} { return f.polled }
func (f *fakeMonitor) Live() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}
func (f *fakeMonitor) Summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sum
}
func (f *fakeMonitor) set(live error, sum string) {
	f.mu.Lock()
	f.live, f.sum = live, sum
	f.mu.Unlock()
}

func TestSystemdNotifier(t *testing.T) {
	sent := make(chan string, 100)
	ticks := make(chan time.Time)
	session := make(chan struct{})
	mon := &fakeMonitor{polled: make(chan struct{}), sum: "connecting to XMPP"}
	var interval time.Duration
	n := &systemdNotifier{
		notify:   func(s string) error { sent <- s; return nil },
		watchdog: 4 * time.Second,
		session:  session,
		mon:      mon,
		log:      zap.NewNop(),
		tick: func(d time.Duration) (<-chan time.Time, func()) {
			interval = d
			return ticks, func() {}
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()

	next := func(want string) {
		t.Helper()
		select {
		case got := <-sent:
			if got != want {
				t.Fatalf("sd_notify %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no sd_notify, want %q", want)
		}
	}
	tick := func() {
		t.Helper()
		select {
		case ticks <- time.Now():
		case <-time.After(10 * time.Second):
			t.Fatal("notifier does not take ticks")
		}
	}
	next("STATUS=connecting to XMPP")
	if interval != 2*time.Second {
		t.Errorf("tick interval %s, want half the 4s watchdog", interval)
	}

	// Not ready until both the session and a poll are there; the watchdog
	// is pinged meanwhile as long as the loop is alive.
	close(session)
	mon.set(nil, "connected; none mirrored yet; first poll pending")
	tick()
	next("WATCHDOG=1")
	next("STATUS=connected; none mirrored yet; first poll pending")
	mon.set(nil, "connected; none mirrored yet")
	close(mon.polled)
	next("READY=1\nSTATUS=connected; none mirrored yet")

	// An unchanged status is not resent; a stalled loop gets no ping.
	tick()
	next("WATCHDOG=1")
	mon.set(errors.New("mirror loop stalled: no poll for 17m"), "connected; mirror loop stalled: no poll for 17m")
	tick()
	next("STATUS=connected; mirror loop stalled: no poll for 17m")
	mon.set(nil, "connected; 1 mirrored; last status just now")
	tick()
	next("WATCHDOG=1")
	next("STATUS=connected; 1 mirrored; last status just now")

	cancel()
	next("STOPPING=1\nSTATUS=stopping")
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	select {
	case s := <-sent:
		t.Errorf("sd_notify %q after STOPPING", s)
	default:
	}
}

func TestSystemdNotifierWithoutWatchdog(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	if n, err := newSystemdNotifier(func(string) string { return "" }, nil, &fakeMonitor{}, zap.NewNop()); n != nil || err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v, %v; want nil, nil", n, err)
	}
	getenv := func(k string) string {
		if k == "NOTIFY_SOCKET" {
			return "/run/systemd/notify"
		}
		return ""
	}
	n, err := newSystemdNotifier(getenv, nil, &fakeMonitor{}, zap.NewNop())
	if err != nil || n == nil {
		t.Fatalf("newSystemdNotifier = %v, %v", n, err)
	}
	if n.watchdog != 0 || n.interval() != statusEvery {
		t.Errorf("watchdog %s interval %s, want 0 and %s", n.watchdog, n.interval(), statusEvery)
	}
	t.Setenv("WATCHDOG_USEC", "not a number")
	if _, err := newSystemdNotifier(getenv, nil, &fakeMonitor{}, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "watchdog") {
		t.Errorf("bad WATCHDOG_USEC: err %v", err)
	}
}

// TestSystemdNotifierReload: a generation that ends for a reload tells
// systemd RELOADING=1, not STOPPING=1; the next one sends READY=1 again.
func TestSystemdNotifierReload(t *testing.T) {
	sent := make(chan string, 10)
	session := make(chan struct{})
	close(session)
	n := &systemdNotifier{
		notify:  func(s string) error { sent <- s; return nil },
		session: session,
		mon:     &fakeMonitor{polled: make(chan struct{}), sum: "connected"},
		log:     zap.NewNop(),
		tick:    func(time.Duration) (<-chan time.Time, func()) { return nil, func() {} },
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	if got := <-sent; got != "STATUS=connected" {
		t.Fatalf("first sd_notify %q", got)
	}
	cancel(errReload)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := <-sent; got != "RELOADING=1\nSTATUS=reloading the config" {
		t.Errorf("at a reload: sd_notify %q, want RELOADING=1", got)
	}
}
