package twittertest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dghubble/oauth1"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// newServer starts a server with default options, closed at the end of the test.
func newServer(t *testing.T) *twittertest.Server {
	t.Helper()
	s := twittertest.NewServer(twittertest.Options{})
	t.Cleanup(s.Close)
	return s
}

// client returns an HTTP client signing with the server's credentials,
// changed by edit when not nil.
func client(s *twittertest.Server, edit func(*twittertest.Options)) *http.Client {
	o := s.Options()
	if edit != nil {
		edit(&o)
	}
	c := oauth1.NewConfig(o.ConsumerKey, o.ConsumerSecret).Client(context.Background(), oauth1.NewToken(o.AccessToken, o.AccessSecret))
	c.Timeout = 10 * time.Second
	return c
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// get sends a GET to base+path (base is s.URL() or s.V2URL()).
func get(t *testing.T, c *http.Client, base, path string, q url.Values) response {
	t.Helper()
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func post(t *testing.T, c *http.Client, s *twittertest.Server, path string, form url.Values) response {
	t.Helper()
	resp, err := c.PostForm(s.URL()+path, form)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func read(t *testing.T, resp *http.Response) response {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// decode decodes JSON keeping numbers exact.
func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

type obj = map[string]any

func timelineIDs(t *testing.T, r response) []string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var tweets []obj
	decode(t, r.body, &tweets)
	var ids []string
	for _, tw := range tweets {
		ids = append(ids, tw["id_str"].(string))
	}
	return ids
}

func TestTimelineJSON(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	other := s.AddTweet(twittertest.Tweet{Text: "original & <b>", UserID: 42, ScreenName: "bob"})
	tw := s.AddTweet(twittertest.Tweet{
		Text:            "café & <3 https://example.com/a?b=1&c=2 🎉",
		URLs:            []twittertest.URL{{Expanded: "https://example.com/a?b=1&c=2"}},
		InReplyToUserID: 42, InReplyToStatusID: other.ID, InReplyToScreenName: "bob",
	})
	if tw.ID <= 1<<53 || !strings.HasPrefix(tw.URLs[0].Short, "https://t.co/") || tw.CreatedAt.IsZero() {
		t.Fatalf("AddTweet filled in %+v", tw)
	}
	r := get(t, c, s.URL(), "statuses/user_timeline.json", url.Values{"tweet_mode": {"extended"}})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	for _, h := range []string{"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"} {
		if r.header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if !bytes.Contains(r.body, []byte(`"id":`+strconv.FormatInt(tw.ID, 10)+`,`)) {
		t.Errorf("id is not an exact JSON number in %s", r.body)
	}
	var tweets []obj
	decode(t, r.body, &tweets)
	if len(tweets) != 1 {
		t.Fatalf("%d tweets, want 1 (other users' tweets are not in the timeline)", len(tweets))
	}
	got := tweets[0]
	want := "café &amp; &lt;3 " + tw.URLs[0].Short + " 🎉"
	if got["full_text"] != want {
		t.Errorf("full_text = %q, want %q", got["full_text"], want)
	}
	if _, ok := got["text"]; ok {
		t.Error("extended mode has a text field")
	}
	if got["id_str"] != strconv.FormatInt(tw.ID, 10) || got["in_reply_to_status_id_str"] != strconv.FormatInt(other.ID, 10) ||
		got["in_reply_to_user_id_str"] != "42" || got["in_reply_to_screen_name"] != "bob" {
		t.Errorf("ids: %v", got)
	}
	if _, err := time.Parse("Mon Jan 02 15:04:05 -0700 2006", got["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}
	user := got["user"].(obj)
	if user["id_str"] != strconv.Itoa(twittertest.DefaultUserID) || user["screen_name"] != twittertest.DefaultScreenName {
		t.Errorf("user = %v", user)
	}
	urls := got["entities"].(obj)["urls"].([]any)
	if len(urls) != 1 {
		t.Fatalf("urls = %v", urls)
	}
	u := urls[0].(obj)
	idx := u["indices"].([]any)
	start, _ := idx[0].(json.Number).Int64()
	end, _ := idx[1].(json.Number).Int64()
	if s := string([]rune(want)[start:end]); s != tw.URLs[0].Short || u["url"] != s || u["expanded_url"] != "https://example.com/a?b=1&c=2" {
		t.Errorf("url entity %v selects %q", u, s)
	}

	// A tweet that is not a reply has explicit nulls.
	s.AddTweet(twittertest.Tweet{Text: "plain"})
	r = get(t, c, s.URL(), "statuses/user_timeline.json", url.Values{"tweet_mode": {"extended"}, "count": {"1"}})
	decode(t, r.body, &tweets)
	for _, k := range []string{"in_reply_to_status_id", "in_reply_to_status_id_str", "in_reply_to_user_id", "in_reply_to_user_id_str", "in_reply_to_screen_name"} {
		if v, ok := tweets[0][k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, ok)
		}
	}
	if _, ok := tweets[0]["retweeted_status"]; ok {
		t.Error("retweeted_status present on a plain tweet")
	}
}

func TestTimelineRetweet(t *testing.T) {
	s := newServer(t)
	long := strings.Repeat("long text ", 20) + "https://example.com/x"
	rt := s.AddTweet(twittertest.Tweet{RetweetOf: &twittertest.Tweet{Text: long, URLs: []twittertest.URL{{Expanded: "https://example.com/x"}}}})
	if rt.RetweetOf.ID == 0 || rt.RetweetOf.ID >= rt.ID || rt.RetweetOf.ScreenName == "" {
		t.Fatalf("retweet stored as %+v", rt.RetweetOf)
	}
	r := get(t, client(s, nil), s.URL(), "statuses/user_timeline.json", url.Values{"tweet_mode": {"extended"}})
	var tweets []obj
	decode(t, r.body, &tweets)
	top := tweets[0]["full_text"].(string)
	if !strings.HasPrefix(top, "RT @"+rt.RetweetOf.ScreenName+": ") || !strings.HasSuffix(top, "…") {
		t.Errorf("retweet text = %q, want truncated RT", top)
	}
	orig := tweets[0]["retweeted_status"].(obj)
	if orig["full_text"] != strings.Replace(long, "https://example.com/x", rt.RetweetOf.URLs[0].Short, 1) {
		t.Errorf("original full_text = %q", orig["full_text"])
	}
	if orig["user"].(obj)["screen_name"] != rt.RetweetOf.ScreenName {
		t.Errorf("original user = %v", orig["user"])
	}
}

func TestTimelineParams(t *testing.T) {
	s := newServer(t)
	var ids []string // oldest first
	add := func(tw twittertest.Tweet) {
		ids = append(ids, strconv.FormatInt(s.AddTweet(tw).ID, 10))
	}
	add(twittertest.Tweet{Text: "0"})
	add(twittertest.Tweet{Text: "1 reply", InReplyToUserID: 42})
	add(twittertest.Tweet{RetweetOf: &twittertest.Tweet{Text: "2 retweet"}})
	add(twittertest.Tweet{Text: "3"})
	add(twittertest.Tweet{Text: "4"})
	c := client(s, nil)
	tests := []struct {
		name string
		q    url.Values
		want []string
	}{
		{name: "newest first", q: url.Values{}, want: []string{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{name: "count", q: url.Values{"count": {"2"}}, want: []string{ids[4], ids[3]}},
		{name: "since_id is exclusive", q: url.Values{"since_id": {ids[2]}}, want: []string{ids[4], ids[3]}},
		{name: "max_id is inclusive", q: url.Values{"max_id": {ids[3]}, "count": {"2"}}, want: []string{ids[3], ids[2]}},
		{name: "since and max", q: url.Values{"since_id": {ids[0]}, "max_id": {ids[2]}}, want: []string{ids[2], ids[1]}},
		{name: "exclude_replies after count", q: url.Values{"exclude_replies": {"true"}, "count": {"4"}}, want: []string{ids[4], ids[3], ids[2]}},
		{name: "include_rts=false", q: url.Values{"include_rts": {"false"}}, want: []string{ids[4], ids[3], ids[1], ids[0]}},
		{name: "screen_name of the user", q: url.Values{"screen_name": {twittertest.DefaultScreenName}, "count": {"1"}}, want: []string{ids[4]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := timelineIDs(t, get(t, c, s.URL(), "statuses/user_timeline.json", tt.q))
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("deleted tweets count before filtering", func(t *testing.T) {
		id4, _ := strconv.ParseInt(ids[4], 10, 64)
		if !s.Delete(id4) || s.Delete(id4) {
			t.Fatal("Delete did not report existence")
		}
		if got := timelineIDs(t, get(t, c, s.URL(), "statuses/user_timeline.json", url.Values{"count": {"1"}})); len(got) != 0 {
			t.Errorf("ids = %v, want none", got)
		}
		if n := len(s.Tweets()); n != 4 {
			t.Errorf("Tweets() has %d, want 4", n)
		}
	})

	t.Run("compat mode truncates text", func(t *testing.T) {
		s.AddTweet(twittertest.Tweet{Text: strings.Repeat("a", 200)})
		var tweets []obj
		decode(t, get(t, c, s.URL(), "statuses/user_timeline.json", url.Values{"count": {"1"}}).body, &tweets)
		if tweets[0]["truncated"] != true || len([]rune(tweets[0]["text"].(string))) != 140 {
			t.Errorf("compat tweet = %v", tweets[0])
		}
		if _, ok := tweets[0]["full_text"]; ok {
			t.Error("compat mode has full_text")
		}
	})

	t.Run("unknown user", func(t *testing.T) {
		if r := get(t, c, s.URL(), "statuses/user_timeline.json", url.Values{"screen_name": {"nobody_here"}}); r.status != 404 {
			t.Errorf("status %d", r.status)
		}
	})
}

func TestUpdate(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	status := "read https://example.com/a?b=1&c=2. ok <3"
	r := post(t, c, s, "statuses/update.json", url.Values{"status": {status}, "tweet_mode": {"extended"}})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var tw obj
	decode(t, r.body, &tw)
	stored := s.Tweets()
	if len(stored) != 1 || stored[0].Text != status || len(stored[0].URLs) != 1 || stored[0].URLs[0].Expanded != "https://example.com/a?b=1&c=2" {
		t.Fatalf("stored %+v", stored)
	}
	if want := "read " + stored[0].URLs[0].Short + ". ok &lt;3"; tw["full_text"] != want {
		t.Errorf("full_text = %q, want %q", tw["full_text"], want)
	}
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; !last.OAuthVerified || last.Method != "POST" || last.Form.Get("status") != status || last.Status != 200 {
		t.Errorf("request log %+v", last)
	}

	tests := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{name: "duplicate", form: url.Values{"status": {status}}, status: 403, code: "187"},
		{name: "too long", form: url.Values{"status": {strings.Repeat("é", 281)}}, status: 403, code: "186"},
		{name: "missing", form: url.Values{}, status: 400, code: "170"},
		{name: "reply to unknown", form: url.Values{"status": {"hi"}, "in_reply_to_status_id": {"5"}}, status: 403, code: "385"},
		{name: "reply", form: url.Values{"status": {"hi"}, "in_reply_to_status_id": {strconv.FormatInt(stored[0].ID, 10)}}, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, c, s, "statuses/update.json", tt.form)
			if r.status != tt.status || tt.code != "" && !bytes.Contains(r.body, []byte(`"code":`+tt.code)) {
				t.Errorf("got %d %s, want %d code %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
	if tweets := s.Tweets(); tweets[len(tweets)-1].InReplyToStatusID != stored[0].ID {
		t.Errorf("reply stored as %+v", tweets[len(tweets)-1])
	}
}

func TestAuth(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name   string
		c      *http.Client
		status int
		body   string
	}{
		{name: "valid", c: client(s, nil), status: 200, body: `"screen_name":"` + twittertest.DefaultScreenName + `"`},
		{name: "bad consumer secret", c: client(s, func(o *twittertest.Options) { o.ConsumerSecret = "x" }), status: 401, body: `{"errors":[{"message":"Could not authenticate you.","code":32}]}`},
		{name: "bad access token", c: client(s, func(o *twittertest.Options) { o.AccessToken = "x" }), status: 401, body: `"code":89`},
		{name: "unsigned", c: http.DefaultClient, status: 400, body: `"code":215`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, tt.c, s.URL(), "account/verify_credentials.json", nil)
			if r.status != tt.status || !bytes.Contains(r.body, []byte(tt.body)) {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.body)
			}
			reqs := s.Requests()
			if last := reqs[len(reqs)-1]; last.OAuthVerified != (tt.status == 200) {
				t.Errorf("OAuthVerified = %v", last.OAuthVerified)
			}
		})
	}
}

func TestNonceReplay(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	var auth string
	c.Transport.(*oauth1.Transport).Base = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		auth = r.Header.Get("Authorization")
		return http.DefaultTransport.RoundTrip(r)
	})
	if r := get(t, c, s.URL(), "account/verify_credentials.json", nil); r.status != 200 {
		t.Fatalf("first: %d", r.status)
	}
	req, _ := http.NewRequest("GET", s.URL()+"account/verify_credentials.json", nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if r := read(t, resp); r.status != 401 {
		t.Errorf("replayed request: %d %s", r.status, r.body)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRateLimitHeaders(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	var last int
	for i := range 3 {
		r := get(t, c, s.URL(), "statuses/user_timeline.json", nil)
		if r.header.Get("X-Rate-Limit-Limit") != "900" {
			t.Fatalf("limit %q", r.header.Get("X-Rate-Limit-Limit"))
		}
		rem, _ := strconv.Atoi(r.header.Get("X-Rate-Limit-Remaining"))
		if i > 0 && rem != last-1 {
			t.Errorf("remaining %d after %d", rem, last)
		}
		last = rem
		reset, _ := strconv.ParseInt(r.header.Get("X-Rate-Limit-Reset"), 10, 64)
		if d := time.Until(time.Unix(reset, 0)); d < 14*time.Minute || d > 15*time.Minute {
			t.Errorf("reset in %s", d)
		}
	}
	if r := get(t, c, s.URL(), "account/verify_credentials.json", nil); r.header.Get("X-Rate-Limit-Remaining") != "74" {
		t.Errorf("verify_credentials has its own window: remaining %s", r.header.Get("X-Rate-Limit-Remaining"))
	}
}

func TestFaults(t *testing.T) {
	reset := time.Now().Add(7 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name        string
		fault       twittertest.Fault
		status      int
		body        string
		contentType string
		header      map[string]string
	}{
		{name: "rate limited", fault: twittertest.FaultRateLimited(reset), status: 429, body: "",
			header: map[string]string{"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": strconv.FormatInt(reset.Unix(), 10)}},
		{name: "tier", fault: twittertest.FaultTier(), status: 403, body: `"code":453}]}`, contentType: "application/json"},
		{name: "bad gateway", fault: twittertest.FaultBadGateway(), status: 502, body: "<html>", contentType: "text/html"},
		{name: "garbage", fault: twittertest.FaultGarbage(), status: 200, body: `[{"created_at"`},
		{name: "custom header", fault: twittertest.Fault{Status: 503, Header: http.Header{"Retry-After": {"3"}}}, status: 503, header: map[string]string{"Retry-After": "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			c := client(s, nil)
			s.Fail(tt.fault)
			r := get(t, c, s.URL(), "statuses/user_timeline.json", nil)
			if r.status != tt.status || !bytes.Contains(r.body, []byte(tt.body)) || (tt.body == "" && len(r.body) != 0) {
				t.Errorf("got %d %q, want %d %q", r.status, r.body, tt.status, tt.body)
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), tt.contentType) {
				t.Errorf("content type %q", r.header.Get("Content-Type"))
			}
			for k, v := range tt.header {
				if r.header.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, r.header.Get(k), v)
				}
			}
			if r := get(t, c, s.URL(), "statuses/user_timeline.json", nil); r.status != 200 {
				t.Errorf("fault outlived its one time: %d", r.status)
			}
		})
	}

	t.Run("times and path", func(t *testing.T) {
		s := newServer(t)
		c := client(s, nil)
		s.Fail(twittertest.Fault{Status: 503, Times: 2, Path: "user_timeline"})
		var got []int
		for _, p := range []string{"account/verify_credentials.json", "statuses/user_timeline.json", "statuses/user_timeline.json", "statuses/user_timeline.json"} {
			got = append(got, get(t, c, s.URL(), p, nil).status)
		}
		if want := []int{200, 503, 503, 200}; !equal(got, want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
		var logged []int
		for _, r := range s.Requests() {
			logged = append(logged, r.Status)
		}
		if !equal(logged, got) {
			t.Errorf("logged %v", logged)
		}
	})

	t.Run("delay ends when the client gives up", func(t *testing.T) {
		s := newServer(t)
		c := client(s, nil)
		c.Timeout = 50 * time.Millisecond
		s.Fail(twittertest.FaultDelay(time.Hour))
		if _, err := c.Get(s.URL() + "statuses/user_timeline.json"); err == nil {
			t.Fatal("no timeout")
		}
		s.Close() // must not wait for the hour
	})
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUnknownEndpoint(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	for _, tc := range []struct{ method, path string }{{"GET", "statuses/home_timeline.json"}, {"GET", "statuses/update.json"}} {
		req, _ := http.NewRequest(tc.method, s.URL()+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if r := read(t, resp); r.status != 404 || !bytes.Contains(r.body, []byte(`"code":34`)) {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	s := twittertest.NewServer(twittertest.Options{})
	s.Close()
	s.Close()
	if _, err := http.Get(s.URL() + "statuses/user_timeline.json"); err == nil {
		t.Error("server still answers after Close")
	}
}
