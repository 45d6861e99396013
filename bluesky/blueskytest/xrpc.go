package blueskytest

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// xrpcError writes an XRPC error body.
func xrpcError(w http.ResponseWriter, status int, name, message string) {
	writeJSON(w, status, map[string]string{"error": name, "message": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// xrpc dispatches /xrpc/<method>.
func (s *Server) xrpc(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	s.mu.Lock()
	s.requests[method]++
	s.mu.Unlock()
	query := map[string]http.HandlerFunc{
		"com.atproto.identity.resolveHandle": s.resolveHandle,
		"app.bsky.feed.getAuthorFeed":        s.getAuthorFeed,
		"app.bsky.feed.getPosts":             s.getPosts,
	}
	procedure := map[string]http.HandlerFunc{
		"com.atproto.server.createSession": s.createSession,
		"com.atproto.repo.createRecord":    s.createRecord,
	}
	// The AppView's budget, as public.api.bsky.app reports it: 3,000
	// requests per 5 minutes per IP.
	s.mu.Lock()
	now := time.Now()
	if now.After(s.rlReset) {
		s.rlReset, s.rlUsed = now.Add(5*time.Minute), 0
	}
	s.rlUsed++
	w.Header().Set("Ratelimit-Limit", "3000")
	w.Header().Set("Ratelimit-Remaining", strconv.Itoa(max(3000-s.rlUsed, 0)))
	w.Header().Set("Ratelimit-Reset", strconv.FormatInt(s.rlReset.Unix(), 10))
	w.Header().Set("Ratelimit-Policy", "3000;w=300")
	s.mu.Unlock()
	if h, ok := query[method]; ok {
		if r.Method != http.MethodGet {
			xrpcError(w, http.StatusMethodNotAllowed, "InvalidRequest", "Incorrect HTTP method ("+r.Method+") expected GET")
			return
		}
		h(w, r)
		return
	}
	if h, ok := procedure[method]; ok {
		if r.Method != http.MethodPost {
			xrpcError(w, http.StatusMethodNotAllowed, "InvalidRequest", "Incorrect HTTP method ("+r.Method+") expected POST")
			return
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			xrpcError(w, http.StatusBadRequest, "InvalidRequest", "Wrong request encoding (Content-Type): "+r.Header.Get("Content-Type"))
			return
		}
		h(w, r)
		return
	}
	xrpcError(w, http.StatusNotImplemented, "MethodNotImplemented", "Method Not Implemented")
}

// plc serves a DID document as plc.directory does.
func (s *Server) plc(w http.ResponseWriter, r *http.Request) {
	did := r.PathValue("did")
	s.mu.Lock()
	s.requests["plc"]++
	a := s.accounts[did]
	s.mu.Unlock()
	if a == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "DID not registered: " + did})
		return
	}
	w.Header().Set("Content-Type", "application/did+ld+json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{
		"@context":    []string{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1", "https://w3id.org/security/suites/secp256k1-2019/v1"},
		"id":          a.did,
		"alsoKnownAs": []string{"at://" + a.handle},
		"verificationMethod": []map[string]string{{
			"id": a.did + "#atproto", "type": "Multikey", "controller": a.did,
			"publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF",
		}},
		"service": []map[string]string{{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": s.URL}},
	})
}

func (s *Server) resolveHandle(w http.ResponseWriter, r *http.Request) {
	h := r.URL.Query().Get("handle")
	if h == "" {
		xrpcError(w, http.StatusBadRequest, "InvalidRequest", `Error: Params must have the property "handle"`)
		return
	}
	s.mu.Lock()
	did, ok := s.handles[strings.ToLower(h)]
	s.mu.Unlock()
	if !ok {
		xrpcError(w, http.StatusBadRequest, "InvalidRequest", "Unable to resolve handle")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"did": did})
}

// getAuthorFeed lists an actor's posts and reposts newest first, with an
// opaque cursor towards older items.
func (s *Server) getAuthorFeed(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	actor := q.Get("actor")
	if actor == "" {
		xrpcError(w, http.StatusBadRequest, "InvalidRequest", `Error: Params must have the property "actor"`)
		return
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			xrpcError(w, http.StatusBadRequest, "InvalidRequest", "Error: limit must be less than or equal to 100")
			return
		}
		limit = n
	}
	filter := q.Get("filter")
	switch filter {
	case "":
		filter = "posts_with_replies"
	case "posts_with_replies", "posts_no_replies", "posts_with_media", "posts_and_author_threads", "posts_with_video":
	default:
		xrpcError(w, http.StatusBadRequest, "InvalidRequest", "Error: filter must be one of posts_with_replies, posts_no_replies, posts_with_media, posts_and_author_threads, posts_with_video")
		return
	}
	before := math.MaxInt
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil {
			xrpcError(w, http.StatusBadRequest, "InvalidRequest", "Malformed cursor")
			return
		}
		before = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	did := actor
	if !strings.HasPrefix(actor, "did:") {
		did = s.handles[strings.ToLower(actor)]
	}
	a := s.accounts[did]
	if a == nil {
		xrpcError(w, http.StatusBadRequest, "InvalidRequest", "Profile not found")
		return
	}
	feed := []any{}
	if q.Get("includePins") == "true" && q.Get("cursor") == "" && a.pinned != "" {
		if p := s.byURI[a.pinned]; p != nil && !p.deleted {
			feed = append(feed, map[string]any{"post": s.postViewLocked(p), "reason": map[string]any{"$type": "app.bsky.feed.defs#reasonPin"}})
		}
	}
	next := ""
	n := 0
	for i := min(before, len(s.records)) - 1; i >= 0; i-- {
		rec := s.records[i]
		if rec.did != did || rec.deleted || !s.inFilterLocked(rec, filter) {
			continue
		}
		if n == limit {
			next = strconv.Itoa(i + 1)
			break
		}
		n++
		feed = append(feed, s.feedItemLocked(rec))
	}
	out := map[string]any{"feed": feed}
	if next != "" {
		out["cursor"] = next
	}
	writeJSON(w, http.StatusOK, out)
}

// getPosts returns the post views of up to 25 at:// uris, skipping
// unknown ones.
func (s *Server) getPosts(w http.ResponseWriter, r *http.Request) {
	uris := r.URL.Query()["uris"]
	if len(uris) == 0 || len(uris) > 25 {
		xrpcError(w, http.StatusBadRequest, "InvalidRequest", "Error: uris must have between 1 and 25 items")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	posts := []any{}
	for _, u := range uris {
		if p := s.byURI[u]; p != nil && !p.deleted && p.collection == "app.bsky.feed.post" {
			posts = append(posts, s.postViewLocked(p))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"posts": posts})
}

// inFilterLocked applies getAuthorFeed's filter to a record.
func (s *Server) inFilterLocked(r *record, filter string) bool {
	reply, _ := r.value["reply"].(map[string]any)
	switch filter {
	case "posts_no_replies":
		return reply == nil
	case "posts_with_media", "posts_with_video":
		return false
	case "posts_and_author_threads":
		if reply == nil {
			return true
		}
		p, _ := reply["parent"].(map[string]any)
		u, _ := p["uri"].(string)
		return strings.HasPrefix(u, "at://"+r.did+"/")
	}
	return true
}

// feedItemLocked is an app.bsky.feed.defs#feedViewPost.
func (s *Server) feedItemLocked(r *record) map[string]any {
	if r.collection == "app.bsky.feed.repost" {
		orig := s.byURI[r.subject]
		return map[string]any{
			"post": s.postViewLocked(orig),
			"reason": map[string]any{
				"$type":     "app.bsky.feed.defs#reasonRepost",
				"by":        s.profileLocked(r.did),
				"uri":       r.uri(),
				"cid":       r.cid,
				"indexedAt": r.indexedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
			},
		}
	}
	item := map[string]any{"post": s.postViewLocked(r)}
	if reply, ok := r.value["reply"].(map[string]any); ok {
		ref := func(k string) any {
			m, _ := reply[k].(map[string]any)
			u, _ := m["uri"].(string)
			if p := s.byURI[u]; p != nil && !p.deleted {
				v := s.postViewLocked(p)
				v["$type"] = "app.bsky.feed.defs#postView"
				return v
			}
			return map[string]any{"$type": "app.bsky.feed.defs#notFoundPost", "uri": u, "notFound": true}
		}
		item["reply"] = map[string]any{"root": ref("root"), "parent": ref("parent")}
	}
	return item
}

// postViewLocked is an app.bsky.feed.defs#postView.
func (s *Server) postViewLocked(r *record) map[string]any {
	v := map[string]any{
		"uri":         r.uri(),
		"cid":         r.cid,
		"author":      s.profileLocked(r.did),
		"record":      r.value,
		"replyCount":  0,
		"repostCount": 0,
		"likeCount":   0,
		"quoteCount":  0,
		"indexedAt":   r.indexedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		"labels":      []any{},
	}
	if e, ok := r.value["embed"].(map[string]any); ok && e["$type"] == "app.bsky.embed.record" {
		ref, _ := e["record"].(map[string]any)
		u, _ := ref["uri"].(string)
		if q := s.byURI[u]; q != nil {
			v["embed"] = map[string]any{"$type": "app.bsky.embed.record#view", "record": map[string]any{
				"$type": "app.bsky.embed.record#viewRecord", "uri": q.uri(), "cid": q.cid,
				"author": s.profileLocked(q.did), "value": q.value, "indexedAt": q.indexedAt.UTC().Format(time.RFC3339),
			}}
		}
	}
	return v
}

// profileLocked is an app.bsky.actor.defs#profileViewBasic.
func (s *Server) profileLocked(did string) map[string]any {
	a := s.accounts[did]
	h := "handle.invalid"
	if a != nil {
		h = a.handle
	}
	return map[string]any{"did": did, "handle": h, "displayName": h, "labels": []any{}, "createdAt": "2024-01-01T00:00:00.000Z"}
}
