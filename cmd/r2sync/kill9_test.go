package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren/prosodytest"
)

// daemonGone counts the unavailable presences of the daemon's sessions
// (resources r2sync…) that watcher has seen: one more means a killed
// session is gone.
func daemonGone(watcher *prosodytest.Watcher) int {
	n := 0
	for _, p := range watcher.Presences() {
		if p.Type == "unavailable" && strings.HasPrefix(p.From, userJID+"/r2sync") {
			n++
		}
	}
	return n
}

// killAndRestart kill -9s d, waits until watcher has seen its session
// go, notes the last status watcher had then in inFlight (the one that may
// have been in flight, the only kind allowed to come twice) and returns
// the daemon start started in its place.
func killAndRestart(t *testing.T, d *daemonProc, watcher *prosodytest.Watcher, inFlight map[string]bool, start func() *daemonProc) *daemonProc {
	t.Helper()
	gone := daemonGone(watcher)
	d.kill()
	waitFor(t, "the killed session to be gone", 90*time.Second, func() bool { return daemonGone(watcher) > gone })
	if s := texts(watcher.Statuses()); len(s) > 0 {
		inFlight[s[len(s)-1]] = true
	}
	return start()
}

// checkOnceInOrder fails the test unless got, the statuses after kills,
// is want with nothing lost and nothing reordered, where only statuses
// in flight at a kill came twice. It returns the repeats.
func checkOnceInOrder(t *testing.T, got, want []string, inFlight map[string]bool, kills int) []string {
	t.Helper()
	deduped, dups := dedupe(got)
	if !slices.Equal(deduped, want) {
		t.Fatalf("after %d kills the statuses are\n%q\nwant each of\n%q\nonce, in order", kills, got, want)
	}
	if len(dups) > kills {
		t.Errorf("%d repeats, more than one per kill: %q", len(dups), dups)
	}
	for _, s := range dups {
		if !inFlight[s] {
			t.Errorf("status %q came twice but was not in flight at a kill", s)
		}
	}
	return dups
}
