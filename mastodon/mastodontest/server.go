// Package mastodontest runs an in-process Mastodon server for tests and
// demos, in the manner of net/http/httptest, on 127.0.0.1. It serves the
// REST endpoints r2sync uses (verify_credentials, an account's statuses
// with max_id/since_id/min_id paging and Link headers, posting with
// Idempotency-Key) and the user stream as server-sent events, with the
// JSON shapes of Mastodon's documentation: string ids, HTML content with
// Mastodon's link, hashtag and mention markup, nested reblogs, content
// warnings and visibilities. It checks the bearer token of every request
// (401 {"error": …} like Mastodon), sends X-RateLimit-* headers, and
// injects faults on demand: streams closed, streams gone silent, the
// whole server down (connections refused) for a while.
package mastodontest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Defaults for empty Options fields.
const (
	DefaultToken     = "mastodontest-access-token"
	DefaultUsername  = "r2sync_demo"
	DefaultHeartbeat = 15 * time.Second
	// DefaultRateLimit is Mastodon's per-account budget per window.
	DefaultRateLimit = 300
	// window is Mastodon's rate-limit window.
	window = 5 * time.Minute
)

// Options configure a Server.
type Options struct {
	// Token is the user's access token. Default DefaultToken.
	Token string
	// Username of the user. Default DefaultUsername.
	Username string
	// Scopes of the user's token; nil means read and write.
	Scopes []string
	// Heartbeat is the period of the stream's heartbeat comments.
	// Default DefaultHeartbeat.
	Heartbeat time.Duration
	// RateLimit is the requests per 5 minutes per token. Default
	// DefaultRateLimit; negative means no limit.
	RateLimit int
	// Logger receives a debug line per request; nil means none. Tokens
	// are never logged.
	Logger *zap.Logger
}

// Request is a REST or stream request the server answered.
type Request struct {
	Method         string
	Path           string
	Query          url.Values
	Form           url.Values // a POST's parameters, or nil
	IdempotencyKey string
	Status         int
	AccountID      string // whose valid token it carried, "" for none
	At             time.Time
}

// Server is a running test Mastodon server.
type Server struct {
	opts Options
	log  *zap.Logger
	hs   *http.Server
	addr string
	url  string
	done chan struct{}

	mu       sync.Mutex
	closed   bool
	down     bool
	ln       net.Listener
	conns    map[net.Conn]struct{}
	lastID   int64
	accounts []*Account // [0] is the user
	tokens   map[string]*token
	statuses []*Status // sorted by id
	byID     map[string]*Status
	idem     map[string]*Status // by account id + key
	requests []Request
	windows  map[string]*rateWindow // by token
	streams  map[*stream]struct{}
	connects int
	beats    int
	silent   bool
}

// token is an access token and what it may do.
type token struct {
	account *Account
	scopes  []string
}

// rateWindow is one token's rate-limit window.
type rateWindow struct {
	remaining int
	reset     time.Time
}

// NewServer starts a server on a free port of 127.0.0.1. Like
// httptest.NewServer it panics when it cannot listen. Call Close.
func NewServer(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.Username == "" {
		opts.Username = DefaultUsername
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.Scopes == nil {
		opts.Scopes = []string{"read", "write"}
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{
		opts:    opts,
		log:     log.Named("mastodontest"),
		done:    make(chan struct{}),
		conns:   map[net.Conn]struct{}{},
		tokens:  map[string]*token{},
		byID:    map[string]*Status{},
		idem:    map[string]*Status{},
		windows: map[string]*rateWindow{},
		streams: map[*stream]struct{}{},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("mastodontest: listen: %v", err))
	}
	s.addr = ln.Addr().String()
	s.url = "http://" + s.addr
	me := s.addAccount(opts.Username)
	s.tokens[opts.Token] = &token{account: me, scopes: opts.Scopes}
	s.hs = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         s.connState,
	}
	s.ln = ln
	go s.hs.Serve(ln)
	return s
}

// URL is the server's base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.url }

// Account returns the user's account.
func (s *Server) Account() Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.accounts[0]
}

// Close ends every stream and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.hs.Close()
}

// connState tracks connections, so that Down can cut them.
func (s *Server) connState(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		if s.down {
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// Down stops the server the way a crashed host does: its port refuses
// connections and every open connection, streams included, is cut. Up
// brings it back on the same address.
func (s *Server) Down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down || s.closed {
		return
	}
	s.down = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	clear(s.conns)
}

// Up ends Down: the server listens on its address again.
func (s *Server) Up() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down || s.closed {
		return nil
	}
	var ln net.Listener
	var err error
	// The port was free a moment ago; something else may grab it in
	// between, which a retry or two usually outlasts.
	for range 50 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("mastodontest: listen again on %s: %w", s.addr, err)
	}
	s.down = false
	s.ln = ln
	go s.hs.Serve(ln)
	return nil
}

// Requests returns the requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
	s.log.Debug("request", zap.String("method", r.Method), zap.String("path", r.Path), zap.Int("status", r.Status))
}

// authenticate returns the token of the request's bearer header, or
// writes Mastodon's 401 and returns nil.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *token {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	s.mu.Lock()
	t := s.tokens[raw]
	s.mu.Unlock()
	if !ok || t == nil {
		writeError(w, http.StatusUnauthorized, "The access token is invalid")
		return nil
	}
	return t
}

// allowed reports whether t has scope (e.g. "read:statuses"): the scope
// itself or its parent ("read").
func (t *token) allowed(scope string) bool {
	parent, _, _ := strings.Cut(scope, ":")
	for _, sc := range t.scopes {
		if sc == scope || sc == parent {
			return true
		}
	}
	return false
}

// rateLimit sets the X-RateLimit-* headers and reports whether the
// request is within the budget; if not it writes the 429.
func (s *Server) rateLimit(w http.ResponseWriter, raw string) bool {
	if s.opts.RateLimit < 0 {
		return true
	}
	now := time.Now()
	s.mu.Lock()
	win := s.windows[raw]
	if win == nil || !now.Before(win.reset) {
		win = &rateWindow{remaining: s.opts.RateLimit, reset: now.Truncate(window).Add(window)}
		s.windows[raw] = win
	}
	ok := win.remaining > 0
	if ok {
		win.remaining--
	}
	remaining, reset := win.remaining, win.reset
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", fmt.Sprint(s.opts.RateLimit))
	h.Set("X-RateLimit-Remaining", fmt.Sprint(remaining))
	h.Set("X-RateLimit-Reset", reset.UTC().Format("2006-01-02T15:04:05.000Z"))
	if !ok {
		writeError(w, http.StatusTooManyRequests, "Too many requests")
	}
	return ok
}

// AddToken adds an access token for the account with id, with scopes
// (nil: read and write).
func (s *Server) AddToken(raw, accountID string, scopes []string) error {
	if scopes == nil {
		scopes = []string{"read", "write"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		if a.ID == accountID {
			s.tokens[raw] = &token{account: a, scopes: scopes}
			return nil
		}
	}
	return errors.New("mastodontest: no account " + accountID)
}

// wait waits d, or less when ctx ends or the server closes.
func (s *Server) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-s.done:
	}
}
