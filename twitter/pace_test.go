package twitter

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestPace(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const minute = time.Minute
	tests := []struct {
		name string
		rl   RateLimit
		want time.Duration
	}{
		{name: "no headers yet", want: minute},
		{name: "plenty left", rl: RateLimit{Limit: 900, Remaining: 880, Reset: now.Add(14 * minute)}, want: minute},
		{name: "window over", rl: RateLimit{Limit: 900, Remaining: 0, Reset: now.Add(-time.Second)}, want: minute},
		{name: "tight budget spreads the rest", rl: RateLimit{Limit: 15, Remaining: 7, Reset: now.Add(10 * minute)}, want: 2 * minute},
		{name: "margin used up waits for the reset", rl: RateLimit{Limit: 900, Remaining: 90, Reset: now.Add(5 * minute)}, want: 5*minute + time.Second},
		{name: "exhausted", rl: RateLimit{Limit: 900, Remaining: 0, Reset: now.Add(3 * minute)}, want: 3*minute + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pace(minute, tt.rl, now); got != tt.want {
				t.Errorf("pace = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPaceLogsOnce(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	c, err := NewV2(Options{ConsumerKey: "a", ConsumerSecret: "b", AccessToken: "c", AccessSecret: "d", Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	c.now = func() time.Time { return now }
	respond := func(limit, remaining int, reset time.Time) {
		h := http.Header{}
		h.Set("x-rate-limit-limit", itoa(limit))
		h.Set("x-rate-limit-remaining", itoa(remaining))
		h.Set("x-rate-limit-reset", itoa(int(reset.Unix())))
		c.observe(endpointTimelineV2, &http.Response{Header: h, Request: &http.Request{Method: http.MethodGet}}, 0)
	}
	respond(15, 5, now.Add(10*time.Minute))
	for range 3 {
		if got := c.Pace(time.Minute); got <= time.Minute {
			t.Fatalf("pace %s, want stretched", got)
		}
	}
	// A posting endpoint's budget does not pace the poller.
	h := http.Header{}
	h.Set("x-rate-limit-limit", "100")
	h.Set("x-rate-limit-remaining", "100")
	h.Set("x-rate-limit-reset", itoa(int(now.Add(time.Minute).Unix())))
	c.observe(endpointTweetsV2, &http.Response{Header: h, Request: &http.Request{Method: http.MethodPost}}, 0)
	if got := c.Pace(time.Minute); got <= time.Minute {
		t.Fatalf("pace %s after a post, want still stretched", got)
	}
	respond(900, 899, now.Add(15*time.Minute))
	if got := c.Pace(time.Minute); got != time.Minute {
		t.Fatalf("pace %s, want the interval again", got)
	}
	var msgs []string
	for _, e := range logs.All() {
		msgs = append(msgs, e.Message)
	}
	if len(msgs) != 2 || msgs[0] != "poll interval stretched to stay within the rate limit" || msgs[1] != "poll interval back to normal" {
		t.Errorf("logs %q, want one stretch and one return", msgs)
	}
	u := c.Usage()
	if u.Requests != 3 || u.ReadRequests != 2 {
		t.Errorf("usage %+v", u)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestParseRateLimit(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	latest := now.Add(maxResetAhead)
	tests := []struct {
		name, limit, remaining, reset string
		want                          RateLimit
		ok, clamped                   bool
	}{
		{name: "none"},
		{name: "normal", limit: "900", remaining: "899", reset: "1800000600", want: RateLimit{Limit: 900, Remaining: 899, Reset: now.Add(10 * time.Minute)}, ok: true},
		{name: "a century ahead", limit: "900", remaining: "0", reset: strconv.FormatInt(now.AddDate(100, 0, 0).Unix(), 10), want: RateLimit{Limit: 900, Remaining: 0, Reset: latest}, ok: true, clamped: true},
		{name: "max int64", reset: "9223372036854775807", want: RateLimit{Reset: latest}, ok: true, clamped: true},
		{name: "overflowing numbers are ignored", limit: "99999999999999999999", remaining: "-99999999999999999999", reset: "99999999999999999999"},
		{name: "garbage", limit: "lots", remaining: "1.5", reset: "tomorrow"},
		{name: "past reset is kept", reset: "1", want: RateLimit{Reset: time.Unix(1, 0)}, ok: true},
		{name: "non-positive reset", remaining: "3", reset: "0", want: RateLimit{Remaining: 3}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range map[string]string{"x-rate-limit-limit": tt.limit, "x-rate-limit-remaining": tt.remaining, "x-rate-limit-reset": tt.reset} {
				if v != "" {
					h.Set(k, v)
				}
			}
			rl, ok, clamped := parseRateLimit(h, now)
			if rl != tt.want || ok != tt.ok || clamped != tt.clamped {
				t.Errorf("got %+v ok=%v clamped=%v, want %+v ok=%v clamped=%v", rl, ok, clamped, tt.want, tt.ok, tt.clamped)
			}
		})
	}
}

// TestPaceBounded: a RateLimit that did not come through observe is held
// to a window too.
func TestPaceBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	rl := RateLimit{Limit: 900, Remaining: 0, Reset: now.AddDate(100, 0, 0)}
	if got, want := pace(time.Minute, rl, now), maxResetAhead+time.Second; got != want {
		t.Errorf("pace = %s, want %s", got, want)
	}
	rl.Remaining = 500 // budget left, spread over a century
	if got := pace(time.Minute, rl, now); got != time.Minute {
		t.Errorf("pace = %s, want the interval", got)
	}
}
