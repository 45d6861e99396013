package mastodontest

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// idemWindow is how long Mastodon remembers an Idempotency-Key.
const idemWindow = time.Hour

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/accounts/verify_credentials", s.api("read:accounts", s.verifyCredentials))
	mux.HandleFunc("GET /api/v1/accounts/{id}/statuses", s.api("read:statuses", s.accountStatuses))
	mux.HandleFunc("POST /api/v1/statuses", s.api("write:statuses", s.postStatus))
	mux.HandleFunc("GET /api/v1/statuses/{id}", s.api("read:statuses", s.getStatus))
	mux.HandleFunc("DELETE /api/v1/statuses/{id}", s.api("write:statuses", s.deleteStatus))
	mux.HandleFunc("GET /api/v1/streaming/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "OK")
	})
	mux.HandleFunc("GET /api/v1/streaming/user", s.streamUser)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Record not found")
	})
	return mux
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// api wraps a REST handler: it checks the token, its scope and the rate
// limit, and records the request.
func (s *Server) api(scope string, h func(w http.ResponseWriter, r *http.Request, t *token)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		w := &statusWriter{ResponseWriter: rw}
		req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), IdempotencyKey: r.Header.Get("Idempotency-Key"), At: time.Now()}
		defer func() {
			req.Status = w.status
			s.record(req)
		}()
		t := s.authenticate(w, r)
		if t == nil {
			return
		}
		req.AccountID = t.account.ID
		if !t.allowed(scope) {
			writeError(w, http.StatusForbidden, "This action is outside the authorized scopes")
			return
		}
		raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !s.rateLimit(w, raw) {
			return
		}
		if r.Method == http.MethodPost {
			form, err := readParams(r)
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			req.Form = form
			r.Form = form
		}
		h(w, r, t)
	}
}

// readParams reads a POST's parameters from a form or a JSON body, as
// Rails accepts both.
func readParams(r *http.Request) (url.Values, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, errors.New("Error occurred while parsing request parameters")
		}
		v := url.Values{}
		for k, x := range m {
			switch x := x.(type) {
			case string:
				v.Set(k, x)
			case bool:
				v.Set(k, strconv.FormatBool(x))
			}
		}
		return v, nil
	}
	return url.ParseQuery(string(body))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError writes Mastodon's error body, {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (s *Server) verifyCredentials(w http.ResponseWriter, r *http.Request, t *token) {
	s.mu.Lock()
	a := *t.account
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, credentialAccount{Account: a, Source: accountSource{Privacy: "public", Language: "en", Fields: []any{}}})
}

func (s *Server) accountStatuses(w http.ResponseWriter, r *http.Request, t *token) {
	id := r.PathValue("id")
	s.mu.Lock()
	acc := s.accountByID(id)
	s.mu.Unlock()
	if acc == nil {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	v := r.URL.Query()
	q := pageQuery{
		maxID:          v.Get("max_id"),
		sinceID:        v.Get("since_id"),
		minID:          v.Get("min_id"),
		limit:          20,
		excludeReblogs: v.Get("exclude_reblogs") == "true",
		excludeReplies: v.Get("exclude_replies") == "true",
	}
	if n, err := strconv.Atoi(v.Get("limit")); err == nil && n > 0 {
		q.limit = min(n, 40)
	}
	page := s.page(id, t.account.ID, q)
	if len(page) > 0 {
		base := s.url + r.URL.Path + "?limit=" + strconv.Itoa(q.limit)
		w.Header().Set("Link", `<`+base+`&max_id=`+page[len(page)-1].ID+`>; rel="next", <`+base+`&min_id=`+page[0].ID+`>; rel="prev"`)
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) postStatus(w http.ResponseWriter, r *http.Request, t *token) {
	key := r.Header.Get("Idempotency-Key")
	ik := t.account.ID + "\x00" + key
	s.mu.Lock()
	if key != "" {
		if st := s.idem[ik]; st != nil && time.Since(parseTime(st.CreatedAt)) < idemWindow {
			out := *st
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	st, err := s.create(NewStatus{
		Account:     t.account.ID,
		Text:        r.Form.Get("status"),
		Visibility:  r.Form.Get("visibility"),
		SpoilerText: r.Form.Get("spoiler_text"),
		InReplyToID: r.Form.Get("in_reply_to_id"),
	})
	if err != nil {
		s.mu.Unlock()
		code := http.StatusUnprocessableEntity
		if errors.Is(err, errNotFound) {
			code = http.StatusNotFound
		}
		writeError(w, code, err.Error())
		return
	}
	if key != "" {
		s.idem[ik] = st
	}
	out := *st
	s.mu.Unlock()
	s.broadcast("update", st)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request, t *token) {
	s.mu.Lock()
	st := s.byID[r.PathValue("id")]
	var out Status
	if st != nil {
		out = *st
	}
	s.mu.Unlock()
	if st == nil || !visibleTo(&out, t.account.ID) {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteStatus(w http.ResponseWriter, r *http.Request, t *token) {
	id := r.PathValue("id")
	s.mu.Lock()
	st := s.byID[id]
	var out Status
	if st != nil {
		out = *st
	}
	s.mu.Unlock()
	if st == nil || out.Account.ID != t.account.ID {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	s.Delete(id)
	writeJSON(w, http.StatusOK, out)
}

// visibleTo reports whether viewer may read st by id.
func visibleTo(st *Status, viewer string) bool {
	return st.Account.ID == viewer || st.Visibility == "public" || st.Visibility == "unlisted"
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
