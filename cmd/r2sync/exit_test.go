package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// A state the daemon cannot go on from, be it unreadable or holding a
// cursor its source does not read, exits 65: systemd does not restart it
// in a loop (RestartPreventExitStatus=65 78).
func TestStateErrorExitCodes(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code int
	}{
		{&statefile.CorruptError{Path: "state.json", Err: errors.New("x")}, exitDataErr},
		{fmt.Errorf("mirror: %w", &daemon.CursorError{Source: "twitter", Cursor: "AZ9x", Err: errors.New("not a tweet id")}), exitDataErr},
		{&statefile.InUseError{}, exitTempFail},
	} {
		var ee *exitError
		if !errors.As(stateError(tt.err), &ee) || ee.code != tt.code {
			t.Errorf("stateError(%v) = %v, want exit %d", tt.err, stateError(tt.err), tt.code)
		}
	}
	plain := errors.New("network down")
	if stateError(plain) != plain {
		t.Error("an error of no state passed through changed")
	}
}
