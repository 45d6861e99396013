package mastodon

import (
	"net/http"
	"strconv"
	"time"

	"github.com/r2sync/r2sync/daemon"
)

// RateLimit is the budget the server last reported.
type RateLimit = daemon.RateLimit

// maxResetAhead is the furthest ahead an X-RateLimit-Reset is believed:
// Mastodon's windows last 5 minutes (30 for some writes); a later reset
// from a broken proxy would stop polling for as long as it says.
const maxResetAhead = 35 * time.Minute

// observe counts a response and reads its X-RateLimit-* headers, whose
// reset Mastodon sends as an ISO 8601 time.
func (s *Source) observe(method string, resp *http.Response) RateLimit {
	s.usage.requests.Add(1)
	if method == http.MethodGet {
		s.usage.reads.Add(1)
	}
	h := resp.Header
	var rl RateLimit
	ok := false
	if v, err := strconv.Atoi(h.Get("X-RateLimit-Limit")); err == nil {
		rl.Limit, ok = v, true
	}
	if v, err := strconv.Atoi(h.Get("X-RateLimit-Remaining")); err == nil {
		rl.Remaining, ok = v, true
	}
	if v := h.Get("X-RateLimit-Reset"); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			now := s.now()
			if latest := now.Add(maxResetAhead); t.After(latest) {
				t = latest
			}
			rl.Reset, ok = t, true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok && method == http.MethodGet {
		s.rl = rl
	}
	return rl
}

// RateLimit implements daemon.RateLimitReporter.
func (s *Source) RateLimit() RateLimit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rl
}

// Pace implements daemon.Pacer: the interval, stretched so that the
// reads left in the window last until it resets.
func (s *Source) Pace(interval time.Duration) time.Duration {
	rl := s.RateLimit()
	if rl.Reset.IsZero() {
		return interval
	}
	left := rl.Reset.Sub(s.now())
	if left <= 0 {
		return interval
	}
	if rl.Remaining <= 0 {
		return max(interval, left)
	}
	return max(interval, left/time.Duration(rl.Remaining))
}
