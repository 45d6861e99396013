// Package twittertest runs an in-process Twitter API server for tests and
// demos, in the manner of net/http/httptest. It speaks v1.1 under /1.1/
// (URL) and X API v2 under /2/ (V2URL) over the same tweets: the user
// timeline, posting and credential checks with realistic JSON (64-bit ids,
// HTML-escaped text, t.co links with entities; v2 data/includes/meta and
// problem+json errors), rate-limit headers, and the OAuth 1.0a PIN login
// under /oauth/. It verifies every request's OAuth 1.0a signature and
// injects faults on demand, whichever API the request is for. It serves the
// user of Options and any added with AddUser, each with its own access
// token for the one consumer key, timeline and rate-limit windows.
package twittertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// idBase makes ids look like real snowflake ids: above 2^53, so that a
// client decoding them through float64 gets them wrong.
const idBase int64 = 1_700_000_000_000_000_000

// window is the length of a rate-limit window.
const window = 15 * time.Minute

// Defaults for empty Options fields.
const (
	DefaultConsumerKey    = "twittertest-consumer-key"
	DefaultConsumerSecret = "twittertest-consumer-secret"
	DefaultAccessToken    = "1234567890-twittertestaccesstoken"
	DefaultAccessSecret   = "twittertest-access-secret"
	DefaultUserID         = 1234567890
	DefaultScreenName     = "r2sync_demo"
)

// otherUserID and otherScreenName are the author of retweeted tweets that
// name none.
const (
	otherUserID     = 987654321
	otherScreenName = "someone_else"
)

// Options configure a Server. Empty fields take the Default values.
type Options struct {
	// The credentials every request must be signed with.
	ConsumerKey, ConsumerSecret, AccessToken, AccessSecret string
	// The user the access token belongs to.
	UserID     int64
	ScreenName string
	// Logger receives a debug line per request; nil means none. Secrets
	// are never logged.
	Logger *zap.Logger
	// UserLimits replace X's per-user rate limits (each access token has
	// its own window) by endpoint name: "statuses/user_timeline" and
	// "2/users/:id/tweets" (900 per 15 minutes), "account/verify_credentials",
	// "2/users/me", "statuses/update", "2/tweets". A zero Limit keeps X's.
	UserLimits map[string]RateLimit
	// AppLimits replace the budgets that all users of the consumer key
	// share, by endpoint name: X's are 100,000 per 24 hours for
	// "statuses/user_timeline", 10,000 per 15 minutes for
	// "2/users/:id/tweets", 10,000 per 24 hours for "2/tweets". A zero
	// Limit means no app budget for that endpoint.
	AppLimits map[string]RateLimit
}

// Request is a request the server answered.
type Request struct {
	Method        string
	Path          string
	Query         url.Values
	Form          url.Values // form body of a POST, or nil
	Body          string     // any other body of a POST (v2 JSON), or ""
	Status        int        // 499 when the client left during a delay, 0 when dropped (Fault.Drop)
	OAuthVerified bool       // the OAuth 1.0a signature and credentials were valid
	UserID        int64      // the registered user whose access token it carried, valid or not; 0 for none
	At            time.Time  // when the server began to handle it
}

// Server is a running test API server.
type Server struct {
	opts Options
	log  *zap.Logger
	srv  *http.Server
	url  string
	done chan struct{} // closed by Close, ends delays
	wg   sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	seq      int64
	shortSeq uint64
	tweets   []Tweet // sorted by ID
	deleted  map[int64]bool
	requests []Request
	faults   []Fault
	windows  map[string]*rateWindow
	users    userTable
	nonces   map[string]time.Time
	logins   map[string]*pendingLogin // by request token
	loginSeq int
}

// rateWindow is one endpoint's rate-limit state.
type rateWindow struct {
	limit, remaining int
	reset            time.Time
}

// NewServer starts a server on a free port of 127.0.0.1. Like
// httptest.NewServer it panics when it cannot listen. Call Close when done.
func NewServer(opts Options) *Server {
	if opts.ConsumerKey == "" {
		opts.ConsumerKey = DefaultConsumerKey
	}
	if opts.ConsumerSecret == "" {
		opts.ConsumerSecret = DefaultConsumerSecret
	}
	if opts.AccessToken == "" {
		opts.AccessToken = DefaultAccessToken
	}
	if opts.AccessSecret == "" {
		opts.AccessSecret = DefaultAccessSecret
	}
	if opts.UserID == 0 {
		opts.UserID = DefaultUserID
	}
	if opts.ScreenName == "" {
		opts.ScreenName = DefaultScreenName
	}
	// Copies, so that a test editing its maps cannot race the server.
	opts.UserLimits, opts.AppLimits = maps.Clone(opts.UserLimits), maps.Clone(opts.AppLimits)
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("twittertest")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("twittertest: listen: %v", err))
	}
	s := &Server{
		opts:    opts,
		log:     log,
		url:     "http://" + ln.Addr().String() + "/1.1/",
		done:    make(chan struct{}),
		deleted: make(map[int64]bool),
		windows: make(map[string]*rateWindow),
		nonces:  make(map[string]time.Time),
		logins:  make(map[string]*pendingLogin),
		users:   newUserTable(opts),
	}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(log),
	}
	go s.srv.Serve(ln)
	return s
}

// URL returns the v1.1 API base, e.g. "http://127.0.0.1:PORT/1.1/".
func (s *Server) URL() string { return s.url }

// V2URL returns the v2 API base, e.g. "http://127.0.0.1:PORT/2/".
func (s *Server) V2URL() string { return strings.TrimSuffix(s.url, "1.1/") + "2/" }

// BaseURL returns the API base for api: V2URL for "v2", else URL.
func (s *Server) BaseURL(api string) string {
	if api == "v2" {
		return s.V2URL()
	}
	return s.URL()
}

// OAuthURL returns the root of the OAuth 1.0a token endpoints, e.g.
// "http://127.0.0.1:PORT/oauth/": request_token, authorize, access_token.
func (s *Server) OAuthURL() string { return strings.TrimSuffix(s.url, "1.1/") + "oauth/" }

// Options returns the options in effect, defaults filled in, so that a
// demo can build a client with the server's credentials.
func (s *Server) Options() Options {
	o := s.opts
	o.UserLimits, o.AppLimits = maps.Clone(o.UserLimits), maps.Clone(o.AppLimits)
	return o
}

// Close stops the server and waits for the requests in progress.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	s.srv.Close()
	s.wg.Wait()
}

// AddTweet stores t and returns it as stored: with an id (when zero, the
// next snowflake-like id above 2^53, after every explicit id that is not
// from the future), author, CreatedAt and t.co links filled in. A tweet
// with the id of a stored one replaces it. Any id is served as given,
// 2^63-1 included, for clients to cope with.
func (s *Server) AddTweet(t Tweet) Tweet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(t).clone()
}

// Delete removes a tweet from what the server serves, but, like the real
// API, timeline pages still count it before dropping it, so pages come
// back short. It reports whether the tweet existed.
func (s *Server) Delete(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.find(id); !ok || s.deleted[id] {
		return false
	}
	s.deleted[id] = true
	return true
}

// Tweets returns the stored tweets, oldest first, including those created
// through statuses/update and excluding deleted ones.
func (s *Server) Tweets() []Tweet {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Tweet, 0, len(s.tweets))
	for _, t := range s.tweets {
		if !s.deleted[t.ID] {
			out = append(out, t.clone())
		}
	}
	return out
}

// Requests returns the requests answered so far, in order. A request is
// logged before its response is written, so it is there once the client
// has the response.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Query = maps.Clone(r.Query)
		r.Form = maps.Clone(r.Form)
		out[i] = r
	}
	return out
}

// addLocked stores t; the caller holds s.mu.
func (s *Server) addLocked(t Tweet) Tweet {
	t = t.clone()
	now := time.Now().UTC().Truncate(time.Second)
	if o := t.RetweetOf; o != nil {
		if o.UserID == 0 {
			o.UserID = otherUserID
			if o.ScreenName == "" {
				o.ScreenName = otherScreenName
			}
		}
		if o.ScreenName == "" {
			o.ScreenName = s.screenNameOf(o.UserID)
		}
		if o.ID == 0 {
			o.ID = s.nextID()
		}
		if o.CreatedAt.IsZero() {
			o.CreatedAt = now
		}
		o.RetweetOf = nil
		o.URLs = s.shorten(o.URLs)
		s.attach(o)
		t.Text, t.URLs, t.Media, t.MediaURL = "", nil, nil, ""
	}
	if t.UserID == 0 {
		t.UserID = s.opts.UserID
	}
	if t.ScreenName == "" {
		t.ScreenName = s.screenNameOf(t.UserID)
	}
	if t.ID == 0 {
		t.ID = s.nextID()
	} else if t.ID > idBase && t.ID-idBase > s.seq && t.ID <= SnowflakeID(now) {
		// New ids follow the highest given one, unless that one is from
		// the future (say 2^63-1): later tweets must stay plausible.
		s.seq = t.ID - idBase
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	t.URLs = s.shorten(t.URLs)
	s.attach(&t)

	i, found := slices.BinarySearchFunc(s.tweets, t.ID, func(a Tweet, id int64) int {
		switch {
		case a.ID < id:
			return -1
		case a.ID > id:
			return 1
		}
		return 0
	})
	if found {
		s.tweets[i] = t
		delete(s.deleted, t.ID)
	} else {
		s.tweets = slices.Insert(s.tweets, i, t)
	}
	return t
}

func (s *Server) nextID() int64 {
	s.seq++
	return idBase + s.seq
}

// shorten gives each URL without one a t.co link.
func (s *Server) shorten(urls []URL) []URL {
	for i := range urls {
		if urls[i].Short == "" {
			urls[i].Short = "https://t.co/" + s.key(10)
		}
	}
	return urls
}

// key returns the next of a sequence of random-looking base-62 keys of n
// characters (n ≤ 10), as t.co links and media file names have.
func (s *Server) key(n int) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	s.shortSeq++
	x := s.shortSeq * 0x9E3779B97F4A7C15 // spread, so keys look random
	b := make([]byte, n)
	for j := range b {
		b[j] = digits[x%62]
		x /= 62
	}
	return string(b)
}

func (s *Server) find(id int64) (Tweet, bool) {
	for _, t := range s.tweets {
		if t.ID == id {
			return t, true
		}
	}
	return Tweet{}, false
}

// serve handles every request: OAuth check, rate limit, faults, routing.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), At: time.Now()}
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err == nil && isForm(r) {
			rec.Form, err = url.ParseQuery(string(body))
		} else if err == nil {
			rec.Body = string(body)
		}
		if err != nil {
			s.writeError(w, rec, http.StatusBadRequest, 0, "Bad request.")
			return
		}
	}
	now := time.Now()
	endpoint := endpointName(r.URL.Path)
	var (
		nonce   string
		ts      time.Time
		params  url.Values
		authErr *authError
	)
	switch endpoint {
	case "oauth/authorize":
		// A page the user opens in a browser: no OAuth.
	case "oauth/request_token":
		nonce, ts, params, authErr = verifySigned(r, rec.Form, s.opts, func(token string) (string, bool) { return "", token == "" }, now)
	case "oauth/access_token":
		nonce, ts, params, authErr = verifySigned(r, rec.Form, s.opts, s.requestSecret, now)
	default:
		nonce, ts, _, authErr = verifySigned(r, rec.Form, s.opts, s.accessSecret(&rec), now)
	}

	s.mu.Lock()
	if authErr == nil && nonce != "" && s.replayed(nonce, ts, now) {
		authErr = errCouldNotAuth()
	}
	win, exceeded := s.consume(rec.UserID, endpoint, now)
	fault, faulty := s.takeFault(r.URL.Path)
	s.mu.Unlock()
	rec.OAuthVerified = authErr == nil && nonce != ""

	h := w.Header()
	// Lowercase on the wire, as the API sends them.
	h["x-rate-limit-limit"] = []string{strconv.Itoa(win.limit)}
	h["x-rate-limit-remaining"] = []string{strconv.Itoa(win.remaining)}
	h["x-rate-limit-reset"] = []string{strconv.FormatInt(win.reset.Unix(), 10)}

	if faulty {
		if !s.wait(r, fault.Delay) {
			rec.Status = 499
			s.record(rec)
			return
		}
		if fault.Status == http.StatusTooManyRequests {
			h["x-rate-limit-remaining"] = []string{"0"}
			if !fault.RateLimitReset.IsZero() {
				h["x-rate-limit-reset"] = []string{strconv.FormatInt(fault.RateLimitReset.Unix(), 10)}
			}
		}
		for k, v := range fault.Header {
			for have := range h {
				if strings.EqualFold(have, k) {
					delete(h, have)
				}
			}
			h[k] = slices.Clone(v)
		}
		switch {
		case fault.Drop:
			s.drop(w, rec)
			return
		case fault.BodyBytes > 0 || fault.EndlessBody:
			s.hugeBody(w, r, rec, fault.Status, fault.BodyBytes)
			return
		}
		if fault.Status != 0 {
			ct := ""
			if fault.Body != "" {
				ct = fault.contentType()
			}
			s.write(w, rec, fault.Status, ct, []byte(fault.Body))
			return
		}
	}
	if authErr != nil {
		s.writeError(w, rec, authErr.status, authErr.code, authErr.message)
		return
	}
	if exceeded {
		s.writeError(w, rec, http.StatusTooManyRequests, 88, "Rate limit exceeded")
		return
	}
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case get && endpoint == "statuses/user_timeline":
		s.userTimeline(w, rec)
	case post && endpoint == "statuses/update":
		s.update(w, rec)
	case get && endpoint == "account/verify_credentials":
		s.mu.Lock()
		u := s.user(rec.UserID, s.screenNameOf(rec.UserID))
		s.mu.Unlock()
		s.writeJSON(w, rec, http.StatusOK, u)
	case get && endpoint == "2/users/me":
		s.usersMe(w, rec)
	case get && endpoint == "2/users/:id/tweets":
		s.userTweets(w, rec, strings.Split(r.URL.Path, "/")[3])
	case post && endpoint == "2/tweets":
		s.createTweet(w, rec)
	case post && endpoint == "oauth/request_token":
		s.requestToken(w, rec, params)
	case get && endpoint == "oauth/authorize":
		s.authorizePage(w, rec)
	case post && endpoint == "oauth/access_token":
		s.accessToken(w, rec, params)
	default:
		s.writeError(w, rec, http.StatusNotFound, 34, "Sorry, that page does not exist.")
	}
}

// endpointName names the endpoint of a path, as rate-limit windows are
// kept: "statuses/user_timeline" (v1.1), "2/users/:id/tweets" (v2),
// "oauth/request_token".
func endpointName(path string) string {
	if rest, ok := strings.CutPrefix(path, "/2/"); ok {
		parts := strings.Split(rest, "/")
		if len(parts) == 3 && parts[0] == "users" && parts[1] != "me" {
			parts[1] = ":id"
		}
		return "2/" + strings.Join(parts, "/")
	}
	if rest, ok := strings.CutPrefix(path, "/oauth/"); ok {
		return "oauth/" + rest
	}
	return strings.TrimSuffix(strings.TrimPrefix(path, "/1.1/"), ".json")
}

// wait holds a response back for d; false when the client left or the
// server closed first.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}

// replayed reports whether nonce was already used with timestamp ts, and
// remembers it. The caller holds s.mu.
func (s *Server) replayed(nonce string, ts, now time.Time) bool {
	key := strconv.FormatInt(ts.Unix(), 10) + " " + nonce
	if _, ok := s.nonces[key]; ok {
		return true
	}
	if len(s.nonces) >= 4096 {
		for k, at := range s.nonces {
			if now.Sub(at) > 2*maxClockSkew {
				delete(s.nonces, k)
			}
		}
	}
	s.nonces[key] = ts
	return false
}

// limitFor is the per-user limit per 15-minute window. statuses/update has
// no header-reported limit on the real API; 300 stands in for its 3-hour one.
func limitFor(endpoint string) int {
	switch endpoint {
	case "statuses/user_timeline", "2/users/:id/tweets":
		return 900
	case "2/users/me":
		return 75
	case "2/tweets":
		return 100
	case "account/verify_credentials":
		return 75
	case "statuses/update":
		return 300
	}
	return 180
}

// record logs rec.
func (s *Server) record(rec Request) {
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	s.log.Debug("request",
		zap.String("method", rec.Method),
		zap.String("path", rec.Path),
		zap.Int("status", rec.Status),
		zap.Bool("oauth_verified", rec.OAuthVerified),
	)
}

// write logs the request, then answers it, so that the log is complete by
// the time the client sees the response.
func (s *Server) write(w http.ResponseWriter, rec Request, status int, contentType string, body []byte) {
	rec.Status = status
	s.record(rec)
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) writeJSON(w http.ResponseWriter, rec Request, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the API sends "<a href=…>" and "&amp;" as is
	if err := enc.Encode(v); err != nil {
		s.writeError(w, rec, http.StatusInternalServerError, 131, "Internal error.")
		return
	}
	s.write(w, rec, status, "application/json;charset=utf-8", bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// writeError answers with an error: v1.1 errors[] JSON, or for a v2 path
// problem+json (RFC 7807) as v2 sends it.
func (s *Server) writeError(w http.ResponseWriter, rec Request, status, code int, msg string) {
	if strings.HasPrefix(rec.Path, "/2/") {
		title := http.StatusText(status)
		detail := msg
		if status == http.StatusUnauthorized {
			detail = title // v2 says no more than that
		}
		s.writeProblem(w, rec, problemJSON{Title: title, Detail: detail, Type: "about:blank", Status: status})
		return
	}
	s.writeJSON(w, rec, status, errorsJSON{Errors: []errorJSON{{Message: msg, Code: code}}})
}
