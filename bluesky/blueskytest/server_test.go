package blueskytest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The shapes below are those of the AT Protocol lexicons and docs.bsky.app
// examples, checked on raw JSON rather than through r2sync's client.

var (
	atURI  = regexp.MustCompile(`^at://did:plc:[a-z2-7]{24}/app\.bsky\.feed\.(post|repost)/[2-7a-j][2-7a-z]{12}$`)
	isoUTC = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
)

func get(t *testing.T, u string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: body %q is not JSON", u, b)
	}
	return resp.StatusCode, m
}

func post(t *testing.T, u, bearer string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func wantXRPCError(t *testing.T, status int, m map[string]any, wantStatus int, wantName string) {
	t.Helper()
	if status != wantStatus || m["error"] != wantName {
		t.Errorf("got %d %v, want %d error %q", status, m, wantStatus, wantName)
	}
	if _, ok := m["message"].(string); !ok {
		t.Errorf("XRPC error without a message: %v", m)
	}
}

func TestIdentityShapes(t *testing.T) {
	s := New()
	defer s.Close()
	did := s.AddAccount("alice.test", "pw")
	st, m := get(t, s.URL+"/xrpc/com.atproto.identity.resolveHandle?handle=alice.test")
	if st != 200 || m["did"] != did {
		t.Errorf("resolveHandle: %d %v", st, m)
	}
	st, m = get(t, s.URL+"/xrpc/com.atproto.identity.resolveHandle?handle=nobody.test")
	wantXRPCError(t, st, m, 400, "InvalidRequest")
	st, m = get(t, s.URL+"/xrpc/com.atproto.identity.resolveHandle")
	wantXRPCError(t, st, m, 400, "InvalidRequest")
	st, m = get(t, s.URL+"/xrpc/app.bsky.unknown.method")
	wantXRPCError(t, st, m, 501, "MethodNotImplemented")

	st, m = get(t, s.PLCURL+"/"+did)
	if st != 200 || m["id"] != did {
		t.Fatalf("plc: %d %v", st, m)
	}
	aka, _ := m["alsoKnownAs"].([]any)
	svc, _ := m["service"].([]any)
	if len(aka) != 1 || aka[0] != "at://alice.test" || len(svc) != 1 {
		t.Fatalf("plc doc: %v", m)
	}
	pds := svc[0].(map[string]any)
	if pds["id"] != "#atproto_pds" || pds["type"] != "AtprotoPersonalDataServer" || pds["serviceEndpoint"] != s.URL {
		t.Errorf("pds service: %v", pds)
	}
	if st, _ := get(t, s.PLCURL+"/did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"); st != 404 {
		t.Errorf("unknown did: %d", st)
	}
}

func TestAuthorFeedShapes(t *testing.T) {
	s := New()
	defer s.Close()
	alice := s.AddAccount("alice.test", "pw")
	bob := s.AddAccount("bob.test", "pw2")
	b, _ := s.CreatePost(bob, Post{Text: "bob"})
	first, _ := s.CreatePost(alice, Post{Text: "one"})
	s.CreatePost(alice, Post{Text: "reply", ReplyTo: b.URI})
	rp, _ := s.Repost(alice, b.URI)
	s.Pin(alice, first.URI)

	st, m := get(t, s.URL+"/xrpc/app.bsky.feed.getAuthorFeed?actor=alice.test&limit=2&includePins=true")
	if st != 200 {
		t.Fatalf("%d %v", st, m)
	}
	feed := m["feed"].([]any)
	if len(feed) != 3 {
		t.Fatalf("page of 2 plus the pin has %d items", len(feed))
	}
	pin := feed[0].(map[string]any)
	if pin["reason"].(map[string]any)["$type"] != "app.bsky.feed.defs#reasonPin" {
		t.Errorf("first item is not the pin: %v", pin)
	}
	repost := feed[1].(map[string]any)
	reason := repost["reason"].(map[string]any)
	if reason["$type"] != "app.bsky.feed.defs#reasonRepost" || reason["uri"] != rp.URI || reason["by"].(map[string]any)["did"] != alice || !isoUTC.MatchString(reason["indexedAt"].(string)) {
		t.Errorf("repost reason: %v", reason)
	}
	if repost["post"].(map[string]any)["uri"] != b.URI {
		t.Errorf("repost item's post is not the original: %v", repost["post"])
	}
	reply := feed[2].(map[string]any)
	pv := reply["post"].(map[string]any)
	rec := pv["record"].(map[string]any)
	if !atURI.MatchString(pv["uri"].(string)) || pv["cid"] == "" || rec["$type"] != "app.bsky.feed.post" || rec["text"] != "reply" || !isoUTC.MatchString(rec["createdAt"].(string)) {
		t.Errorf("post view: %v", pv)
	}
	parent := rec["reply"].(map[string]any)["parent"].(map[string]any)
	if parent["uri"] != b.URI || parent["cid"] == "" {
		t.Errorf("reply ref: %v", rec["reply"])
	}
	if reply["reply"] == nil {
		t.Error("a reply item has no reply view")
	}
	cursor, ok := m["cursor"].(string)
	if !ok {
		t.Fatal("no cursor with more items left")
	}
	st, m = get(t, s.URL+"/xrpc/app.bsky.feed.getAuthorFeed?actor="+alice+"&limit=2&cursor="+url.QueryEscape(cursor))
	feed = m["feed"].([]any)
	if st != 200 || len(feed) != 1 || feed[0].(map[string]any)["post"].(map[string]any)["uri"] != first.URI {
		t.Errorf("second page: %d %v", st, m)
	}
	if _, more := m["cursor"]; more {
		t.Error("last page has a cursor")
	}
	st, m = get(t, s.URL+"/xrpc/app.bsky.feed.getAuthorFeed?actor=alice.test&filter=posts_no_replies")
	if len(m["feed"].([]any)) != 2 {
		t.Errorf("posts_no_replies: %v", m)
	}
	for _, q := range []string{"actor=nobody.test", "actor=alice.test&limit=101", "actor=alice.test&limit=0", "actor=alice.test&filter=bogus", ""} {
		st, m = get(t, s.URL+"/xrpc/app.bsky.feed.getAuthorFeed?"+q)
		wantXRPCError(t, st, m, 400, "InvalidRequest")
	}
}

func TestSessionAndCreateRecord(t *testing.T) {
	s := New()
	defer s.Close()
	alice := s.AddAccount("alice.test", "app-pass")
	bob := s.AddAccount("bob.test", "bob-pass")
	st, m := post(t, s.URL+"/xrpc/com.atproto.server.createSession", "", map[string]string{"identifier": "alice.test", "password": "wrong"})
	wantXRPCError(t, st, m, 401, "AuthenticationRequired")
	st, m = post(t, s.URL+"/xrpc/com.atproto.server.createSession", "", map[string]string{"identifier": alice, "password": "app-pass"})
	jwt, _ := m["accessJwt"].(string)
	if st != 200 || jwt == "" || m["refreshJwt"] == "" || m["did"] != alice || m["handle"] != "alice.test" {
		t.Fatalf("createSession: %d %v", st, m)
	}
	rec := map[string]any{"repo": alice, "collection": "app.bsky.feed.post", "record": map[string]any{"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-12-02T01:00:00.000Z"}}
	st, m = post(t, s.URL+"/xrpc/com.atproto.repo.createRecord", "", rec)
	wantXRPCError(t, st, m, 401, "AuthenticationRequired")
	st, m = post(t, s.URL+"/xrpc/com.atproto.repo.createRecord", "not-a-token", rec)
	wantXRPCError(t, st, m, 400, "InvalidToken")
	st, m = post(t, s.URL+"/xrpc/com.atproto.repo.createRecord", jwt, map[string]any{"repo": bob, "collection": "app.bsky.feed.post", "record": rec["record"]})
	wantXRPCError(t, st, m, 400, "InvalidRequest")
	bad := map[string]any{"repo": alice, "collection": "app.bsky.feed.post", "record": map[string]any{"text": "hi", "createdAt": "2026-12-02T01:00:00.000Z",
		"facets": []any{map[string]any{"index": map[string]any{"byteStart": 1, "byteEnd": 9}, "features": []any{}}}}}
	st, m = post(t, s.URL+"/xrpc/com.atproto.repo.createRecord", jwt, bad)
	wantXRPCError(t, st, m, 400, "InvalidRecord")
	st, m = post(t, s.URL+"/xrpc/com.atproto.repo.createRecord", jwt, rec)
	if st != 200 || !atURI.MatchString(m["uri"].(string)) || m["cid"] == "" || m["commit"] == nil {
		t.Fatalf("createRecord: %d %v", st, m)
	}
	s.ExpireSessions()
	st, m = post(t, s.URL+"/xrpc/com.atproto.repo.createRecord", jwt, rec)
	wantXRPCError(t, st, m, 400, "ExpiredToken")
}

func dial(t *testing.T, u string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func readEvent(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestJetstreamFiltersAndReplays(t *testing.T) {
	s := New()
	defer s.Close()
	alice := s.AddAccount("alice.test", "pw")
	bob := s.AddAccount("bob.test", "pw")
	c := dial(t, s.JetstreamURL+"?wantedCollections=app.bsky.feed.post&wantedDids="+alice)
	bobs, _ := s.CreatePost(bob, Post{Text: "bob's"})
	s.Repost(alice, bobs.URI) // another collection
	p, _ := s.CreatePost(alice, Post{Text: "mine"})
	ev := readEvent(t, c)
	commit := ev["commit"].(map[string]any)
	us, _ := ev["time_us"].(float64)
	if ev["did"] != alice || ev["kind"] != "commit" || us < 1e15 || commit["operation"] != "create" || commit["collection"] != "app.bsky.feed.post" || commit["rkey"] != p.RKey || commit["cid"] != p.CID || commit["rev"] == "" {
		t.Fatalf("event: %v", ev)
	}
	if commit["record"].(map[string]any)["text"] != "mine" {
		t.Errorf("record: %v", commit["record"])
	}
	s.Delete(p.URI)
	del := readEvent(t, c)
	if dc := del["commit"].(map[string]any); dc["operation"] != "delete" || dc["record"] != nil || dc["rkey"] != p.RKey {
		t.Errorf("delete event: %v", del)
	}
	// cursor replays from a time_us on.
	c2 := dial(t, s.JetstreamURL+"?wantedCollections=app.bsky.feed.post&wantedDids="+alice+"&cursor="+strconv.FormatInt(int64(us), 10))
	if ev := readEvent(t, c2); ev["commit"].(map[string]any)["rkey"] != p.RKey || ev["commit"].(map[string]any)["operation"] != "create" {
		t.Errorf("replay: %v", ev)
	}
	resp, err := http.Get(s.URL + "/subscribe?cursor=abc")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("bad cursor: %d", resp.StatusCode)
		}
	}
}

func TestGetPosts(t *testing.T) {
	s := New()
	defer s.Close()
	bob := s.AddAccount("bob.test", "pw")
	p, _ := s.CreatePost(bob, Post{Text: "hello"})
	st, m := get(t, s.URL+"/xrpc/app.bsky.feed.getPosts?uris="+url.QueryEscape(p.URI)+"&uris="+url.QueryEscape("at://did:plc:x/app.bsky.feed.post/3l3qo2vutsw2b"))
	posts, _ := m["posts"].([]any)
	if st != 200 || len(posts) != 1 || posts[0].(map[string]any)["uri"] != p.URI {
		t.Errorf("getPosts: %d %v", st, m)
	}
	st, m = get(t, s.URL+"/xrpc/app.bsky.feed.getPosts")
	wantXRPCError(t, st, m, 400, "InvalidRequest")
}

func TestCreateRecordLimits(t *testing.T) {
	s := New()
	defer s.Close()
	alice := s.AddAccount("alice.test", "app-pass")
	_, m := post(t, s.URL+"/xrpc/com.atproto.server.createSession", "", map[string]string{"identifier": "alice.test", "password": "app-pass"})
	jwt := m["accessJwt"].(string)
	for _, text := range []string{strings.Repeat("a", 301), strings.Repeat("x", 3001)} {
		st, m := post(t, s.URL+"/xrpc/com.atproto.repo.createRecord", jwt, map[string]any{"repo": alice, "collection": "app.bsky.feed.post",
			"record": map[string]any{"text": text, "createdAt": "2026-12-02T01:00:00.000Z"}})
		wantXRPCError(t, st, m, 400, "InvalidRecord")
	}
}
