package twittertest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dghubble/oauth1"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

func TestV2TimelineJSON(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	plain := s.AddTweet(twittertest.Tweet{Text: "café & <3 https://example.com/a?b=1&c=2", URLs: []twittertest.URL{{Expanded: "https://example.com/a?b=1&c=2"}}, CreatedAt: created})
	rt := s.AddTweet(twittertest.Tweet{RetweetOf: &twittertest.Tweet{Text: strings.Repeat("long original ", 15), UserID: 7, ScreenName: "bob"}})
	reply := s.AddTweet(twittertest.Tweet{Text: "@bob hi", InReplyToUserID: 7, InReplyToStatusID: rt.RetweetOf.ID})
	long := s.AddTweet(twittertest.Tweet{Text: strings.Repeat("x", 300)})

	q := url.Values{
		"tweet.fields": {"created_at,entities,referenced_tweets,in_reply_to_user_id,note_tweet,author_id"},
		"expansions":   {"referenced_tweets.id,referenced_tweets.id.author_id"},
	}
	r := get(t, c, s.V2URL(), "users/"+strconv.Itoa(twittertest.DefaultUserID)+"/tweets", q)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var body struct {
		Data     []obj `json:"data"`
		Includes struct {
			Tweets []obj `json:"tweets"`
			Users  []obj `json:"users"`
		} `json:"includes"`
		Meta obj `json:"meta"`
	}
	decode(t, r.body, &body)
	if len(body.Data) != 4 {
		t.Fatalf("%d tweets: %s", len(body.Data), r.body)
	}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	newest, oldest := body.Data[0], body.Data[3]
	if newest["id"] != id(long.ID) || oldest["id"] != id(plain.ID) {
		t.Errorf("order: %v … %v", newest["id"], oldest["id"])
	}
	if m := body.Meta; m["result_count"] != jsonNum(4) || m["newest_id"] != id(long.ID) || m["oldest_id"] != id(plain.ID) || m["next_token"] != nil {
		t.Errorf("meta %v", m)
	}
	if txt := oldest["text"].(string); !strings.HasPrefix(txt, "café &amp; &lt;3 https://t.co/") {
		t.Errorf("text %q: want escaped with a t.co link", txt)
	}
	if oldest["created_at"] != "2026-01-02T03:04:05.000Z" || oldest["author_id"] != id(twittertest.DefaultUserID) {
		t.Errorf("fields %v", oldest)
	}
	urls := oldest["entities"].(obj)["urls"].([]any)
	if u := urls[0].(obj); u["expanded_url"] != "https://example.com/a?b=1&c=2" || u["start"] != jsonNum(17) {
		t.Errorf("url entity %v", u)
	}
	if h := oldest["edit_history_tweet_ids"].([]any); len(h) != 1 || h[0] != id(plain.ID) {
		t.Errorf("edit history %v", h)
	}
	if n := oldest["note_tweet"]; n != nil {
		t.Errorf("note_tweet in the wrong tweet")
	}
	if note := newest["note_tweet"].(obj); note["text"] != strings.Repeat("x", 300) || len([]rune(newest["text"].(string))) != 280 {
		t.Errorf("note tweet: text %q, note %v", newest["text"], note)
	}
	rtJSON := body.Data[2]
	if refs := rtJSON["referenced_tweets"].([]any); refs[0].(obj)["type"] != "retweeted" || refs[0].(obj)["id"] != id(rt.RetweetOf.ID) {
		t.Errorf("retweet refs %v", refs)
	}
	if len(body.Includes.Tweets) != 1 || body.Includes.Tweets[0]["text"] != strings.Repeat("long original ", 15) {
		t.Errorf("includes.tweets %v", body.Includes.Tweets)
	}
	if len(body.Includes.Users) != 1 || body.Includes.Users[0]["username"] != "bob" {
		t.Errorf("includes.users %v", body.Includes.Users)
	}
	if rp := body.Data[1]; rp["id"] != id(reply.ID) || rp["in_reply_to_user_id"] != "7" {
		t.Errorf("reply %v", rp)
	}

	// Without tweet.fields only the defaults come.
	r = get(t, c, s.V2URL(), "users/"+strconv.Itoa(twittertest.DefaultUserID)+"/tweets", nil)
	var bare struct{ Data []obj }
	decode(t, r.body, &bare)
	for k := range bare.Data[0] {
		if k != "id" && k != "text" && k != "edit_history_tweet_ids" {
			t.Errorf("unrequested field %q", k)
		}
	}
}

func jsonNum(n int) any { return json.Number(strconv.Itoa(n)) }

func TestV2TimelinePaging(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	first := s.AddTweet(twittertest.Tweet{Text: "cursor"})
	for i := range 25 {
		s.AddTweet(twittertest.Tweet{Text: "t" + strconv.Itoa(i)})
	}
	path := "users/" + strconv.Itoa(twittertest.DefaultUserID) + "/tweets"
	var ids []string
	token := ""
	for page := 0; page < 10; page++ {
		q := url.Values{"max_results": {"10"}, "since_id": {strconv.FormatInt(first.ID, 10)}}
		if token != "" {
			q.Set("pagination_token", token)
		}
		r := get(t, c, s.V2URL(), path, q)
		var body struct {
			Data []obj
			Meta struct {
				ResultCount int    `json:"result_count"`
				NextToken   string `json:"next_token"`
			}
		}
		decode(t, r.body, &body)
		for _, d := range body.Data {
			ids = append(ids, d["id"].(string))
		}
		if token = body.Meta.NextToken; token == "" {
			break
		}
	}
	if len(ids) != 25 {
		t.Fatalf("paged through %d tweets, want 25", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Fatalf("not newest first at %d", i)
		}
	}

	tests := []struct {
		name string
		q    url.Values
		want string
	}{
		{name: "max_results too small", q: url.Values{"max_results": {"4"}}, want: "is not between 5 and 100"},
		{name: "max_results too large", q: url.Values{"max_results": {"101"}}, want: "is not between 5 and 100"},
		{name: "bad since_id", q: url.Values{"since_id": {"x"}}, want: "since_id"},
		{name: "bad token", q: url.Values{"pagination_token": {"!!"}}, want: "pagination_token"},
		{name: "bad exclude", q: url.Values{"exclude": {"likes"}}, want: "exclude"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, c, s.V2URL(), path, tt.q)
			if r.status != 400 || r.header.Get("Content-Type") != "application/problem+json" ||
				!bytes.Contains(r.body, []byte("/2/problems/invalid-request")) || !bytes.Contains(r.body, []byte(tt.want)) {
				t.Errorf("%d %s %s", r.status, r.header.Get("Content-Type"), r.body)
			}
		})
	}
	t.Run("until_id and exclude", func(t *testing.T) {
		rt := s.AddTweet(twittertest.Tweet{RetweetOf: &twittertest.Tweet{Text: "theirs"}})
		reply := s.AddTweet(twittertest.Tweet{Text: "@x hi", InReplyToUserID: 9})
		top := s.AddTweet(twittertest.Tweet{Text: "top"})
		r := get(t, c, s.V2URL(), path, url.Values{"exclude": {"retweets,replies"}, "until_id": {strconv.FormatInt(top.ID, 10)}, "max_results": {"5"}})
		var body struct{ Data []obj }
		decode(t, r.body, &body)
		for _, d := range body.Data {
			if id, _ := strconv.ParseInt(d["id"].(string), 10, 64); id == rt.ID || id == reply.ID || id >= top.ID {
				t.Errorf("tweet %d served", id)
			}
		}
	})
}

func TestV2MeAndCreate(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	r := get(t, c, s.V2URL(), "users/me", nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"username":"`+twittertest.DefaultScreenName+`"`)) {
		t.Fatalf("users/me: %d %s", r.status, r.body)
	}
	postJSON := func(body string) response {
		req, _ := http.NewRequest(http.MethodPost, s.V2URL()+"tweets", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return read(t, resp)
	}
	r = postJSON(`{"text":"see https://example.com & more"}`)
	if r.status != 201 || !bytes.Contains(r.body, []byte(`"text":"see https://t.co/`)) || !bytes.Contains(r.body, []byte("edit_history_tweet_ids")) {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if tw := s.Tweets(); len(tw) != 1 || tw[0].Text != "see https://example.com & more" {
		t.Errorf("stored %+v", tw)
	}
	for _, tt := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"duplicate", `{"text":"see https://example.com & more"}`, 403, "duplicate content"},
		{"too long", `{"text":"` + strings.Repeat("y", 281) + `"}`, 403, "too long"},
		{"empty", `{"text":" "}`, 400, "invalid-request"},
		{"not json", `text=hello`, 400, "invalid-request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := postJSON(tt.body)
			if r.status != tt.status || r.header.Get("Content-Type") != "application/problem+json" || !bytes.Contains(r.body, []byte(tt.want)) {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
	var last twittertest.Request
	for _, rq := range s.Requests() {
		if rq.Method == http.MethodPost {
			last = rq
		}
	}
	if last.Body != "text=hello" || !last.OAuthVerified {
		t.Errorf("recorded %+v", last)
	}
}

func TestV2AuthAndLimits(t *testing.T) {
	s := newServer(t)
	bad := client(s, func(o *twittertest.Options) { o.ConsumerSecret = "wrong" })
	r := get(t, bad, s.V2URL(), "users/me", nil)
	if r.status != 401 || r.header.Get("Content-Type") != "application/problem+json" || !bytes.Contains(r.body, []byte(`"title":"Unauthorized"`)) {
		t.Errorf("bad secret: %d %s", r.status, r.body)
	}
	c := client(s, nil)
	r = get(t, c, s.V2URL(), "users/me", nil)
	if r.header.Get("X-Rate-Limit-Limit") != "75" || r.header.Get("X-Rate-Limit-Remaining") != "73" {
		t.Errorf("rate limit headers %v", r.header)
	}
	r = get(t, c, s.V2URL(), "users/"+strconv.Itoa(twittertest.DefaultUserID)+"/tweets", nil)
	if r.header.Get("X-Rate-Limit-Limit") != "900" {
		t.Errorf("timeline limit %q", r.header.Get("X-Rate-Limit-Limit"))
	}
	// Faults are shared with v1.1 and match v2 paths too.
	s.Fail(twittertest.FaultClientForbidden())
	if r := get(t, c, s.V2URL(), "users/me", nil); r.status != 403 || !bytes.Contains(r.body, []byte("client-forbidden")) {
		t.Errorf("fault: %d %s", r.status, r.body)
	}
	s.Fail(twittertest.Fault{Status: 503, Times: 5})
	s.ClearFaults()
	if r := get(t, c, s.V2URL(), "users/me", nil); r.status != 200 {
		t.Errorf("after ClearFaults: %d", r.status)
	}
	if r := get(t, c, s.V2URL(), "users/me/followers", nil); r.status != 404 {
		t.Errorf("unknown endpoint: %d", r.status)
	}
}

func TestOAuthPINFlow(t *testing.T) {
	s := newServer(t)
	o := s.Options()
	cfg := &oauth1.Config{
		ConsumerKey: o.ConsumerKey, ConsumerSecret: o.ConsumerSecret, CallbackURL: "oob",
		Endpoint:   oauth1.Endpoint{RequestTokenURL: s.OAuthURL() + "request_token", AuthorizeURL: s.OAuthURL() + "authorize", AccessTokenURL: s.OAuthURL() + "access_token"},
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	}
	token, secret, err := cfg.RequestToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cfg.AccessToken(token, secret, "0000000"); err == nil {
		t.Error("access token before approval")
	}
	au, _ := cfg.AuthorizationURL(token)
	resp, err := http.Get(au.String())
	if err != nil {
		t.Fatal(err)
	}
	page := read(t, resp)
	pin, ok := s.Approve(token)
	if !ok || !bytes.Contains(page.body, []byte(">"+pin+"<")) {
		t.Fatalf("authorize page %s, pin %q", page.body, pin)
	}
	if _, _, err := cfg.AccessToken(token, "wrong-secret", pin); err == nil {
		t.Error("access token with a wrong request secret")
	}
	at, as, err := cfg.AccessToken(token, secret, pin)
	if err != nil || at != o.AccessToken || as != o.AccessSecret {
		t.Fatalf("access token %q %q %v", at, as, err)
	}
	if _, _, err := cfg.AccessToken(token, secret, pin); err == nil {
		t.Error("a request token was usable twice")
	}
	wrong := *cfg
	wrong.ConsumerSecret = "wrong"
	if _, _, err := wrong.RequestToken(); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong consumer secret: %v", err)
	}
}
