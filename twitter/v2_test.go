package twitter_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/twitter"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// newV2Client returns a v2 client of s.
func newV2Client(t *testing.T, s *twittertest.Server, edit func(*twitter.Options)) client {
	t.Helper()
	o := twitter.Options{
		APIBase:     s.V2URL(),
		ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		AccessToken: accessToken, AccessSecret: accessSecret,
		Timeout: 10 * time.Second,
	}
	if edit != nil {
		edit(&o)
	}
	c, err := twitter.NewV2(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestV2Since(t *testing.T) {
	s := newServer(t)
	c := newV2Client(t, s, nil)
	cursor, want := sinceFixture(s)
	long := strings.Repeat("長い投稿 & ", 60) + "https://example.com/end"
	note := s.AddTweet(twittertest.Tweet{Text: long, URLs: []twittertest.URL{{Expanded: "https://example.com/end"}}})
	want = append(want, daemon.Post{ID: str(note.ID), Text: long})

	posts, err := c.Since(context.Background(), str(cursor))
	if err != nil {
		t.Fatal(err)
	}
	checkPosts(t, posts, want)

	var timeline []twittertest.Request
	me := 0
	for _, r := range s.Requests() {
		if !r.OAuthVerified {
			t.Errorf("request not OAuth-verified: %+v", r)
		}
		switch r.Path {
		case "/2/users/me":
			me++
		case "/2/users/42/tweets":
			timeline = append(timeline, r)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.Path)
		}
	}
	if me != 1 || len(timeline) != 1 {
		t.Fatalf("users/me %d times, timeline %d times", me, len(timeline))
	}
	q := timeline[0].Query
	for k, v := range map[string]string{"since_id": strconv.FormatInt(cursor, 10), "max_results": "100"} {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	for _, f := range []string{"created_at", "entities", "referenced_tweets", "in_reply_to_user_id", "note_tweet"} {
		if !strings.Contains(q.Get("tweet.fields"), f) {
			t.Errorf("tweet.fields %q lacks %s", q.Get("tweet.fields"), f)
		}
	}
	if q.Has("exclude") {
		t.Errorf("exclude = %q without ExcludeRetweets", q.Get("exclude"))
	}

	// users/me is asked once per client, not per poll.
	if _, err := c.Since(context.Background(), str(note.ID)); err != nil {
		t.Fatal(err)
	}
	if n := countPath(s, "/2/users/me"); n != 1 {
		t.Errorf("users/me asked %d times", n)
	}
}

func countPath(s *twittertest.Server, path string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

func TestV2ExcludeRetweets(t *testing.T) {
	s := newServer(t)
	c := newV2Client(t, s, func(o *twitter.Options) { o.ExcludeRetweets = true })
	first := s.AddTweet(twittertest.Tweet{Text: "first"})
	s.AddTweet(twittertest.Tweet{RetweetOf: &twittertest.Tweet{Text: "theirs"}})
	mine := s.AddTweet(twittertest.Tweet{Text: "@bob reply", InReplyToUserID: 7})
	posts, err := c.Since(context.Background(), str(first.ID))
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 1 || posts[0].ID != str(mine.ID) {
		t.Fatalf("posts %+v, want only the reply", posts)
	}
	for _, r := range s.Requests() {
		if r.Path == "/2/users/42/tweets" && r.Query.Get("exclude") != "retweets" {
			t.Errorf("exclude = %q, want retweets (replies are filtered by the mirror, to keep threads)", r.Query.Get("exclude"))
		}
	}
}

// After a long outage more than a page of posts waits: every one of them
// comes back, in order, with pagination_token.
func TestV2SincePaging(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		pages int
	}{
		{name: "empty", n: 0, pages: 1},
		{name: "one short page", n: 99, pages: 1},
		{name: "exactly one page", n: 100, pages: 1},
		{name: "one more than a page", n: 101, pages: 2},
		{name: "250 during an outage", n: 250, pages: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			c := newV2Client(t, s, nil)
			cursor := s.AddTweet(twittertest.Tweet{Text: "cursor"})
			var want []int64
			for i := range tt.n {
				want = append(want, s.AddTweet(twittertest.Tweet{Text: "tweet " + strconv.Itoa(i)}).ID)
			}
			posts, err := c.Since(context.Background(), str(cursor.ID))
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, p := range posts {
				id, _ := strconv.ParseInt(p.ID, 10, 64)
				got = append(got, id)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %d posts, want %d in order", len(got), len(want))
			}
			if n := countPath(s, "/2/users/42/tweets"); n != tt.pages {
				t.Errorf("%d timeline requests, want %d", n, tt.pages)
			}
			if u := c.Usage(); u.PostsRead != int64(tt.n) {
				t.Errorf("usage counts %d tweets read, want %d", u.PostsRead, tt.n)
			}
		})
	}
}

// fakeV2 is a v2 server in a few lines, for behaviour twittertest does not
// have: pages without next_token, ignored parameters.
func fakeV2(t *testing.T, timeline func(q map[string]string) string) (*twitter.V2, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/2/users/me":
			w.Write([]byte(`{"data":{"id":"42","name":"me","username":"me"}}`))
		case strings.HasSuffix(r.URL.Path, "/tweets"):
			calls.Add(1)
			q := map[string]string{}
			for k := range r.URL.Query() {
				q[k] = r.URL.Query().Get(k)
			}
			w.Write([]byte(timeline(q)))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := twitter.NewV2(twitter.Options{APIBase: srv.URL + "/2/", ConsumerKey: "a", ConsumerSecret: "b", AccessToken: "c", AccessSecret: "d"})
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

// page renders tweets with ids from down to above (exclusive), newest first.
func page(from, above int64, next string) string {
	var b strings.Builder
	b.WriteString(`{"data":[`)
	n := 0
	for id := from; id > above; id-- {
		if n > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"id":"` + strconv.FormatInt(id, 10) + `","text":"t` + strconv.FormatInt(id, 10) + `","edit_history_tweet_ids":["` + strconv.FormatInt(id, 10) + `"]}`)
		n++
	}
	b.WriteString(`],"meta":{"result_count":` + strconv.Itoa(n))
	if next != "" {
		b.WriteString(`,"next_token":"` + next + `"`)
	}
	b.WriteString("}}")
	return b.String()
}

func TestV2FullPageWithoutTokenUsesUntilID(t *testing.T) {
	const base = int64(1_800_000_000_000_000_000)
	c, calls := fakeV2(t, func(q map[string]string) string {
		until := base + 150
		if v := q["until_id"]; v != "" {
			until, _ = strconv.ParseInt(v, 10, 64)
			until-- // until_id is exclusive
		}
		since, _ := strconv.ParseInt(q["since_id"], 10, 64)
		return page(until, max(since, until-100), "")
	})
	posts, err := c.Since(context.Background(), str(base))
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 150 || posts[0].ID != str(base+1) || posts[149].ID != str(base+150) {
		t.Fatalf("got %d posts", len(posts))
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls, want 2", calls.Load())
	}
}

func TestV2ServerIgnoresPaging(t *testing.T) {
	const base = int64(1_800_000_000_000_000_000)
	t.Run("repeated next_token", func(t *testing.T) {
		c, calls := fakeV2(t, func(map[string]string) string { return page(base+200, base+100, "same") })
		posts, err := c.Since(context.Background(), str(base))
		if err != nil {
			t.Fatal(err)
		}
		if len(posts) != 100 || calls.Load() != 2 {
			t.Errorf("%d posts in %d calls", len(posts), calls.Load())
		}
	})
	t.Run("ignored until_id", func(t *testing.T) {
		c, calls := fakeV2(t, func(map[string]string) string { return page(base+200, base+100, "") })
		if _, err := c.Since(context.Background(), str(base)); err != nil {
			t.Fatal(err)
		}
		if calls.Load() != 2 {
			t.Errorf("%d calls, want 2", calls.Load())
		}
	})
	t.Run("ignored since_id", func(t *testing.T) {
		c, calls := fakeV2(t, func(map[string]string) string { return page(base+20, base, "") })
		posts, err := c.Since(context.Background(), str(base+10))
		if err != nil {
			t.Fatal(err)
		}
		if len(posts) != 10 || posts[0].ID != str(base+11) || calls.Load() != 1 {
			t.Errorf("%d posts in %d calls", len(posts), calls.Load())
		}
	})
}

func TestV2Newest(t *testing.T) {
	s := newServer(t)
	c := newV2Client(t, s, nil)
	if id, err := c.Newest(context.Background()); err != nil || id != "" {
		t.Fatalf("empty timeline: %q, %v", id, err)
	}
	s.AddTweet(twittertest.Tweet{Text: "one"})
	two := s.AddTweet(twittertest.Tweet{Text: "two"})
	if id, err := c.Newest(context.Background()); err != nil || id != str(two.ID) {
		t.Fatalf("newest %q, %v; want %d", id, err, two.ID)
	}
	for _, r := range s.Requests() {
		if r.Path == "/2/users/42/tweets" && r.Query.Get("max_results") != "5" {
			t.Errorf("max_results %q", r.Query.Get("max_results"))
		}
	}
}

func TestV2PostAndVerify(t *testing.T) {
	s := newServer(t)
	c := newV2Client(t, s, nil)
	acct, err := c.Verify(context.Background())
	if err != nil || acct.ID != str(userID) || acct.Handle != screenName {
		t.Fatalf("verify: %+v, %v", acct, err)
	}
	const msg = "hello & <friends> https://example.com/?a=1&b=2 你好"
	p, err := c.Post(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	stored := s.Tweets()
	if len(stored) != 1 || stored[0].Text != msg || str(stored[0].ID) != p.ID || p.Cursor != p.ID {
		t.Fatalf("server has %+v, post %+v", stored, p)
	}
	if p.Text != msg || p.Author != screenName || !strings.HasSuffix(p.URL, "/status/"+p.ID) {
		t.Errorf("post %+v", p)
	}
	var posted []twittertest.Request
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost {
			posted = append(posted, r)
		}
	}
	if len(posted) != 1 || posted[0].Path != "/2/tweets" || !posted[0].OAuthVerified || !strings.Contains(posted[0].Body, `"text":`) {
		t.Errorf("post requests %+v", posted)
	}
	if u := c.Usage(); u.ReadRequests != 1 || u.PostsCreated != 1 {
		t.Errorf("counts: %d reads, %d posts; want 1, 1", u.ReadRequests, u.PostsCreated)
	}
	_, err = c.Post(context.Background(), msg)
	var ae *twitter.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 403 || !ae.Permanent() || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate: %v", err)
	}
}

func TestV2Errors(t *testing.T) {
	reset := time.Now().Add(7 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name      string
		fault     *twittertest.Fault
		edit      func(*twitter.Options)
		status    int
		want      []string
		permanent bool
		tier      bool
		retryAt   time.Time
	}{
		{name: "wrong consumer secret", edit: func(o *twitter.Options) { o.ConsumerSecret = "wrong" }, status: 401, want: []string{"status 401", "check the consumer key and secret"}, permanent: true},
		{name: "wrong token", edit: func(o *twitter.Options) { o.AccessToken = "wrong" }, status: 401, permanent: true},
		{name: "v1.1 tier 453", fault: ptr(twittertest.FaultTier()), status: 403, want: []string{"code 453", "use the x api v2"}, permanent: true, tier: true},
		{name: "client forbidden", fault: ptr(twittertest.FaultClientForbidden()), status: 403, want: []string{"no x api v2 access", "developer portal"}, permanent: true, tier: true},
		{name: "usage capped", fault: ptr(twittertest.FaultUsageCapped(reset)), status: 429, want: []string{"usage cap"}, retryAt: reset},
		{name: "rate limited", fault: ptr(twittertest.FaultRateLimited(reset)), status: 429, want: []string{"rate limit exceeded until"}, retryAt: reset},
		{name: "bad gateway", fault: ptr(twittertest.FaultBadGateway()), status: 502, want: []string{"server error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			c := newV2Client(t, s, tt.edit)
			if tt.fault != nil {
				s.Fail(*tt.fault)
			}
			_, err := c.Verify(context.Background())
			var ae *twitter.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an APIError", err)
			}
			if ae.StatusCode != tt.status || ae.Permanent() != tt.permanent || ae.TierNotAllowed() != tt.tier || !ae.RetryAt().Equal(tt.retryAt) {
				t.Errorf("got status %d permanent %v tier %v retry %v: %v", ae.StatusCode, ae.Permanent(), ae.TierNotAllowed(), ae.RetryAt(), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			for _, secret := range []string{consumerSecret, accessSecret, "wrong"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error reveals %q", secret)
				}
			}
		})
	}
}

func TestV2Garbage(t *testing.T) {
	s := newServer(t)
	c := newV2Client(t, s, nil)
	if _, err := c.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Fail(twittertest.FaultGarbage())
	if _, err := c.Since(context.Background(), "1"); err == nil || !strings.Contains(err.Error(), "decode response") {
		t.Errorf("err = %v", err)
	}
}

func TestV2Context(t *testing.T) {
	s := newServer(t)
	c := newV2Client(t, s, nil)
	s.Fail(twittertest.FaultDelay(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Verify(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
}

func TestResolveAPI(t *testing.T) {
	tests := []struct {
		name, api, base string
		wantAPI         string
		wantBase        string
		err             string
	}{
		{name: "defaults", wantAPI: "v2", wantBase: "https://api.x.com/2/"},
		{name: "v1.1 default base", api: "v1.1", wantAPI: "v1.1", wantBase: "https://api.twitter.com/1.1/"},
		{name: "old config on x", base: "https://api.twitter.com/1.1/", wantAPI: "v2", wantBase: "https://api.twitter.com/2/"},
		{name: "x host root", base: "https://api.x.com", wantAPI: "v2", wantBase: "https://api.x.com/2/"},
		{name: "explicit v1.1 on x", api: "v1.1", base: "https://api.x.com/2/", wantAPI: "v1.1", wantBase: "https://api.x.com/1.1/"},
		{name: "compatible server", base: "https://social.example/api/", wantAPI: "v1.1", wantBase: "https://social.example/api/"},
		{name: "v2 proxy", api: "v2", base: "http://127.0.0.1:8080/x/2", wantAPI: "v2", wantBase: "http://127.0.0.1:8080/x/2/"},
		{name: "unknown api", api: "v3", err: `unknown api "v3"`},
		{name: "bad base", base: "ftp://x/", err: "api base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, base, err := twitter.ResolveAPI(tt.api, tt.base)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || api != tt.wantAPI || base.String() != tt.wantBase {
				t.Errorf("got %q %v %v, want %q %q", api, base, err, tt.wantAPI, tt.wantBase)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	for _, api := range []string{"v2", "v1.1"} {
		t.Run(api, func(t *testing.T) {
			s := newServer(t)
			base := s.V2URL()
			if api == "v1.1" {
				base = s.URL()
			}
			opts := twitter.LoginOptions{API: api, APIBase: base, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret}
			l, err := twitter.StartLogin(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(l.AuthorizeURL(), s.OAuthURL()+"authorize?oauth_token=") {
				t.Fatalf("authorize url %q", l.AuthorizeURL())
			}
			token := strings.TrimPrefix(l.AuthorizeURL(), s.OAuthURL()+"authorize?oauth_token=")
			if _, err := l.Finish(context.Background(), "1234567"); err == nil {
				t.Fatal("a wrong pin before approval was accepted")
			}
			pin, ok := s.Approve(token)
			if !ok {
				t.Fatalf("server does not know token %q", token)
			}
			creds, err := l.Finish(context.Background(), " "+pin+"\n")
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessToken != accessToken || creds.AccessSecret != accessSecret {
				t.Errorf("credentials %+v", creds)
			}
			for _, r := range s.Requests() {
				if r.Method == http.MethodPost && !r.OAuthVerified {
					t.Errorf("unverified %s %s (%d)", r.Method, r.Path, r.Status)
				}
			}
		})
	}
	t.Run("wrong consumer secret", func(t *testing.T) {
		s := newServer(t)
		_, err := twitter.StartLogin(context.Background(), twitter.LoginOptions{APIBase: s.V2URL(), API: "v2", ConsumerKey: consumerKey, ConsumerSecret: "wrong-cs"})
		if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-cs") {
			t.Errorf("err = %v", err)
		}
	})
}

// An empty 200 is a broken answer, not an empty timeline, in either API.
func TestEmptyOKBody(t *testing.T) {
	for _, api := range []string{"v1.1", "v2"} {
		t.Run(api, func(t *testing.T) {
			s := newServer(t)
			c := apiClient(t, s, api)
			if _, err := c.Verify(context.Background()); err != nil {
				t.Fatal(err)
			}
			s.Fail(twittertest.Fault{Status: 200, ContentType: "application/json"})
			if _, err := c.Since(context.Background(), "1"); err == nil || !strings.Contains(err.Error(), "decode response") {
				t.Errorf("err = %v, want a decode error", err)
			}
		})
	}
}

// apiClient returns a client of s that speaks api: twitter.APIv2 or
// twitter.APIv11, as cmd chooses one by the config.
func apiClient(t *testing.T, s *twittertest.Server, api string) client {
	t.Helper()
	if api == twitter.APIv2 {
		return newV2Client(t, s, nil)
	}
	return newClient(t, s, nil)
}
