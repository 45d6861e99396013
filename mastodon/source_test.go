package mastodon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/mastodon/mastodontest"
)

func newSource(t *testing.T, srv *mastodontest.Server, mod func(*Options)) *Source {
	t.Helper()
	opts := Options{Server: srv.URL(), AccessToken: mastodontest.DefaultToken, Timeout: 5 * time.Second}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func post(t *testing.T, srv *mastodontest.Server, n mastodontest.NewStatus) mastodontest.Status {
	t.Helper()
	st, err := srv.Post(n)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSinceMinIDPagingIsGapFreeOldestFirst(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{RateLimit: -1})
	defer srv.Close()
	var ids []string
	for i := range 95 {
		ids = append(ids, post(t, srv, mastodontest.NewStatus{Text: fmt.Sprintf("post %d", i)}).ID)
	}
	s := newSource(t, srv, nil)
	ctx := context.Background()
	posts, err := s.Since(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 95 {
		t.Fatalf("Since(\"\") = %d posts, want 95", len(posts))
	}
	for i, p := range posts {
		if p.ID != ids[i] || p.Cursor != ids[i] || p.Text != fmt.Sprintf("post %d", i) {
			t.Fatalf("post %d = %+v, want id %s", i, p, ids[i])
		}
	}
	posts, err = s.Since(ctx, ids[10])
	if err != nil || len(posts) != 84 || posts[0].ID != ids[11] {
		t.Fatalf("Since(ids[10]) = %d posts, %v", len(posts), err)
	}
	posts, err = s.Since(ctx, ids[94])
	if err != nil || len(posts) != 0 {
		t.Fatalf("Since(newest) = %v, %v", posts, err)
	}
	// Every page request used min_id, never since_id (which skips).
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/statuses") && (r.Query.Get("min_id") == "" || r.Query.Has("since_id")) {
			t.Errorf("request %s?%s: want min_id paging", r.Path, r.Query.Encode())
		}
	}
	newest, err := s.Newest(ctx)
	if err != nil || newest != ids[94] {
		t.Errorf("Newest = %q, %v; want %s", newest, err, ids[94])
	}
	recent, err := s.Recent(ctx, 3)
	if err != nil || len(recent) != 3 || recent[0].ID != ids[92] || recent[2].ID != ids[94] {
		t.Errorf("Recent(3) = %v, %v", recent, err)
	}
}

func TestSinceEmptyAccount(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{})
	defer srv.Close()
	s := newSource(t, srv, nil)
	if c, err := s.Newest(context.Background()); c != "" || err != nil {
		t.Errorf("Newest = %q, %v", c, err)
	}
	if p, err := s.Since(context.Background(), ""); len(p) != 0 || err != nil {
		t.Errorf("Since = %v, %v", p, err)
	}
	if _, err := s.Since(context.Background(), "not-an-id"); err == nil {
		t.Error("Since took a foreign cursor")
	}
}

func TestPostKinds(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{})
	defer srv.Close()
	bob := srv.AddAccount("bob")
	other := post(t, srv, mastodontest.NewStatus{Account: bob.ID, Text: "bob's post #go"})
	plain := post(t, srv, mastodontest.NewStatus{Text: "hello & <world>"})
	link := post(t, srv, mastodontest.NewStatus{Text: "read https://example.com/a/very/long/path/that/goes/on/and/on?x=1&y=2 now"})
	cjk := post(t, srv, mastodontest.NewStatus{Text: "日本語のテキスト😀 https://example.com/ページ/とても/長い/パス/です/ね/本当に"})
	boost := post(t, srv, mastodontest.NewStatus{ReblogOf: other.ID})
	reply := post(t, srv, mastodontest.NewStatus{Text: "@bob indeed", InReplyToID: other.ID})
	thread := post(t, srv, mastodontest.NewStatus{Text: "and more", InReplyToID: plain.ID})
	unlisted := post(t, srv, mastodontest.NewStatus{Text: "quiet", Visibility: "unlisted"})
	private := post(t, srv, mastodontest.NewStatus{Text: "followers only", Visibility: "private"})
	direct := post(t, srv, mastodontest.NewStatus{Text: "@bob secret", Visibility: "direct"})
	cw := post(t, srv, mastodontest.NewStatus{Text: "spoilers here", SpoilerText: "film ending"})
	tagged := post(t, srv, mastodontest.NewStatus{Text: "#Go and #rust"})

	type want struct {
		text          string
		reply, repost bool
		skip          string
	}
	cases := map[string]want{
		plain.ID:  {text: "hello & <world>"},
		link.ID:   {text: "read https://example.com/a/very/long/path/that/goes/on/and/on?x=1&y=2 now"},
		cjk.ID:    {text: "日本語のテキスト😀 https://example.com/ページ/とても/長い/パス/です/ね/本当に"},
		boost.ID:  {text: "RT @bob: bob's post #go", repost: true},
		reply.ID:  {text: "@bob indeed", reply: true},
		thread.ID: {text: "and more"},
		tagged.ID: {text: "#Go and #rust"},
		// Skipped with the reason, without their text.
		unlisted.ID: {skip: "visibility"},
		private.ID:  {skip: "visibility"},
		direct.ID:   {skip: "visibility"},
		cw.ID:       {skip: "content_warning"},
	}
	s := newSource(t, srv, nil)
	posts, err := s.Since(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != len(cases) {
		t.Fatalf("%d posts, want %d (bob's own post must not be one)", len(posts), len(cases))
	}
	for _, p := range posts {
		w, ok := cases[p.ID]
		if !ok {
			t.Errorf("unexpected post %+v", p)
			continue
		}
		if p.Text != w.text || p.Reply != w.reply || p.Repost != w.repost || p.Skip != w.skip {
			t.Errorf("post %s = text %q reply %v repost %v skip %q; want %+v", p.ID, p.Text, p.Reply, p.Repost, p.Skip, w)
		}
		if p.Author != mastodontest.DefaultUsername || p.URL == "" || p.CreatedAt.IsZero() {
			t.Errorf("post %s: author %q url %q time %v", p.ID, p.Author, p.URL, p.CreatedAt)
		}
		if p.Skip != "" && (p.Text != "" || p.Visibility == "") {
			t.Errorf("skipped post %s carries its text %q or lost its visibility", p.ID, p.Text)
		}
	}
	var tags []string
	for _, p := range posts {
		if p.ID == tagged.ID {
			tags = p.Hashtags
		}
	}
	if strings.Join(tags, ",") != "go,rust" {
		t.Errorf("hashtags = %v", tags)
	}

	// The settings: unlisted allowed, warnings shown.
	s = newSource(t, srv, func(o *Options) { o.Visibility = []string{"public", "unlisted"}; o.ContentWarning = CWSpoiler })
	byID := map[string]daemon.Post{}
	posts, _ = s.Since(context.Background(), "")
	for _, p := range posts {
		byID[p.ID] = p
	}
	if p := byID[unlisted.ID]; p.Skip != "" || p.Text != "quiet" {
		t.Errorf("unlisted allowed: %+v", p)
	}
	if p := byID[private.ID]; p.Skip != "visibility" {
		t.Errorf("private with unlisted allowed: %+v", p)
	}
	if p := byID[cw.ID]; p.Skip != "" || p.Text != "film ending" {
		t.Errorf("spoiler mode: %+v", p)
	}
	s = newSource(t, srv, func(o *Options) { o.ContentWarning = CWFull })
	posts, _ = s.Since(context.Background(), plain.ID)
	for _, p := range posts {
		if p.ID == cw.ID && p.Text != "film ending\n\nspoilers here" {
			t.Errorf("full mode: %q", p.Text)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no scheme", Options{Server: "mastodon.social", AccessToken: "x"}, "not an http(s) URL"},
		{"no token", Options{Server: "https://m.example"}, "access token is empty"},
		{"private", Options{Server: "https://m.example", AccessToken: "x", Visibility: []string{"private"}}, `visibility "private"`},
		{"direct", Options{Server: "https://m.example", AccessToken: "x", Visibility: []string{"public", "direct"}}, `visibility "direct"`},
		{"cw", Options{Server: "https://m.example", AccessToken: "x", ContentWarning: "hide"}, `content_warning "hide"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestVerifyAndErrors(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{})
	defer srv.Close()
	a, err := newSource(t, srv, nil).Verify(context.Background())
	if err != nil || a.ID != srv.Account().ID || a.Handle != mastodontest.DefaultUsername {
		t.Fatalf("Verify = %+v, %v", a, err)
	}
	bad := newSource(t, srv, func(o *Options) { o.AccessToken = "secret-wrong-token" })
	_, err = bad.Verify(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || !apiErr.Permanent() || apiErr.Detail != "The access token is invalid" {
		t.Fatalf("Verify with a wrong token = %v", err)
	}
	if strings.Contains(err.Error(), "secret-wrong-token") {
		t.Errorf("the error shows the token: %v", err)
	}
	if _, err := bad.Since(context.Background(), ""); !errors.As(err, &apiErr) {
		t.Errorf("Since with a wrong token = %v", err)
	}
}

func TestPostStatus(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{})
	defer srv.Close()
	s := newSource(t, srv, nil)
	p, err := s.Post(context.Background(), "posted by r2sync https://example.com/x")
	if err != nil {
		t.Fatal(err)
	}
	sts := srv.Statuses()
	if len(sts) != 1 || sts[0].ID != p.ID || p.Cursor != p.ID || p.Text != "posted by r2sync https://example.com/x" {
		t.Fatalf("Post = %+v; server has %v", p, sts)
	}
	var keys []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost {
			keys = append(keys, r.IdempotencyKey)
			if r.Form.Get("visibility") != "public" {
				t.Errorf("visibility %q", r.Form.Get("visibility"))
			}
		}
	}
	if len(keys) != 1 || len(keys[0]) < 16 {
		t.Errorf("idempotency keys = %q", keys)
	}
	if s.Usage().PostsCreated != 1 {
		t.Errorf("usage = %+v", s.Usage())
	}
	if _, err := s.Post(context.Background(), " "); err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("blank post: %v", err)
	}
}

// A lost answer to the POST is resent once with the same key: the server
// keeps one status.
func TestPostResendsWithSameKey(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{})
	defer srv.Close()
	s := newSource(t, srv, func(o *Options) {
		dropped := false
		o.Transport = rtFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err == nil && r.Method == http.MethodPost && !dropped {
				dropped = true
				resp.Body.Close()
				return nil, errors.New("connection reset by peer")
			}
			return resp, err
		})
	})
	if _, err := s.Post(context.Background(), "once"); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost {
			keys = append(keys, r.IdempotencyKey)
		}
	}
	if len(keys) != 2 || keys[0] != keys[1] {
		t.Errorf("keys = %q, want the same key twice", keys)
	}
	if n := len(srv.Statuses()); n != 1 {
		t.Errorf("%d statuses, want 1", n)
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A hostile or broken server: statuses of another account in the user's
// own list are dropped, a huge body is cut off, a bad id fails.
func TestHostileServer(t *testing.T) {
	const me = `{"id":"1","username":"me","acct":"me"}`
	var body string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "verify_credentials") {
			fmt.Fprint(w, me)
			return
		}
		if body == "huge" {
			w.Write([]byte("["))
			chunk := []byte(strings.Repeat(`{"id":"5","account":{"id":"1"}},`, 1000))
			for range 400 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		}
		fmt.Fprint(w, body)
	})
	ts := httptest.NewServer(h)
	defer ts.Close()
	s, err := New(Options{Server: ts.URL, AccessToken: "t", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	body = `[{"id":"3","account":{"id":"2","acct":"other"},"visibility":"public","content":"<p>not mine</p>"},{"id":"2","account":{"id":"1","acct":"me"},"visibility":"public","content":"<p>mine</p>"}]`
	posts, err := s.Since(context.Background(), "")
	if err != nil || len(posts) != 1 || posts[0].Text != "mine" {
		t.Fatalf("Since = %+v, %v", posts, err)
	}
	if s.EventCounts()["foreign"] != 1 {
		t.Errorf("foreign count = %v", s.EventCounts())
	}
	body = `[{"id":"x9","account":{"id":"1"}}]`
	if _, err := s.Since(context.Background(), ""); err == nil {
		t.Error("a status with a broken id was taken")
	}
	body = "huge"
	if _, err := s.Since(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("huge body: %v", err)
	}
}

// A page of skipped posts still moves the paging on: the public post
// after 41 private ones is found.
func TestSincePagesPastExcludedPosts(t *testing.T) {
	srv := mastodontest.NewServer(mastodontest.Options{RateLimit: -1})
	defer srv.Close()
	for range 41 {
		post(t, srv, mastodontest.NewStatus{Text: "private", Visibility: "private"})
	}
	pub := post(t, srv, mastodontest.NewStatus{Text: "public"})
	posts, err := newSource(t, srv, nil).Since(context.Background(), "")
	if err != nil || len(posts) != 42 || posts[41].ID != pub.ID || posts[41].Skip != "" || posts[0].Skip != "visibility" {
		t.Fatalf("Since = %d posts, %v; want 41 skipped, then %s", len(posts), err, pub.ID)
	}
}
