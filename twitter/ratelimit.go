package twitter

import (
	"net/http"
	"strconv"
	"time"

	"github.com/r2sync/r2sync/daemon"
)

// RateLimit is the rate-limit state the API last reported, from the
// x-rate-limit-* headers. The zero value means no response carried them.
type RateLimit = daemon.RateLimit

// maxResetAhead is the furthest ahead an x-rate-limit-reset is believed:
// X's windows last 15 minutes, and a minute covers clock differences. A
// later reset (a hostile or broken header, milliseconds sent for
// seconds) would otherwise stop the poller for as long as it says.
const maxResetAhead = 15*time.Minute + time.Minute

// parseRateLimit reads the x-rate-limit-* headers. ok is false when none
// is present or parseable; a value that does not parse as a decimal
// integer (or overflows one) is ignored. A reset more than maxResetAhead
// after now is moved back to now + maxResetAhead, and clamped says so.
func parseRateLimit(h http.Header, now time.Time) (rl RateLimit, ok, clamped bool) {
	if v, err := strconv.Atoi(h.Get("X-Rate-Limit-Limit")); err == nil {
		rl.Limit, ok = v, true
	}
	if v, err := strconv.Atoi(h.Get("X-Rate-Limit-Remaining")); err == nil {
		rl.Remaining, ok = v, true
	}
	if v, err := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64); err == nil && v > 0 {
		// Compared as integers: time.Unix of a huge v overflows.
		if latest := now.Add(maxResetAhead).Unix(); v > latest {
			v, clamped = latest, true
		}
		rl.Reset, ok = time.Unix(v, 0), true
	}
	return rl, ok, clamped
}
