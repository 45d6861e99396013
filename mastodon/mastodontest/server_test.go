package mastodontest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// get sends a GET with the bearer token tok ("" for none) and decodes
// the JSON answer into out (nil: none).
func get(t *testing.T, srv *Server, tok, path string, out any) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, b)
		}
	}
	return resp
}

func mustPost(t *testing.T, srv *Server, n NewStatus) Status {
	t.Helper()
	st, err := srv.Post(n)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The keys and JSON kinds of Status and Account as the documentation
// (docs.joinmastodon.org/entities/Status, /Account) lists them; "null"
// means the kind of a nullable attribute that is null here.
var (
	statusKinds = map[string]string{
		"id": "string", "created_at": "string", "in_reply_to_id": "null", "in_reply_to_account_id": "null",
		"sensitive": "bool", "spoiler_text": "string", "visibility": "string", "language": "string",
		"uri": "string", "url": "string", "replies_count": "number", "reblogs_count": "number",
		"favourites_count": "number", "edited_at": "null", "content": "string", "reblog": "null",
		"application": "object", "account": "object", "media_attachments": "array", "mentions": "array",
		"tags": "array", "emojis": "array", "card": "null", "poll": "null", "favourited": "bool",
		"reblogged": "bool", "muted": "bool", "bookmarked": "bool", "pinned": "bool", "filtered": "array",
	}
	accountKinds = map[string]string{
		"id": "string", "username": "string", "acct": "string", "display_name": "string", "locked": "bool",
		"bot": "bool", "discoverable": "bool", "group": "bool", "created_at": "string", "note": "string",
		"url": "string", "avatar": "string", "avatar_static": "string", "header": "string",
		"header_static": "string", "followers_count": "number", "following_count": "number",
		"statuses_count": "number", "last_status_at": "string", "emojis": "array", "fields": "array",
	}
)

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "bool"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

func checkKinds(t *testing.T, what string, got map[string]any, want map[string]string) {
	t.Helper()
	for k, w := range want {
		v, ok := got[k]
		if !ok {
			t.Errorf("%s lacks %q", what, k)
			continue
		}
		if kind(v) != w {
			t.Errorf("%s %q is %s (%v), want %s", what, k, kind(v), v, w)
		}
	}
}

func TestStatusShapeAsDocumented(t *testing.T) {
	srv := NewServer(Options{})
	defer srv.Close()
	mustPost(t, srv, NewStatus{Text: "hello #world"})
	var page []map[string]any
	resp := get(t, srv, DefaultToken, "/api/v1/accounts/"+srv.Account().ID+"/statuses", &page)
	if resp.StatusCode != 200 || len(page) != 1 {
		t.Fatalf("status %d, %d statuses", resp.StatusCode, len(page))
	}
	checkKinds(t, "status", page[0], statusKinds)
	checkKinds(t, "account", page[0]["account"].(map[string]any), accountKinds)
	if _, err := time.Parse(time.RFC3339Nano, page[0]["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}
	tags := page[0]["tags"].([]any)
	if len(tags) != 1 || tags[0].(map[string]any)["name"] != "world" {
		t.Errorf("tags = %v", tags)
	}
	var me map[string]any
	get(t, srv, DefaultToken, "/api/v1/accounts/verify_credentials", &me)
	checkKinds(t, "credential account", me, accountKinds)
	if _, ok := me["source"].(map[string]any); !ok {
		t.Errorf("verify_credentials lacks source: %v", me)
	}
}

func TestBoostAndReplyShapes(t *testing.T) {
	srv := NewServer(Options{})
	defer srv.Close()
	other := srv.AddAccount("bob")
	orig := mustPost(t, srv, NewStatus{Account: other.ID, Text: "original"})
	boost := mustPost(t, srv, NewStatus{ReblogOf: orig.ID})
	reply := mustPost(t, srv, NewStatus{Text: "@bob yes", InReplyToID: orig.ID})
	var page []map[string]any
	get(t, srv, DefaultToken, "/api/v1/accounts/"+srv.Account().ID+"/statuses", &page)
	if len(page) != 2 || page[0]["id"] != reply.ID || page[1]["id"] != boost.ID {
		t.Fatalf("page = %v", page)
	}
	if page[0]["in_reply_to_account_id"] != other.ID || page[0]["in_reply_to_id"] != orig.ID {
		t.Errorf("reply refs = %v, %v", page[0]["in_reply_to_id"], page[0]["in_reply_to_account_id"])
	}
	rb, ok := page[1]["reblog"].(map[string]any)
	if !ok || rb["id"] != orig.ID || rb["account"].(map[string]any)["id"] != other.ID {
		t.Fatalf("reblog = %v", page[1]["reblog"])
	}
	if page[1]["content"] != "" || page[1]["url"] != nil {
		t.Errorf("boost wrapper content %q url %v, want empty and null", page[1]["content"], page[1]["url"])
	}
	checkKinds(t, "reblogged status", rb, map[string]string{"id": "string", "content": "string", "account": "object"})
	mentions := page[0]["mentions"].([]any)
	if len(mentions) != 1 || mentions[0].(map[string]any)["id"] != other.ID {
		t.Errorf("mentions = %v", mentions)
	}
}

func TestContentMarkup(t *testing.T) {
	srv := NewServer(Options{})
	defer srv.Close()
	srv.AddAccount("bob")
	st := mustPost(t, srv, NewStatus{Text: "a & <b> \"q\"\nsee https://example.com/a/very/long/path/that/goes/on/and/on?x=1&y=2.\n\n#Tag @bob"})
	for _, want := range []string{
		"<p>a &amp; &lt;b&gt; &#34;q&#34;<br />see ",
		`<a href="https://example.com/a/very/long/path/that/goes/on/and/on?x=1&amp;y=2" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">https://</span><span class="ellipsis">example.com/a/very/long/path/t</span><span class="invisible">hat/goes/on/and/on?x=1&amp;y=2</span></a>.</p>`,
		`<p><a href="` + srv.URL() + `/tags/tag" class="mention hashtag" rel="tag">#<span>Tag</span></a> `,
		`<span class="h-card" translate="no"><a href="` + srv.URL() + `/@bob" class="u-url mention">@<span>bob</span></a></span></p>`,
	} {
		if !strings.Contains(st.Content, want) {
			t.Errorf("content lacks %s\ncontent: %s", want, st.Content)
		}
	}
}

func TestAuthErrorsLikeMastodon(t *testing.T) {
	srv := NewServer(Options{})
	defer srv.Close()
	if err := srv.AddToken("readonly", srv.Account().ID, []string{"read:accounts"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, tok, path string
		status          int
	}{
		{"no token", "", "/api/v1/accounts/verify_credentials", 401},
		{"wrong token", "nope", "/api/v1/accounts/verify_credentials", 401},
		{"wrong token on the stream", "nope", "/api/v1/streaming/user", 401},
		{"missing scope", "readonly", "/api/v1/accounts/" + srv.Account().ID + "/statuses", 403},
		{"unknown account", DefaultToken, "/api/v1/accounts/1/statuses", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body map[string]string
			resp := get(t, srv, tc.tok, tc.path, &body)
			if resp.StatusCode != tc.status || body["error"] == "" {
				t.Errorf("status %d body %v, want %d with an error", resp.StatusCode, body, tc.status)
			}
		})
	}
}

func TestPagingLikeMastodon(t *testing.T) {
	srv := NewServer(Options{})
	defer srv.Close()
	var ids []string
	for i := range 5 {
		ids = append(ids, mustPost(t, srv, NewStatus{Text: "post " + string(rune('a'+i))}).ID)
	}
	path := "/api/v1/accounts/" + srv.Account().ID + "/statuses?limit=2&"
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"min_id=" + ids[0], []string{ids[2], ids[1]}}, // right after, newest first
		{"min_id=0", []string{ids[1], ids[0]}},
		{"since_id=" + ids[0], []string{ids[4], ids[3]}}, // the newest: a gap
		{"max_id=" + ids[4], []string{ids[3], ids[2]}},
		{"min_id=" + ids[4], nil},
	} {
		var page []Status
		resp := get(t, srv, DefaultToken, path+tc.query, &page)
		var got []string
		for _, st := range page {
			got = append(got, st.ID)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: got %v, want %v", tc.query, got, tc.want)
		}
		if len(page) > 0 && !strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
			t.Errorf("%s: Link = %q", tc.query, resp.Header.Get("Link"))
		}
	}
	for i := 1; i < len(ids); i++ {
		if len(ids[i]) < 17 || ids[i] <= ids[i-1] {
			t.Errorf("ids %s, %s: not growing snowflakes", ids[i-1], ids[i])
		}
	}
}

func TestPostIdempotencyKey(t *testing.T) {
	srv := NewServer(Options{})
	defer srv.Close()
	post := func(key string, form url.Values) (int, Status) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/api/v1/statuses", strings.NewReader(form.Encode()))
		req.Header.Set("Authorization", "Bearer "+DefaultToken)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st Status
		json.NewDecoder(resp.Body).Decode(&st)
		return resp.StatusCode, st
	}
	c1, a := post("k1", url.Values{"status": {"once"}})
	c2, b := post("k1", url.Values{"status": {"once"}})
	c3, c := post("k2", url.Values{"status": {"once"}})
	if c1 != 200 || c2 != 200 || c3 != 200 || a.ID != b.ID || a.ID == c.ID {
		t.Errorf("codes %d %d %d ids %s %s %s: the same key must give the same status", c1, c2, c3, a.ID, b.ID, c.ID)
	}
	if n := len(srv.Statuses()); n != 2 {
		t.Errorf("%d statuses, want 2", n)
	}
	if code, _ := post("", url.Values{"status": {" "}}); code != 422 {
		t.Errorf("blank status: %d, want 422", code)
	}
}

func TestRateLimitHeaders(t *testing.T) {
	srv := NewServer(Options{RateLimit: 2})
	defer srv.Close()
	var codes []int
	var last *http.Response
	for range 3 {
		last = get(t, srv, DefaultToken, "/api/v1/accounts/verify_credentials", nil)
		codes = append(codes, last.StatusCode)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Errorf("codes = %v", codes)
	}
	reset, err := time.Parse(time.RFC3339Nano, last.Header.Get("X-RateLimit-Reset"))
	if err != nil || last.Header.Get("X-RateLimit-Remaining") != "0" || last.Header.Get("X-RateLimit-Limit") != "2" || !reset.After(time.Now()) {
		t.Errorf("headers = %v (%v)", last.Header, err)
	}
}
