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
	c, err := New(Options{API: APIv2, ConsumerKey: "a", ConsumerSecret: "b", AccessToken: "c", AccessSecret: "d", Logger: zap.New(core)})
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
