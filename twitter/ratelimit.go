package twitter

import (
	"net/http"
	"strconv"
	"time"
)

// RateLimit is the rate-limit state the API last reported, from the
// x-rate-limit-* headers. The zero value means no response carried them.
type RateLimit struct {
	Limit     int       // requests allowed in the window
	Remaining int       // requests left in the window
	Reset     time.Time // when the window resets
}

// parseRateLimit reads the x-rate-limit-* headers. ok is false when none
// is present or parseable.
func parseRateLimit(h http.Header) (rl RateLimit, ok bool) {
	if v, err := strconv.Atoi(h.Get("X-Rate-Limit-Limit")); err == nil {
		rl.Limit, ok = v, true
	}
	if v, err := strconv.Atoi(h.Get("X-Rate-Limit-Remaining")); err == nil {
		rl.Remaining, ok = v, true
	}
	if v, err := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64); err == nil && v > 0 {
		rl.Reset, ok = time.Unix(v, 0), true
	}
	return rl, ok
}
