package daemon

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"
)

// IsFatal reports whether err, or an error it wraps, says that retrying
// cannot help (it has a method Fatal() bool returning true). The mirror
// stops on such errors instead of looping.
func IsFatal(err error) bool {
	var f interface{ Fatal() bool }
	return errors.As(err, &f) && f.Fatal()
}

// isPermanent reports whether err says that retrying cannot help until the
// user changes something (a revoked token, a wrong secret, an API tier
// without access): the mirror then backs off long instead of hammering.
func isPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// retryAt returns the earliest time a retry may succeed, for errors that
// know it (rate limits).
func retryAt(err error) (time.Time, bool) {
	var r interface{ RetryAt() time.Time }
	if errors.As(err, &r) {
		if at := r.RetryAt(); !at.IsZero() {
			return at, true
		}
	}
	return time.Time{}, false
}

// Backoff is a capped exponential backoff with jitter over the upper
// half, so that many daemons do not retry in lockstep. The zero value
// is not usable; use NewBackoff.
type Backoff struct {
	min, max, cur time.Duration
}

// NewBackoff returns a Backoff whose waits grow from min to max.
func NewBackoff(min, max time.Duration) *Backoff {
	return &Backoff{min: min, max: max}
}

// Next returns the next wait: in [d/2, d] where d doubles from min to max.
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	half := b.cur / 2
	return half + rand.N(half+1)
}

// Reset starts over from min, after a success.
func (b *Backoff) Reset() { b.cur = 0 }

// isUncertain reports whether err says a status was written to a live
// session but never acknowledged (a method Uncertain() bool returning
// true), so that it may have been published.
func isUncertain(err error) bool {
	var u interface{ Uncertain() bool }
	return errors.As(err, &u) && u.Uncertain()
}

// isDiskFull reports whether err is the file system saying it has no room
// (or no quota) left.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// CursorError reports a cursor in the state that its source does not
// take for one of its own: the state file was damaged or edited, and no
// retry can help.
type CursorError struct {
	Source string // the source's name in the state
	Cursor string
	Err    error
}

func (e *CursorError) Error() string {
	c := e.Cursor
	if len(c) > 64 {
		c = c[:64] + "…"
	}
	return fmt.Sprintf("state cursor %q of source %s is not one of its cursors (%v); inspect the state file, then run `r2sync state reset` to start over without re-posting old posts", c, e.Source, e.Err)
}

func (e *CursorError) Unwrap() error { return e.Err }

// Fatal reports that retrying cannot help.
func (e *CursorError) Fatal() bool { return true }
