package twittertest_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dghubble/oauth1"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// userClient signs with the server's consumer credentials and u's access
// token; secret, when not "", replaces u's token secret.
func userClient(s *twittertest.Server, u twittertest.User, secret string) *http.Client {
	if secret == "" {
		secret = u.AccessSecret
	}
	o := s.Options()
	c := oauth1.NewConfig(o.ConsumerKey, o.ConsumerSecret).Client(context.Background(), oauth1.NewToken(u.AccessToken, secret))
	c.Timeout = 10 * time.Second
	return c
}

// lastRequest is the last request the server logged.
func lastRequest(t *testing.T, s *twittertest.Server) twittertest.Request {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request logged")
	}
	return reqs[len(reqs)-1]
}

func id64(n int64) string { return strconv.FormatInt(n, 10) }

func TestAddUser(t *testing.T) {
	s := newServer(t)
	alice := s.AddUser(twittertest.User{ID: 1001, ScreenName: "alice", AccessToken: "1001-alice-token", AccessSecret: "alice-secret"})
	if alice != (twittertest.User{ID: 1001, ScreenName: "alice", AccessToken: "1001-alice-token", AccessSecret: "alice-secret"}) {
		t.Errorf("given fields changed: %+v", alice)
	}
	gen := s.AddUser(twittertest.User{})
	gen2 := s.AddUser(twittertest.User{})
	if gen.ID <= 0 || gen2.ID == gen.ID || gen.ID == alice.ID || gen.ID == twittertest.DefaultUserID {
		t.Errorf("generated ids %d, %d", gen.ID, gen2.ID)
	}
	if gen.ScreenName != "user"+id64(gen.ID) {
		t.Errorf("generated screen name %q", gen.ScreenName)
	}
	if !strings.HasPrefix(gen.AccessToken, id64(gen.ID)+"-") || len(gen.AccessToken) < 20 || len(gen.AccessSecret) < 20 {
		t.Errorf("generated token %q, secret of %d characters", gen.AccessToken, len(gen.AccessSecret))
	}
	if gen.AccessToken == gen2.AccessToken || gen.AccessSecret == gen2.AccessSecret {
		t.Error("two generated users share a token or a secret")
	}
	var ids []int64
	for _, u := range s.Users() {
		ids = append(ids, u.ID)
	}
	if want := []int64{twittertest.DefaultUserID, alice.ID, gen.ID, gen2.ID}; !slices.Equal(ids, want) {
		t.Errorf("Users() = %v, want %v", ids, want)
	}
	if u := s.Users()[0]; u.AccessToken != twittertest.DefaultAccessToken || u.ScreenName != twittertest.DefaultScreenName {
		t.Errorf("default user %+v", u)
	}

	for _, tt := range []struct {
		name, want string
		u          twittertest.User
	}{
		{"negative id", "negative", twittertest.User{ID: -1}},
		{"taken id", "already registered", twittertest.User{ID: twittertest.DefaultUserID}},
		{"taken screen name in another case", "already registered", twittertest.User{ScreenName: strings.ToUpper(twittertest.DefaultScreenName)}},
		{"taken token", "access token already belongs", twittertest.User{AccessToken: alice.AccessToken}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, tt.want) || strings.Contains(msg, alice.AccessToken) {
					t.Errorf("panic %q, want one saying %q and naming no token", msg, tt.want)
				}
			}()
			s.AddUser(tt.u)
		})
	}
	if n := len(s.Users()); n != 4 {
		t.Errorf("%d users after refused AddUser calls, want 4", n)
	}
}

func TestUsersAuth(t *testing.T) {
	s := newServer(t)
	alice := s.AddUser(twittertest.User{ID: 1001, ScreenName: "alice"})
	bob := s.AddUser(twittertest.User{ID: 1002, ScreenName: "bob"})
	def := s.Users()[0]
	for _, u := range []twittertest.User{def, alice, bob} {
		c := userClient(s, u, "")
		r := get(t, c, s.URL(), "account/verify_credentials.json", nil)
		var me obj
		decode(t, r.body, &me)
		if r.status != 200 || me["id_str"] != id64(u.ID) || me["screen_name"] != u.ScreenName {
			t.Errorf("%s: verify_credentials %d %s", u.ScreenName, r.status, r.body)
		}
		if req := lastRequest(t, s); req.UserID != u.ID || !req.OAuthVerified {
			t.Errorf("%s: logged as user %d, verified %v", u.ScreenName, req.UserID, req.OAuthVerified)
		}
		r = get(t, c, s.V2URL(), "users/me", nil)
		want := `{"data":{"id":"` + id64(u.ID) + `","name":"` + u.ScreenName + `","username":"` + u.ScreenName + `"}}`
		if r.status != 200 || string(r.body) != want {
			t.Errorf("%s: users/me %d %s, want %s", u.ScreenName, r.status, r.body, want)
		}
	}

	tests := []struct {
		name     string
		c        *http.Client
		v1, v2   int
		v1Body   string
		loggedAs int64
	}{
		{name: "bob's token with alice's secret", c: userClient(s, bob, alice.AccessSecret), v1: 401, v2: 401, v1Body: `"code":32`, loggedAs: bob.ID},
		{name: "alice's token with the default user's secret", c: userClient(s, alice, twittertest.DefaultAccessSecret), v1: 401, v2: 401, v1Body: `"code":32`, loggedAs: alice.ID},
		{name: "unknown token", c: userClient(s, twittertest.User{AccessToken: "1003-unknown"}, "x"), v1: 401, v2: 401, v1Body: `"code":89`},
		{name: "another app's consumer key", c: client(s, func(o *twittertest.Options) {
			o.ConsumerKey, o.AccessToken, o.AccessSecret = "other-app", alice.AccessToken, alice.AccessSecret
		}), v1: 401, v2: 401, v1Body: `"code":32`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, tt.c, s.URL(), "account/verify_credentials.json", nil)
			if r.status != tt.v1 || !bytes.Contains(r.body, []byte(tt.v1Body)) {
				t.Errorf("v1.1: %d %s, want %d %s", r.status, r.body, tt.v1, tt.v1Body)
			}
			if req := lastRequest(t, s); req.UserID != tt.loggedAs || req.OAuthVerified {
				t.Errorf("v1.1 logged as user %d (verified %v), want %d", req.UserID, req.OAuthVerified, tt.loggedAs)
			}
			r = get(t, tt.c, s.V2URL(), "users/me", nil)
			if r.status != tt.v2 || r.header.Get("Content-Type") != "application/problem+json" || !bytes.Contains(r.body, []byte(`"title":"Unauthorized"`)) {
				t.Errorf("v2: %d %s", r.status, r.body)
			}
		})
	}
}

func TestUsersTimelines(t *testing.T) {
	s := newServer(t)
	alice := s.AddUser(twittertest.User{ID: 1001, ScreenName: "alice"})
	bob := s.AddUser(twittertest.User{ID: 1002, ScreenName: "bob"})
	mine := s.AddTweet(twittertest.Tweet{Text: "the default user's"})
	b1 := s.AddTweet(twittertest.Tweet{Text: "bob's own", UserID: bob.ID})
	a1 := s.AddTweet(twittertest.Tweet{Text: "alice's own", UserID: alice.ID})
	aRT := s.AddTweet(twittertest.Tweet{UserID: alice.ID, RetweetOf: &twittertest.Tweet{ID: b1.ID, Text: b1.Text, UserID: bob.ID}})
	aRe := s.AddTweet(twittertest.Tweet{Text: "@bob yes", UserID: alice.ID, InReplyToStatusID: b1.ID, InReplyToUserID: bob.ID, InReplyToScreenName: "bob"})
	if a1.ScreenName != "alice" || aRT.RetweetOf.ScreenName != "bob" {
		t.Fatalf("stored authors %q, %q: want the registered screen names", a1.ScreenName, aRT.RetweetOf.ScreenName)
	}
	ac, bc, dc := userClient(s, alice, ""), userClient(s, bob, ""), client(s, nil)
	ids := func(tweets ...twittertest.Tweet) []string {
		var out []string
		for _, t := range tweets {
			out = append(out, id64(t.ID))
		}
		return out
	}

	v1 := []struct {
		name string
		c    *http.Client
		q    url.Values
		want []string
	}{
		{"alice's own", ac, nil, ids(aRe, aRT, a1)},
		{"bob's own", bc, nil, ids(b1)},
		{"the default user's own", dc, nil, ids(mine)},
		{"bob's by user_id, as the default user", dc, url.Values{"user_id": {id64(bob.ID)}}, ids(b1)},
		{"alice's by screen_name, as bob", bc, url.Values{"screen_name": {"ALICE"}}, ids(aRe, aRT, a1)},
		{"alice's without retweets and replies", ac, url.Values{"include_rts": {"false"}, "exclude_replies": {"true"}}, ids(a1)},
	}
	for _, tt := range v1 {
		t.Run("v1.1 "+tt.name, func(t *testing.T) {
			if got := timelineIDs(t, get(t, tt.c, s.URL(), "statuses/user_timeline.json", tt.q)); !slices.Equal(got, tt.want) {
				t.Errorf("ids %v, want %v", got, tt.want)
			}
		})
	}
	r := get(t, ac, s.URL(), "statuses/user_timeline.json", nil)
	var tweets []obj
	decode(t, r.body, &tweets)
	if u := tweets[1]["user"].(obj); u["screen_name"] != "alice" || u["statuses_count"] != jsonNum(3) {
		t.Errorf("retweeter %v", u)
	}
	if o := tweets[1]["retweeted_status"].(obj); o["id_str"] != id64(b1.ID) || o["user"].(obj)["screen_name"] != "bob" {
		t.Errorf("retweeted_status %v", o)
	}

	v2 := []struct {
		name string
		c    *http.Client
		user int64
		q    url.Values
		want []string
	}{
		{"alice's own", ac, alice.ID, nil, ids(aRe, aRT, a1)},
		{"alice's, as bob", bc, alice.ID, nil, ids(aRe, aRT, a1)},
		{"bob's own", bc, bob.ID, nil, ids(b1)},
		{"the default user's, as alice", ac, twittertest.DefaultUserID, nil, ids(mine)},
		{"alice's without retweets and replies", ac, alice.ID, url.Values{"exclude": {"retweets,replies"}}, ids(a1)},
	}
	for _, tt := range v2 {
		t.Run("v2 "+tt.name, func(t *testing.T) {
			q := url.Values{"tweet.fields": {"author_id"}}
			for k, v := range tt.q {
				q[k] = v
			}
			r := get(t, tt.c, s.V2URL(), "users/"+id64(tt.user)+"/tweets", q)
			var body struct {
				Data []obj `json:"data"`
			}
			decode(t, r.body, &body)
			var got []string
			for _, d := range body.Data {
				got = append(got, d["id"].(string))
				if d["author_id"] != id64(tt.user) {
					t.Errorf("post %v by %v", d["id"], d["author_id"])
				}
			}
			if r.status != 200 || !slices.Equal(got, tt.want) {
				t.Errorf("%d: ids %v, want %v", r.status, got, tt.want)
			}
		})
	}

	// Posting: each user posts as itself; duplicates are per user.
	if r := post(t, ac, s, "statuses/update.json", url.Values{"status": {"same words"}}); r.status != 200 || !bytes.Contains(r.body, []byte(`"screen_name":"alice"`)) {
		t.Fatalf("alice posts: %d %s", r.status, r.body)
	}
	if r := post(t, bc, s, "statuses/update.json", url.Values{"status": {"same words"}}); r.status != 200 {
		t.Errorf("bob posts alice's words: %d %s", r.status, r.body)
	}
	if r := post(t, ac, s, "statuses/update.json", url.Values{"status": {"same words"}}); r.status != 403 || !bytes.Contains(r.body, []byte(`"code":187`)) {
		t.Errorf("alice posts her words again: %d %s", r.status, r.body)
	}
	resp, err := bc.Post(s.V2URL()+"tweets", "application/json", strings.NewReader(`{"text":"the default user's"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := read(t, resp); r.status != 201 {
		t.Errorf("bob posts the default user's words through v2: %d %s", r.status, r.body)
	}
	byUser := map[int64][]string{}
	for _, tw := range s.Tweets() {
		if tw.RetweetOf == nil {
			byUser[tw.UserID] = append(byUser[tw.UserID], tw.ScreenName+": "+tw.Text)
		}
	}
	if got, want := byUser[bob.ID], []string{"bob: bob's own", "bob: same words", "bob: the default user's"}; !slices.Equal(got, want) {
		t.Errorf("bob's tweets %q, want %q", got, want)
	}
	if got, want := byUser[twittertest.DefaultUserID], []string{"r2sync_demo: the default user's"}; !slices.Equal(got, want) {
		t.Errorf("the default user's tweets %q, want %q", got, want)
	}
	if got := timelineIDs(t, get(t, dc, s.URL(), "statuses/user_timeline.json", nil)); !slices.Equal(got, ids(mine)) {
		t.Errorf("the default user's timeline after the others posted: %v", got)
	}
}

func TestRevokeToken(t *testing.T) {
	s := newServer(t)
	alice := s.AddUser(twittertest.User{ScreenName: "alice"})
	bob := s.AddUser(twittertest.User{ScreenName: "bob"})
	ac, bc := userClient(s, alice, ""), userClient(s, bob, "")
	if !s.RevokeToken(alice.ID) {
		t.Fatal("RevokeToken(alice) = false")
	}
	r := get(t, ac, s.URL(), "statuses/user_timeline.json", nil)
	if r.status != 401 || string(r.body) != `{"errors":[{"message":"Invalid or expired token.","code":89}]}` {
		t.Errorf("v1.1 revoked: %d %s", r.status, r.body)
	}
	if req := lastRequest(t, s); req.UserID != alice.ID || req.OAuthVerified {
		t.Errorf("revoked request logged as user %d, verified %v", req.UserID, req.OAuthVerified)
	}
	r = get(t, ac, s.V2URL(), "users/"+id64(alice.ID)+"/tweets", nil)
	if r.status != 401 || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("v2 revoked: %d %s", r.status, r.body)
	}
	for name, c := range map[string]*http.Client{"bob": bc, "the default user": client(s, nil)} {
		if r := get(t, c, s.URL(), "statuses/user_timeline.json", nil); r.status != 200 {
			t.Errorf("%s while alice's token is revoked: %d %s", name, r.status, r.body)
		}
	}
	if !s.RestoreToken(alice.ID) {
		t.Fatal("RestoreToken(alice) = false")
	}
	if r := get(t, ac, s.URL(), "statuses/user_timeline.json", nil); r.status != 200 {
		t.Errorf("v1.1 restored: %d %s", r.status, r.body)
	}
	if r := get(t, ac, s.V2URL(), "users/me", nil); r.status != 200 {
		t.Errorf("v2 restored: %d %s", r.status, r.body)
	}

	if !s.RevokeToken(twittertest.DefaultUserID) {
		t.Fatal("RevokeToken(default user) = false")
	}
	if r := get(t, client(s, nil), s.URL(), "account/verify_credentials.json", nil); r.status != 401 || !bytes.Contains(r.body, []byte(`"code":89`)) {
		t.Errorf("default user revoked: %d %s", r.status, r.body)
	}
	if s.RevokeToken(4242) || s.RestoreToken(4242) {
		t.Error("an unknown user's token was revoked or restored")
	}
}

// TestDefaultUserUnaffectedByOthers: what the default user gets is the
// same bytes whether or not the server has other users with tweets.
func TestDefaultUserUnaffectedByOthers(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fill := func(s *twittertest.Server) {
		s.AddTweet(twittertest.Tweet{ID: 1_700_000_000_000_000_100, Text: "mine https://e.com/x", URLs: []twittertest.URL{{Short: "https://t.co/aaaaaaaaaa", Expanded: "https://e.com/x"}}, CreatedAt: at})
		s.AddTweet(twittertest.Tweet{ID: 1_700_000_000_000_000_102, RetweetOf: &twittertest.Tweet{ID: 1_700_000_000_000_000_101, Text: "elsewhere", UserID: 42, ScreenName: "someone", CreatedAt: at}, CreatedAt: at})
	}
	plain, multi := newServer(t), newServer(t)
	fill(plain)
	fill(multi)
	alice := multi.AddUser(twittertest.User{ID: 1001, ScreenName: "alice"})
	multi.AddTweet(twittertest.Tweet{ID: 1_700_000_000_000_000_103, Text: "alice's", UserID: alice.ID, CreatedAt: at})
	get(t, userClient(multi, alice, ""), multi.URL(), "statuses/user_timeline.json", nil)

	for _, tt := range []struct{ base, path string }{
		{"v1.1", "statuses/user_timeline.json?tweet_mode=extended"},
		{"v1.1", "account/verify_credentials.json"},
		{"v2", "users/me"},
		{"v2", "users/" + id64(twittertest.DefaultUserID) + "/tweets?tweet.fields=author_id,created_at,entities&expansions=author_id"},
	} {
		want := get(t, client(plain, nil), plain.BaseURL(tt.base), tt.path, nil)
		got := get(t, client(multi, nil), multi.BaseURL(tt.base), tt.path, nil)
		if got.status != want.status || !bytes.Equal(got.body, want.body) {
			t.Errorf("%s: with another user %d %s\nalone %d %s", tt.path, got.status, got.body, want.status, want.body)
		}
		for _, h := range []string{"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining"} {
			if got.header.Get(h) != want.header.Get(h) {
				t.Errorf("%s: %s %s, alone %s", tt.path, h, got.header.Get(h), want.header.Get(h))
			}
		}
	}
}
