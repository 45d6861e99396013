package twitter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/twitter"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// Credentials distinct enough to spot in logs and errors.
const (
	consumerKey    = "ck-NOT-IN-LOGS-1"
	consumerSecret = "cs-NOT-IN-LOGS-2"
	accessToken    = "42-at-NOT-IN-LOGS-3"
	accessSecret   = "as-NOT-IN-LOGS-4"
	userID         = 42
	screenName     = "me_myself"
)

// str is an id or a cursor of this package: the decimal id.
func str(id int64) string { return strconv.FormatInt(id, 10) }

func newServer(t *testing.T) *twittertest.Server {
	t.Helper()
	s := twittertest.NewServer(twittertest.Options{
		ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		AccessToken: accessToken, AccessSecret: accessSecret,
		UserID: userID, ScreenName: screenName,
	})
	t.Cleanup(s.Close)
	return s
}

// client is what V1 and V2 both are.
type client interface {
	daemon.Source
	daemon.CursorOrder
	daemon.Pacer
	daemon.Verifier
	daemon.Poster
	daemon.RateLimitReporter
	daemon.UsageReporter
	API() string
	APIBase() string
}

// newClient returns a v1.1 client of s.
func newClient(t *testing.T, s *twittertest.Server, edit func(*twitter.Options)) client {
	t.Helper()
	o := twitter.Options{
		APIBase:     s.URL(),
		ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		AccessToken: accessToken, AccessSecret: accessSecret,
		Timeout: 10 * time.Second,
	}
	if edit != nil {
		edit(&o)
	}
	c, err := twitter.NewV1(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sinceFixture adds, after a cursor tweet, the tweets every API must turn
// into the same posts, and returns the cursor and the posts wanted after
// it (AuthorID, ScreenName and URL are checked by checkPosts).
func sinceFixture(s *twittertest.Server) (cursor int64, want []daemon.Post) {
	before := s.AddTweet(twittertest.Tweet{Text: "before the cursor"})
	created := time.Date(2026, 3, 1, 12, 30, 45, 0, time.UTC)
	plain := s.AddTweet(twittertest.Tweet{Text: "fish & chips <3 > all", CreatedAt: created})
	link := s.AddTweet(twittertest.Tweet{
		Text: "read https://example.com/a?b=1&c=2 & https://example.org/",
		URLs: []twittertest.URL{{Expanded: "https://example.com/a?b=1&c=2"}, {Expanded: "https://example.org/"}},
	})
	rt := s.AddTweet(twittertest.Tweet{RetweetOf: &twittertest.Tweet{
		Text:   strings.Repeat("a long original & more ", 10) + "https://example.net/x",
		URLs:   []twittertest.URL{{Expanded: "https://example.net/x"}},
		UserID: 7, ScreenName: "bob",
	}})
	reply := s.AddTweet(twittertest.Tweet{Text: "@bob yes", InReplyToUserID: 7, InReplyToScreenName: "bob", InReplyToStatusID: rt.RetweetOf.ID})
	self := s.AddTweet(twittertest.Tweet{Text: "thread 2/2", InReplyToUserID: userID, InReplyToScreenName: screenName, InReplyToStatusID: plain.ID})
	return before.ID, []daemon.Post{
		{ID: str(plain.ID), Text: "fish & chips <3 > all", CreatedAt: created},
		{ID: str(link.ID), Text: "read https://example.com/a?b=1&c=2 & https://example.org/"},
		{ID: str(rt.ID), Text: "RT @bob: " + strings.Repeat("a long original & more ", 10) + "https://example.net/x", Repost: true},
		{ID: str(reply.ID), Text: "@bob yes", Reply: true},
		{ID: str(self.ID), Text: "thread 2/2"}, // a reply to oneself is no Reply
	}
}

// checkPosts compares posts with want field by field; Cursor, Author and
// URL are filled in here. A zero CreatedAt in want means any non-zero
// time; the posts at 3 and 4 are sinceFixture's reply to bob and reply to
// oneself.
func checkPosts(t *testing.T, posts, want []daemon.Post) {
	t.Helper()
	if len(posts) != len(want) {
		t.Fatalf("got %d posts, want %d: %+v", len(posts), len(want), posts)
	}
	for i, w := range want {
		w.Cursor, w.Author = w.ID, screenName
		w.URL = "https://twitter.com/" + screenName + "/status/" + w.ID
		got := posts[i]
		if got.CreatedAt.IsZero() || (!w.CreatedAt.IsZero() && !got.CreatedAt.Equal(w.CreatedAt)) {
			t.Errorf("post %d CreatedAt = %v, want %v", i, got.CreatedAt, w.CreatedAt)
		}
		got.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("post %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
	if !posts[3].Reply || posts[4].Reply {
		t.Error("reply flags: a reply to bob is a reply, a reply to oneself is not")
	}
}

func TestSince(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, nil)
	cursor, want := sinceFixture(s)
	posts, err := c.Since(context.Background(), str(cursor))
	if err != nil {
		t.Fatal(err)
	}
	checkPosts(t, posts, want)
}

func TestSinceRequests(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, nil)
	if _, err := c.Since(context.Background(), "12345"); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "GET" || r.Path != "/1.1/statuses/user_timeline.json" || !r.OAuthVerified || r.Status != 200 {
		t.Errorf("request %+v", r)
	}
	for k, v := range map[string]string{"since_id": "12345", "count": "200", "tweet_mode": "extended", "include_rts": "true", "exclude_replies": "false"} {
		if got := r.Query.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if r.Query.Has("max_id") {
		t.Error("first page has max_id")
	}
}

// Ids above 2^53 lose their low bits in a float64; these differ only there.
func TestIDsAbove2to53(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, nil)
	ids := []int64{1_700_000_000_000_000_001, 1_700_000_000_000_000_003, 1_700_000_000_000_000_005}
	if float64(ids[0]) != float64(ids[1]) {
		t.Fatal("test ids are distinguishable as float64; pick closer ones")
	}
	for _, id := range ids {
		s.AddTweet(twittertest.Tweet{ID: id, Text: "id " + strconv.FormatInt(id, 10)})
	}
	posts, err := c.Since(context.Background(), str(ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 2 || posts[0].ID != str(ids[1]) || posts[1].ID != str(ids[2]) {
		t.Fatalf("posts %+v", posts)
	}
	if !strings.HasSuffix(posts[1].URL, "/status/1700000000000000005") {
		t.Errorf("url %s", posts[1].URL)
	}
	newest, err := c.Newest(context.Background())
	if err != nil || newest != str(ids[2]) {
		t.Fatalf("Newest = %q, %v", newest, err)
	}
}

func TestSincePaging(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		deleted func(i int) bool // tweets deleted after adding: pages come back short
	}{
		{name: "450 tweets", n: 450},
		{name: "exactly one page", n: 200},
		// Fewer than 200 in a row: a page of only deleted tweets comes back
		// empty and is indistinguishable from the end of the timeline.
		{name: "short pages from deletions", n: 450, deleted: func(i int) bool { return i%3 == 0 || (i > 100 && i < 250) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			c := newClient(t, s, nil)
			s.AddTweet(twittertest.Tweet{Text: "older"})
			cursor := s.AddTweet(twittertest.Tweet{Text: "cursor"}).ID
			var want []int64
			for i := range tt.n {
				tw := s.AddTweet(twittertest.Tweet{Text: fmt.Sprintf("tweet %d", i)})
				if tt.deleted != nil && tt.deleted(i) {
					s.Delete(tw.ID)
					continue
				}
				want = append(want, tw.ID)
			}
			posts, err := c.Since(context.Background(), str(cursor))
			if err != nil {
				t.Fatal(err)
			}
			if len(posts) != len(want) {
				t.Fatalf("got %d posts, want %d", len(posts), len(want))
			}
			for i := range want {
				if posts[i].ID != str(want[i]) {
					t.Fatalf("post %d = %s, want %d (not oldest first or skipped)", i, posts[i].ID, want[i])
				}
			}
			var maxIDs []int64
			for _, r := range s.Requests() {
				if r.Query.Get("since_id") != strconv.FormatInt(cursor, 10) || r.Query.Get("count") != "200" {
					t.Errorf("request query %v", r.Query)
				}
				m, _ := strconv.ParseInt(r.Query.Get("max_id"), 10, 64)
				maxIDs = append(maxIDs, m)
			}
			if maxIDs[0] != 0 {
				t.Errorf("first page has max_id %d", maxIDs[0])
			}
			for i := 2; i < len(maxIDs); i++ {
				if maxIDs[i] >= maxIDs[i-1] {
					t.Errorf("max_id does not decrease: %v", maxIDs)
				}
			}
			// One request per page; the empty page that proves the end is
			// skipped when a page reaches the tweet right after the cursor.
			if pages := (tt.n + 199) / 200; tt.deleted == nil && len(maxIDs) != pages {
				t.Errorf("%d requests, want %d", len(maxIDs), pages)
			}
		})
	}
}

// A server that ignores max_id (some v1.1 clones do) must not make Since
// loop, and overlapping pages must not duplicate posts.
func TestSinceServerIgnoresMaxID(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		var tweets []map[string]any
		for id := 10; id > 5; id-- {
			tweets = append(tweets, map[string]any{"id": id, "id_str": strconv.Itoa(id), "full_text": "t", "user": map[string]any{"id": 1, "id_str": "1", "screen_name": "x"}})
		}
		json.NewEncoder(w).Encode(tweets)
	}))
	defer srv.Close()
	c, err := twitter.NewV1(twitter.Options{APIBase: srv.URL + "/1.1/", ConsumerKey: "a", ConsumerSecret: "b", AccessToken: "c", AccessSecret: "d"})
	if err != nil {
		t.Fatal(err)
	}
	posts, err := c.Since(context.Background(), "2")
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 5 || posts[0].ID != "6" || posts[4].ID != "10" {
		t.Errorf("posts %+v", posts)
	}
	if calls != 2 {
		t.Errorf("%d calls, want 2", calls)
	}
}

func TestNewest(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	if id, err := c.Newest(ctx); err != nil || id != "" {
		t.Fatalf("empty timeline: Newest = %q, %v", id, err)
	}
	a := s.AddTweet(twittertest.Tweet{Text: "a"})
	b := s.AddTweet(twittertest.Tweet{Text: "b"})
	if id, err := c.Newest(ctx); err != nil || id != str(b.ID) {
		t.Fatalf("Newest = %q, %v; want %d", id, err, b.ID)
	}
	// count=1 returns nothing when the newest tweet was deleted.
	s.Delete(b.ID)
	if id, err := c.Newest(ctx); err != nil || id != str(a.ID) {
		t.Fatalf("after delete: Newest = %q, %v; want %d", id, err, a.ID)
	}
	reqs := s.Requests()
	if c := reqs[0].Query.Get("count"); c != "1" {
		t.Errorf("count = %s, want 1", c)
	}
}

func TestPostAndVerify(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, func(o *twitter.Options) { o.WebBase = "https://x.com" })
	ctx := context.Background()
	acct, err := c.Verify(ctx)
	if err != nil || acct != (daemon.Account{ID: str(userID), Handle: screenName}) {
		t.Fatalf("Verify = %+v, %v", acct, err)
	}
	text := "hello & <world> https://example.com/?q=1&r=2 🎉"
	p, err := c.Post(ctx, text)
	if err != nil {
		t.Fatal(err)
	}
	tweets := s.Tweets()
	if len(tweets) != 1 || tweets[0].Text != text || str(tweets[0].ID) != p.ID || p.Cursor != p.ID {
		t.Fatalf("server has %+v", tweets)
	}
	if p.Text != text || p.Author != screenName || p.URL != "https://x.com/"+screenName+"/status/"+p.ID {
		t.Errorf("Post returned %+v", p)
	}
	reqs := s.Requests()
	last := reqs[len(reqs)-1]
	if last.Method != "POST" || !last.OAuthVerified || last.Form.Get("status") != text {
		t.Errorf("update request %+v", last)
	}
	if _, err := c.Post(ctx, ""); err == nil {
		t.Error("empty post accepted")
	}
	var apiErr *twitter.APIError
	if _, err := c.Post(ctx, text); !errors.As(err, &apiErr) || apiErr.Code != 187 || !apiErr.Permanent() {
		t.Errorf("duplicate: %v", err)
	}
}

func TestErrors(t *testing.T) {
	reset := time.Now().Add(9 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name      string
		fault     *twittertest.Fault
		edit      func(*twitter.Options)
		status    int
		code      int
		temporary bool
		fatal     bool
		retryAt   time.Time
		contains  []string
	}{
		{name: "bad consumer secret", edit: func(o *twitter.Options) { o.ConsumerSecret = "wrong-secret-value" },
			status: 401, code: 32, fatal: true, contains: []string{"consumer secret"}},
		{name: "bad access token", edit: func(o *twitter.Options) { o.AccessToken = "wrong-token-value" },
			status: 401, code: 89, fatal: true, contains: []string{"access token"}},
		{name: "429 empty body", fault: ptr(twittertest.FaultRateLimited(reset)),
			status: 429, temporary: true, retryAt: reset, contains: []string{"rate limit exceeded"}},
		{name: "html 502", fault: ptr(twittertest.FaultBadGateway()),
			status: 502, temporary: true, contains: []string{"bad gateway"}},
		{name: "453 tier", fault: ptr(twittertest.FaultTier()),
			status: 403, code: 453, fatal: true, contains: []string{"v1.1 is not available on your x api access tier"}},
		{name: "empty 503", fault: &twittertest.Fault{Status: 503},
			status: 503, temporary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			c := newClient(t, s, tt.edit)
			if tt.fault != nil {
				s.Fail(*tt.fault)
			}
			_, err := c.Since(context.Background(), "1")
			var apiErr *twitter.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) {
				t.Error("a JSON syntax error leaks through")
			}
			if apiErr.StatusCode != tt.status || apiErr.Code != tt.code || apiErr.Temporary() != tt.temporary || apiErr.Permanent() != tt.fatal || !apiErr.RetryAt().Equal(tt.retryAt) {
				t.Errorf("got status %d code %d temporary %v permanent %v retryAt %v", apiErr.StatusCode, apiErr.Code, apiErr.Temporary(), apiErr.Permanent(), apiErr.RetryAt())
			}
			for _, c := range tt.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("%q lacks %q", err, c)
				}
			}
			for _, secret := range []string{"wrong-secret-value", "wrong-token-value", consumerSecret, accessSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error reveals a credential: %q", err)
				}
			}
			// API errors slow the daemon down; they never stop it.
			if daemon.IsFatal(err) {
				t.Error("daemon.IsFatal = true for an API error")
			}
		})
	}

	t.Run("garbage json is a decode error", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t, s, nil)
		s.Fail(twittertest.FaultGarbage())
		_, err := c.Since(context.Background(), "1")
		var apiErr *twitter.APIError
		if err == nil || errors.As(err, &apiErr) || !strings.Contains(err.Error(), "decode response") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("retry succeeds after the fault", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t, s, nil)
		s.Fail(twittertest.Fault{Status: 500, Times: 2})
		for i := range 2 {
			if _, err := c.Newest(context.Background()); err == nil {
				t.Fatalf("call %d: no error", i)
			}
		}
		if _, err := c.Newest(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestRateLimit(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, nil)
	if rl := c.RateLimit(); rl != (twitter.RateLimit{}) {
		t.Errorf("before any request: %+v", rl)
	}
	for range 3 {
		if _, err := c.Newest(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Three calls on an empty timeline: count=1, then the count=200 retry.
	rl := c.RateLimit()
	if rl.Limit != 900 || rl.Remaining != 900-6 {
		t.Errorf("RateLimit = %+v", rl)
	}
	if d := time.Until(rl.Reset); d < 14*time.Minute || d > 15*time.Minute {
		t.Errorf("reset in %s", d)
	}
}

func TestContext(t *testing.T) {
	t.Run("canceled before the call", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t, s, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for name, call := range map[string]func() error{
			"Since":  func() error { _, err := c.Since(ctx, ""); return err },
			"Newest": func() error { _, err := c.Newest(ctx); return err },
			"Post":   func() error { _, err := c.Post(ctx, "x"); return err },
			"Verify": func() error { _, err := c.Verify(ctx); return err },
		} {
			if err := call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s: err = %v", name, err)
			}
		}
		if n := len(s.Requests()); n != 0 {
			t.Errorf("%d requests reached the server", n)
		}
	})
	t.Run("deadline during the request", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t, s, nil)
		s.Fail(twittertest.FaultDelay(time.Hour))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Verify(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("per-request timeout", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t, s, func(o *twitter.Options) { o.Timeout = 50 * time.Millisecond })
		s.Fail(twittertest.FaultDelay(time.Hour))
		_, err := c.Since(context.Background(), "")
		var timeout interface{ Timeout() bool }
		if !errors.As(err, &timeout) || !timeout.Timeout() {
			t.Fatalf("err = %v, want a timeout", err)
		}
		// The error names the server really contacted.
		if strings.Contains(err.Error(), "api.twitter.com") || !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestNew(t *testing.T) {
	valid := twitter.Options{ConsumerKey: "a", ConsumerSecret: "secret-b", AccessToken: "c", AccessSecret: "secret-d"}
	tests := []struct {
		name string
		edit func(*twitter.Options)
		err  string
	}{
		{name: "valid", edit: func(*twitter.Options) {}},
		// Empty credentials and timeouts out of range are the config's
		// to refuse (twitter.consumer_key: required; config_test.go).
		{name: "relative api base", edit: func(o *twitter.Options) { o.APIBase = "1.1/" }, err: "api base"},
		{name: "bad web base", edit: func(o *twitter.Options) { o.WebBase = "twitter.com" }, err: "web base"},
	}
	news := map[string]func(twitter.Options) error{
		"v1.1": func(o twitter.Options) error { _, err := twitter.NewV1(o); return err },
		"v2":   func(o twitter.Options) error { _, err := twitter.NewV2(o); return err },
	}
	for _, tt := range tests {
		for api, newClient := range news {
			t.Run(api+"/"+tt.name, func(t *testing.T) {
				o := valid
				tt.edit(&o)
				err := newClient(o)
				if tt.err == "" {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "secret-b") || strings.Contains(err.Error(), "secret-d") {
					t.Errorf("error reveals a secret: %v", err)
				}
			})
		}
	}
}

func TestLogsHaveNoSecrets(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	s := newServer(t)
	c := newClient(t, s, func(o *twitter.Options) { o.Logger = zap.New(core) })
	s.AddTweet(twittertest.Tweet{Text: "x"})
	if _, err := c.Since(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	bad := newClient(t, s, func(o *twitter.Options) { o.Logger = zap.New(core); o.ConsumerSecret = "wrong-secret-value" })
	bad.Verify(context.Background())
	if logs.Len() == 0 {
		t.Fatal("no debug logs")
	}
	for _, e := range logs.All() {
		if e.LoggerName != "twitter" {
			t.Errorf("logger name %q", e.LoggerName)
		}
		line := fmt.Sprint(e.Message, e.ContextMap())
		for _, secret := range []string{consumerKey, consumerSecret, accessToken, accessSecret, "wrong-secret-value"} {
			if strings.Contains(line, secret) {
				t.Errorf("log reveals a credential: %s", line)
			}
		}
	}
}

// TestMediaLinksExpanded: the t.co link of attached media becomes the
// link to the photo on both APIs.
func TestMediaLinksExpanded(t *testing.T) {
	for _, api := range apis {
		t.Run(api.name, func(t *testing.T) {
			s := newServer(t)
			c := api.client(t, s, nil)
			tw := s.AddTweet(twittertest.Tweet{Text: "look & see", Media: []twittertest.Media{{}, {}}})
			posts, err := c.Since(context.Background(), "")
			if err != nil || len(posts) != 1 {
				t.Fatalf("%+v, %v", posts, err)
			}
			want := "look & see https://twitter.com/" + screenName + "/status/" + strconv.FormatInt(tw.ID, 10) + "/photo/1"
			if posts[0].Text != want {
				t.Errorf("text %q, want %q", posts[0].Text, want)
			}
		})
	}
}

// Hashtags come as the API lists them, without '#': those of the
// original for a retweet, and all of a long post's (v2: its note_tweet).
func TestHashtags(t *testing.T) {
	for _, api := range apis {
		t.Run(api.name, func(t *testing.T) {
			s := newServer(t)
			c := api.client(t, s, nil)
			s.AddTweet(twittertest.Tweet{Text: "tags #go and #人人网_2, not a#b"})
			s.AddTweet(twittertest.Tweet{RetweetOf: &twittertest.Tweet{Text: "#xmpp rocks", UserID: 7, ScreenName: "bob"}})
			s.AddTweet(twittertest.Tweet{Text: strings.Repeat("long ", 70) + "#end"})
			s.AddTweet(twittertest.Tweet{Text: "none"})
			posts, err := c.Since(context.Background(), "")
			if err != nil || len(posts) != 4 {
				t.Fatalf("Since = %+v, %v", posts, err)
			}
			for i, want := range [][]string{{"go", "人人网_2"}, {"xmpp"}, {"end"}, nil} {
				if got := posts[i].Hashtags; !slices.Equal(got, want) {
					t.Errorf("post %d (%q): hashtags %q, want %q", i, posts[i].Text, got, want)
				}
			}
		})
	}
}
