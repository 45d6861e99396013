package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
)

// statusEvery is how often STATUS= is refreshed when no watchdog asks for
// more; the "3m ago" in it should not lag by much.
const statusEvery = 10 * time.Second

// monitor is what the systemd loop reads; *health.Monitor implements it.
type monitor interface {
	FirstPoll() <-chan struct{}
	Live() error
	Summary() string
}

// systemdNotifier speaks sd_notify for `r2sync run` under Type=notify:
// READY=1 once the XMPP session is up and a poll succeeded, WATCHDOG=1
// only while the mirror loop is alive, STATUS= with the monitor's summary,
// and STOPPING=1 when ctx ends (RELOADING=1 when it ends for a reload).
type systemdNotifier struct {
	// notify sends one message; sddaemon.SdNotify in production.
	notify func(state string) error
	// watchdog is WATCHDOG_USEC, or 0 when systemd wants no pings.
	watchdog time.Duration
	// session is closed once the first XMPP session is up.
	session <-chan struct{}
	mon     monitor
	log     *zap.Logger
	// tick makes the ticker; tests replace it to step the loop.
	tick func(d time.Duration) (<-chan time.Time, func())
}

// newSystemdNotifier returns nil when the process was not started by
// systemd with Type=notify ($NOTIFY_SOCKET unset).
func newSystemdNotifier(getenv func(string) string, session <-chan struct{}, mon monitor, log *zap.Logger) (*systemdNotifier, error) {
	if getenv("NOTIFY_SOCKET") == "" {
		return nil, nil
	}
	wd, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		return nil, fmt.Errorf("systemd watchdog: %w", err)
	}
	return &systemdNotifier{
		notify: func(state string) error {
			_, err := sddaemon.SdNotify(false, state)
			return err
		},
		watchdog: wd,
		session:  session,
		mon:      mon,
		log:      log.Named("systemd"),
		tick: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
	}, nil
}

// interval is how often the loop wakes: half the watchdog timeout, as
// sd_watchdog_enabled(3) recommends, and at least every statusEvery.
func (n *systemdNotifier) interval() time.Duration {
	if n.watchdog > 0 {
		return min(n.watchdog/2, statusEvery)
	}
	return statusEvery
}

// Run notifies until ctx ends, then sends STOPPING=1.
func (n *systemdNotifier) Run(ctx context.Context) error {
	session, polled := n.session, n.mon.FirstPoll()
	ready := false
	lastStatus := ""
	warned := false
	send := func(state string) {
		if err := n.notify(state); err != nil && !warned {
			n.log.Warn("sd_notify failed", zap.Error(err))
			warned = true
		}
	}
	status := func(prefix string) {
		s := n.mon.Summary()
		if s != lastStatus || prefix != "" {
			send(prefix + "STATUS=" + s)
			lastStatus = s
		}
	}
	tick, stop := n.tick(n.interval())
	defer stop()
	status("")
	for {
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errReload) {
				// READY=1 comes again from the next generation's notifier.
				send("RELOADING=1\nSTATUS=reloading the config")
			} else {
				send("STOPPING=1\nSTATUS=stopping")
			}
			return nil
		case <-session:
			session = nil
		case <-polled:
			polled = nil
		case <-tick:
			if n.watchdog > 0 {
				if err := n.mon.Live(); err == nil {
					send(sddaemon.SdNotifyWatchdog)
				} else {
					n.log.Error("not pinging the watchdog", zap.Error(err))
				}
			}
			status("")
		}
		if !ready && session == nil && polled == nil {
			ready = true
			n.log.Info("ready: xmpp session up and first poll done")
			status(sddaemon.SdNotifyReady + "\n")
		}
	}
}
