package daemon

import (
	"errors"
	"math/rand/v2"
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

// backoff is a capped exponential backoff with full jitter on the upper
// half, so that many daemons do not retry in lockstep.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max}
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	half := b.cur / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.cur = 0 }
