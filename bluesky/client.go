// Package bluesky is r2sync's Bluesky source: it reads the user's own
// posts from an AppView (app.bsky.feed.getAuthorFeed), follows them in
// real time on Jetstream, and posts with an app password on the user's
// PDS. It speaks XRPC over net/http: the official Go SDK (indigo) has no
// releases and calls its packages unstable, and the few calls needed are
// small.
package bluesky

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// Defaults of Options.
const (
	DefaultAppView      = "https://public.api.bsky.app"
	DefaultPLCDirectory = "https://plc.directory"
	// DefaultTimeout bounds every HTTP request.
	DefaultTimeout = 20 * time.Second
	// DefaultPingPeriod is how often the Jetstream connection is pinged;
	// a silent stream is noticed within two periods.
	DefaultPingPeriod = 10 * time.Second
)

// maxBody caps every XRPC response body: a feed page of 100 posts is
// well under a megabyte.
const maxBody = 4 << 20

// Options configure a Client.
type Options struct {
	// Handle or DID names the account; DID wins when both are set.
	Handle string
	DID    string
	// AppView serves public reads (DefaultAppView when empty).
	AppView string
	// Jetstream is the /subscribe WebSocket URL; "" means poll only.
	Jetstream string
	// PDS is the user's PDS for posting; "" means the one in the DID
	// document.
	PDS string
	// PLCDirectory resolves did:plc documents (DefaultPLCDirectory).
	PLCDirectory string
	// AppPassword is needed only to post.
	AppPassword string
	// Transport carries every XRPC and DID document request
	// (http.DefaultTransport when nil); the Jetstream handshake has a
	// transport of its own.
	Transport http.RoundTripper
	// Timeout bounds each HTTP request (DefaultTimeout when 0).
	Timeout time.Duration
	// PingPeriod is the Jetstream ping period (DefaultPingPeriod when 0).
	PingPeriod time.Duration
	// ReconnectMin and ReconnectMax bound the Jetstream reconnect backoff
	// (500 ms and 10 s when 0).
	ReconnectMin, ReconnectMax time.Duration
	// Log receives the client's logs (a no-op logger when nil).
	Log *zap.Logger
}

// Client reads one account's posts. It is safe for concurrent use.
type Client struct {
	opts Options
	hc   *http.Client
	log  *zap.Logger

	requests, reads, postsRead, postsCreated atomic.Int64

	mu      sync.Mutex
	rl      daemon.RateLimit // the AppView's, from its last answer
	account *daemon.Account  // resolved DID and handle, once
	session *session         // createSession answer, for Post
	pds     string           // the PDS from the DID document
}

var (
	_ daemon.Streamer    = (*Streaming)(nil)
	_ daemon.Source      = (*Client)(nil)
	_ daemon.CursorOrder = (*Client)(nil)
	_ daemon.Verifier    = (*Client)(nil)
	_ daemon.Poster      = (*Client)(nil)

	_ daemon.UsageReporter     = (*Client)(nil)
	_ daemon.RateLimitReporter = (*Client)(nil)
)

// Usage implements daemon.UsageReporter.
func (c *Client) Usage() daemon.Usage {
	return daemon.Usage{Requests: c.requests.Load(), ReadRequests: c.reads.Load(), PostsRead: c.postsRead.Load(), PostsCreated: c.postsCreated.Load()}
}

// RateLimit implements daemon.RateLimitReporter: the AppView's budget
// (about 3,000 requests per 5 minutes per IP) from its ratelimit-*
// headers.
func (c *Client) RateLimit() daemon.RateLimit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rl
}

// observe counts a response and keeps the AppView's rate-limit headers.
func (c *Client) observe(req *http.Request, resp *http.Response) {
	c.requests.Add(1)
	if req.Method == http.MethodGet {
		c.reads.Add(1)
	}
	if !strings.HasPrefix(req.URL.String(), c.opts.AppView+"/") {
		return
	}
	limit, err1 := strconv.Atoi(resp.Header.Get("Ratelimit-Limit"))
	remaining, err2 := strconv.Atoi(resp.Header.Get("Ratelimit-Remaining"))
	reset, err3 := strconv.ParseInt(resp.Header.Get("Ratelimit-Reset"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return
	}
	c.mu.Lock()
	c.rl = daemon.RateLimit{Limit: limit, Remaining: remaining, Reset: time.Unix(reset, 0)}
	c.mu.Unlock()
}

// New checks opts and returns a Client. It makes no request.
func New(opts Options) (*Client, error) {
	if opts.Handle == "" && opts.DID == "" {
		return nil, errors.New("bluesky: handle or did is required")
	}
	if opts.DID != "" && !validDID(opts.DID) {
		return nil, fmt.Errorf("bluesky.did: %q is not a did:plc or did:web", shorten(opts.DID))
	}
	opts.Handle = strings.TrimPrefix(opts.Handle, "@")
	if opts.AppView == "" {
		opts.AppView = DefaultAppView
	}
	if opts.PLCDirectory == "" {
		opts.PLCDirectory = DefaultPLCDirectory
	}
	for key, v := range map[string]string{"appview": opts.AppView, "plc_directory": opts.PLCDirectory, "pds": opts.PDS} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("bluesky.%s: %q is not an http(s) URL", key, v)
		}
	}
	if opts.Jetstream != "" {
		if u, err := url.Parse(opts.Jetstream); err != nil || (u.Scheme != "wss" && u.Scheme != "ws") || u.Host == "" {
			return nil, fmt.Errorf("bluesky.jetstream: %q is not a ws(s) URL", opts.Jetstream)
		}
	}
	opts.AppView = strings.TrimRight(opts.AppView, "/")
	opts.PLCDirectory = strings.TrimRight(opts.PLCDirectory, "/")
	opts.PDS = strings.TrimRight(opts.PDS, "/")
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.PingPeriod <= 0 {
		opts.PingPeriod = DefaultPingPeriod
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = 500 * time.Millisecond
	}
	if opts.ReconnectMax <= 0 {
		opts.ReconnectMax = 10 * time.Second
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport
	}
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	c := &Client{
		opts: opts,
		hc:   &http.Client{Transport: opts.Transport, Timeout: opts.Timeout},
		log:  log.Named("bluesky"),
	}
	if opts.DID != "" && opts.Handle != "" {
		c.account = &daemon.Account{ID: opts.DID, Handle: opts.Handle}
	}
	return c, nil
}

// Source returns c as a daemon.Source: with a Jetstream URL one that is
// also a daemon.Streamer, without one c itself, so that the mirror
// polls.
func (c *Client) Source() daemon.Source {
	if c.opts.Jetstream != "" {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxResponseHeaderBytes = 64 << 10
		return &Streaming{Client: c, wsTransport: t}
	}
	return c
}

// validDID reports whether s looks like a DID this client can resolve.
func validDID(s string) bool {
	rest, ok := strings.CutPrefix(s, "did:plc:")
	if !ok {
		rest, ok = strings.CutPrefix(s, "did:web:")
	}
	if !ok || rest == "" || len(s) > 2048 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		b := rest[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(".-_:%", b) >= 0) {
			return false
		}
	}
	return true
}

// XRPCError is an unsuccessful XRPC answer: its HTTP status and the
// {"error","message"} body.
type XRPCError struct {
	Method     string // the XRPC method, e.g. app.bsky.feed.getAuthorFeed
	StatusCode int
	Name       string // the body's "error", e.g. InvalidRequest
	Message    string // the body's "message", shortened
	RetryAfter time.Time
}

// Error implements error.
func (e *XRPCError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bluesky %s: status %d", e.Method, e.StatusCode)
	if e.Name != "" {
		fmt.Fprintf(&b, " %s", e.Name)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %q", e.Message)
	}
	return b.String()
}

// Permanent reports whether retrying cannot help until the user changes
// something (a wrong handle or app password), so the mirror backs off.
func (e *XRPCError) Permanent() bool {
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	case http.StatusBadRequest:
		// Unknown actors and handles answer 400 InvalidRequest.
		return e.Name != "ExpiredToken"
	}
	return false
}

// RetryAt returns when a rate-limited request may be retried.
func (e *XRPCError) RetryAt() time.Time {
	if e.StatusCode != http.StatusTooManyRequests {
		return time.Time{}
	}
	return e.RetryAfter
}

// xrpc calls method on base: a query (GET with q) when in is nil, a
// procedure (POST of in as JSON) otherwise. A 2xx answer is decoded into
// out; any other becomes an *XRPCError.
func (c *Client) xrpc(ctx context.Context, base, method string, q url.Values, in any, bearer string, out any) error {
	target := base + "/xrpc/" + method
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	httpMethod, body := http.MethodGet, io.Reader(nil)
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s: %w", method, err)
		}
		httpMethod, body = http.MethodPost, bytes.NewReader(b)
	}
	return c.do(ctx, method, httpMethod, target, body, bearer, out)
}

// do sends one request and decodes a bounded JSON answer.
func (c *Client) do(ctx context.Context, name, method, target string, body io.Reader, bearer string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	c.observe(req, resp)
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("%s: read response: %w", name, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newXRPCError(name, resp, b)
	}
	if len(b) > maxBody {
		return fmt.Errorf("%s: response larger than %d bytes", name, maxBody)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: decode response: %w", name, err)
	}
	return nil
}

// newXRPCError reads an XRPC error body; a body that is not one (an
// HTML error page) leaves Name empty.
func newXRPCError(method string, resp *http.Response, body []byte) *XRPCError {
	e := &XRPCError{Method: method, StatusCode: resp.StatusCode}
	var x struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &x) == nil {
		e.Name, e.Message = shorten(x.Error), shorten(x.Message)
	}
	// Bluesky's rate limits send ratelimit-reset (Unix seconds).
	if s := resp.Header.Get("Ratelimit-Reset"); s != "" {
		var sec int64
		if _, err := fmt.Sscan(s, &sec); err == nil && sec > 0 {
			e.RetryAfter = time.Unix(sec, 0)
		}
	}
	return e
}
