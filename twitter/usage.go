package twitter

import (
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// Endpoint names, as logged and as keys of the rate-limit state.
const (
	endpointTimelineV1 = "statuses/user_timeline"
	endpointUpdateV1   = "statuses/update"
	endpointVerifyV1   = "account/verify_credentials"
	endpointTimelineV2 = "users/:id/tweets"
	endpointMeV2       = "users/me"
	endpointTweetsV2   = "tweets"
)

// usageCounters count what a client did since it was made, for metrics:
// on X's pay-per-use plans reads are billed per post returned and posts
// per post created.
type usageCounters struct {
	requests, readRequests, tweetsRead, tweetsPosted atomic.Int64
}

// Usage implements daemon.UsageReporter: the counters so far. It is safe
// to call at any time.
func (c *core) Usage() daemon.Usage {
	return daemon.Usage{
		Requests:     c.usage.requests.Load(),
		ReadRequests: c.usage.readRequests.Load(),
		PostsRead:    c.usage.tweetsRead.Load(),
		PostsCreated: c.usage.tweetsPosted.Load(),
	}
}

// observe counts a response and records its rate-limit headers.
func (c *core) observe(endpoint string, resp *http.Response, took time.Duration) RateLimit {
	c.usage.requests.Add(1)
	if resp.Request == nil || resp.Request.Method == http.MethodGet {
		c.usage.readRequests.Add(1)
	}
	rl, ok, clamped := parseRateLimit(resp.Header, c.now())
	if clamped {
		v := resp.Header.Get("X-Rate-Limit-Reset")
		if len(v) > 32 {
			v = v[:32] + "…"
		}
		c.log.Warn("x-rate-limit-reset is further ahead than a rate-limit window; waiting at most the window",
			zap.String("endpoint", endpoint), zap.String("x_rate_limit_reset", v), zap.Duration("max_wait", maxResetAhead))
	}
	if ok {
		c.mu.Lock()
		c.limit = rl
		if endpoint == endpointTimelineV1 || endpoint == endpointTimelineV2 {
			c.readLimit = rl
		}
		c.mu.Unlock()
	}
	c.log.Debug("api response",
		zap.String("endpoint", endpoint),
		zap.Int("status", resp.StatusCode),
		zap.Duration("duration", took),
		zap.Int("rate_limit_remaining", rl.Remaining),
	)
	return rl
}

// Pace implements daemon.Pacer. It returns interval, or longer when the
// timeline's rate-limit window would not last at that pace: the requests
// left (minus a safety margin of a tenth of the limit, at least 2, for
// paging and other clients of the same user) are spread over the time to
// the reset. With the margin used up it waits for the reset, but never
// longer than a rate-limit window (maxResetAhead) and a second. The first
// stretch is logged, and the return to the configured interval; the polls
// in between are not.
func (c *core) Pace(interval time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	rl := c.readLimit
	wait := pace(interval, rl, c.now())
	switch {
	case wait > interval && !c.stretched:
		c.stretched = true
		c.log.Warn("poll interval stretched to stay within the rate limit",
			zap.Duration("interval", interval),
			zap.Duration("stretched_to", wait),
			zap.Int("rate_limit_limit", rl.Limit),
			zap.Int("rate_limit_remaining", rl.Remaining),
			zap.Time("rate_limit_reset", rl.Reset))
	case wait <= interval && c.stretched:
		c.stretched = false
		c.log.Info("poll interval back to normal", zap.Duration("interval", interval))
	}
	return wait
}

// pace computes Pace's answer.
func pace(interval time.Duration, rl RateLimit, now time.Time) time.Duration {
	if rl.Limit <= 0 || rl.Reset.IsZero() {
		return interval
	}
	// observe clamps the reset already; a RateLimit from elsewhere is
	// held to the same bound.
	left := min(rl.Reset.Sub(now), maxResetAhead)
	if left <= 0 {
		return interval // a fresh window has begun
	}
	usable := rl.Remaining - max(rl.Limit/10, 2)
	if usable <= 0 {
		// A second past the reset: the server's clock and ours differ
		// by up to a second in the header's resolution.
		return max(interval, left+time.Second)
	}
	return max(interval, left/time.Duration(usable))
}
