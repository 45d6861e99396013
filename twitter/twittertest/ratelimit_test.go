package twittertest_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// rateHeaders returns x-rate-limit-limit and -remaining, and how long
// until -reset.
func rateHeaders(r response) (limit, remaining string, reset time.Duration) {
	sec, _ := strconv.ParseInt(r.header.Get("X-Rate-Limit-Reset"), 10, 64)
	return r.header.Get("X-Rate-Limit-Limit"), r.header.Get("X-Rate-Limit-Remaining"), time.Until(time.Unix(sec, 0))
}

func TestUsersRateLimits(t *testing.T) {
	apis := []struct {
		name, endpoint string
		base           func(*twittertest.Server) string
		path           func(twittertest.User) string
	}{
		{"v1.1", "statuses/user_timeline", (*twittertest.Server).URL, func(twittertest.User) string { return "statuses/user_timeline.json" }},
		{"v2", "2/users/:id/tweets", (*twittertest.Server).V2URL, func(u twittertest.User) string { return "users/" + id64(u.ID) + "/tweets" }},
	}
	for _, api := range apis {
		t.Run(api.name, func(t *testing.T) {
			s := twittertest.NewServer(twittertest.Options{
				UserLimits: map[string]twittertest.RateLimit{api.endpoint: {Limit: 3}},
				AppLimits:  map[string]twittertest.RateLimit{api.endpoint: {Limit: 5, Window: time.Hour}},
			})
			t.Cleanup(s.Close)
			alice, bob := s.AddUser(twittertest.User{}), s.AddUser(twittertest.User{})
			def := s.Users()[0]
			call := func(u twittertest.User) response {
				return get(t, userClient(s, u, ""), api.base(s), api.path(u), nil)
			}
			type want struct {
				status           int
				limit, remaining string
				resetAbout       time.Duration
			}
			check := func(step string, r response, w want) {
				t.Helper()
				limit, remaining, reset := rateHeaders(r)
				if r.status != w.status || limit != w.limit || remaining != w.remaining || reset < w.resetAbout-time.Minute || reset > w.resetAbout {
					t.Errorf("%s: %d, limit %s remaining %s reset in %s; want %d, %s, %s, about %s (%s)",
						step, r.status, limit, remaining, reset.Round(time.Second), w.status, w.limit, w.remaining, w.resetAbout, r.body)
				}
			}
			// Alice's own window is the tighter one: 3 left of hers, 5 of the app's.
			for i, rem := range []string{"2", "1", "0"} {
				check("alice "+strconv.Itoa(i+1), call(alice), want{200, "3", rem, 15 * time.Minute})
			}
			check("alice over her limit", call(alice), want{429, "3", "0", 15 * time.Minute})
			// Bob has 3 of his own, but the app only 2 more: its window shows.
			check("bob 1", call(bob), want{200, "5", "1", time.Hour})
			check("bob 2", call(bob), want{200, "5", "0", time.Hour})
			check("bob over the app's budget", call(bob), want{429, "5", "0", time.Hour})
			check("the default user over the app's budget", call(def), want{429, "5", "0", time.Hour})
			if r := call(def); api.name == "v1.1" && !bytes.Contains(r.body, []byte(`"code":88`)) {
				t.Errorf("429 body %s", r.body)
			}
			// Other endpoints keep their own windows.
			if r := get(t, userClient(s, bob, ""), s.URL(), "account/verify_credentials.json", nil); r.status != 200 || r.header.Get("X-Rate-Limit-Limit") != "75" {
				t.Errorf("verify_credentials: %d, limit %s", r.status, r.header.Get("X-Rate-Limit-Limit"))
			}
		})
	}
}

// TestUsersRateLimitDefaults: without options each user has X's 900 per
// 15 minutes of its own, and the app budgets (100,000 a day for v1.1,
// 10,000 per 15 minutes for v2) are never the tighter one for a few users.
func TestUsersRateLimitDefaults(t *testing.T) {
	s := newServer(t)
	alice := s.AddUser(twittertest.User{})
	ac, dc := userClient(s, alice, ""), client(s, nil)
	for range 2 {
		get(t, dc, s.URL(), "statuses/user_timeline.json", nil)
		get(t, dc, s.V2URL(), "users/"+id64(twittertest.DefaultUserID)+"/tweets", nil)
	}
	for _, r := range []response{
		get(t, ac, s.URL(), "statuses/user_timeline.json", nil),
		get(t, ac, s.V2URL(), "users/"+id64(alice.ID)+"/tweets", nil),
	} {
		if limit, remaining, reset := rateHeaders(r); limit != "900" || remaining != "899" || reset < 14*time.Minute || reset > 15*time.Minute {
			t.Errorf("alice's first request: limit %s remaining %s reset in %s", limit, remaining, reset)
		}
	}
	if _, remaining, _ := rateHeaders(get(t, dc, s.URL(), "statuses/user_timeline.json", nil)); remaining != "897" {
		t.Errorf("the default user's third request: remaining %s, want 897", remaining)
	}

	// A zero app limit removes the app budget; a user limit with no
	// window gets 15 minutes.
	s2 := twittertest.NewServer(twittertest.Options{
		UserLimits: map[string]twittertest.RateLimit{"statuses/user_timeline": {Limit: 2}},
		AppLimits:  map[string]twittertest.RateLimit{"statuses/user_timeline": {}},
	})
	t.Cleanup(s2.Close)
	c2 := client(s2, nil)
	for i, st := range []int{200, 200, 429} {
		r := get(t, c2, s2.URL(), "statuses/user_timeline.json", nil)
		if limit, _, reset := rateHeaders(r); r.status != st || limit != "2" || reset > 15*time.Minute || reset < 14*time.Minute {
			t.Errorf("request %d: %d, limit %s, reset in %s", i+1, r.status, limit, reset)
		}
	}
}
