package blueskytest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/rivo/uniseg"
)

// readBody decodes a bounded JSON request body.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		xrpcError(w, http.StatusBadRequest, "InvalidRequest", "Request body is not valid JSON")
		return false
	}
	return true
}

// createSession checks the identifier (handle or DID) and app password.
func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Identifier string `json:"identifier"`
		Password   string `json:"password"`
	}
	if !readBody(w, r, &in) {
		return
	}
	if in.Identifier == "" || in.Password == "" {
		xrpcError(w, http.StatusBadRequest, "InvalidRequest", `Input must have the properties "identifier" and "password"`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	did := in.Identifier
	if !strings.HasPrefix(did, "did:") {
		did = s.handles[strings.ToLower(strings.TrimPrefix(did, "@"))]
	}
	a := s.accounts[did]
	if a == nil || a.appPassword == "" || in.Password != a.appPassword {
		xrpcError(w, http.StatusUnauthorized, "AuthenticationRequired", "Invalid identifier or password")
		return
	}
	tok := token()
	s.sessions[tok] = did
	writeJSON(w, http.StatusOK, map[string]any{
		"accessJwt": tok, "refreshJwt": token(), "handle": a.handle, "did": did,
		"email": a.handle + "@example.com", "emailConfirmed": true, "active": true,
	})
}

// ExpireSessions makes every access token expired, as after two hours.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	for t, did := range s.sessions {
		s.sessions[t] = "expired:" + did
	}
	s.mu.Unlock()
}

// createRecord creates a post or repost in the session's own repo.
func (s *Server) createRecord(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		xrpcError(w, http.StatusUnauthorized, "AuthenticationRequired", "Authentication Required")
		return
	}
	s.mu.Lock()
	did, known := s.sessions[tok]
	s.mu.Unlock()
	switch {
	case !known:
		xrpcError(w, http.StatusBadRequest, "InvalidToken", "Token could not be verified")
		return
	case strings.HasPrefix(did, "expired:"):
		xrpcError(w, http.StatusBadRequest, "ExpiredToken", "Token has expired")
		return
	}
	var in struct {
		Repo       string         `json:"repo"`
		Collection string         `json:"collection"`
		Record     map[string]any `json:"record"`
	}
	if !readBody(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[did]
	if in.Repo != did && (a == nil || in.Repo != a.handle) {
		xrpcError(w, http.StatusBadRequest, "InvalidRequest", "Unauthorized repo")
		return
	}
	if in.Collection != "app.bsky.feed.post" {
		xrpcError(w, http.StatusBadRequest, "InvalidRequest", "blueskytest creates app.bsky.feed.post records only")
		return
	}
	text, ok := in.Record["text"].(string)
	_, hasTime := in.Record["createdAt"].(string)
	switch {
	case !ok || !hasTime:
		xrpcError(w, http.StatusBadRequest, "InvalidRecord", `Record must have the properties "text" and "createdAt"`)
		return
	case len(text) > 3000:
		xrpcError(w, http.StatusBadRequest, "InvalidRecord", "Invalid app.bsky.feed.post record: Record/text must not be longer than 3000 characters")
		return
	case uniseg.GraphemeClusterCount(text) > 300:
		xrpcError(w, http.StatusBadRequest, "InvalidRecord", "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes")
		return
	case !validFacets(text, in.Record["facets"]):
		xrpcError(w, http.StatusBadRequest, "InvalidRecord", "Record/facets/index must lie within the text")
		return
	}
	in.Record["$type"] = "app.bsky.feed.post"
	rec := s.commitLocked(did, in.Collection, in.Record, "")
	writeJSON(w, http.StatusOK, map[string]any{
		"uri": rec.uri(), "cid": rec.cid,
		"commit":           map[string]string{"cid": rec.cid, "rev": rec.rkey},
		"validationStatus": "valid",
	})
}

// validFacets checks facet byte ranges against the text, as the
// lexicon's byteSlice demands (0 ≤ start < end ≤ len).
func validFacets(text string, v any) bool {
	if v == nil {
		return true
	}
	list, ok := v.([]any)
	if !ok {
		return false
	}
	return !slices.ContainsFunc(list, func(f any) bool {
		m, _ := f.(map[string]any)
		idx, _ := m["index"].(map[string]any)
		s, ok1 := idx["byteStart"].(float64)
		e, ok2 := idx["byteEnd"].(float64)
		return !ok1 || !ok2 || s < 0 || s >= e || int(e) > len(text)
	})
}
