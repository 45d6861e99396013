// Package mastodon reads and posts the user's own statuses on a Mastodon
// server: a daemon.Source polling GET /api/v1/accounts/:id/statuses with
// min_id paging (gap-free, oldest first) with cursor order, credential
// checks, posting with an Idempotency-Key, rate-limit and usage reports,
// and, as StreamingSource, the user stream (server-sent events) for
// real time. Only statuses of the token's own account are ever returned:
// the user stream also carries the home timeline of followed accounts.
//
// It is a small client on net/http rather than github.com/mattn/go-mastodon,
// whose streaming reader buffers a line without bound, reconnects in a
// tight loop without backoff, cannot notice a silent stream and reads
// REST bodies without a cap, and which sends no Idempotency-Key header.
package mastodon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// Defaults for Options.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultHeartbeat = 15 * time.Second
	// pageSize is the largest limit of the account statuses endpoint.
	pageSize = 40
	// maxPages bounds one poll's paging: 1,600 statuses. The rest comes
	// with the next poll, which pages on from where this one stopped.
	maxPages = 40
)

// Options configure a Source. The config package validates what users
// write; here only what cannot be used at all fails.
type Options struct {
	// Server is the server's base URL, e.g. "https://mastodon.social".
	Server string
	// AccessToken is the user's OAuth bearer token. Never logged, never
	// in errors.
	AccessToken string
	// Visibility lists the visibilities that are mirrored: "public"
	// (the default) and "unlisted". Others never are.
	Visibility []string
	// ContentWarning is CWSkip (default), CWSpoiler or CWFull.
	ContentWarning string
	// Timeout bounds each request, and the connect of the stream. Zero
	// means DefaultTimeout.
	Timeout time.Duration
	// Heartbeat is the period of the stream's heartbeat comments the
	// source assumes until it has measured the server's own; a stream
	// silent for two periods is reconnected. Zero means
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// BackoffMin and BackoffMax bound the wait between stream
	// connection attempts. Zero means 1 s and 2 min.
	BackoffMin, BackoffMax time.Duration
	// Logger receives the package's logs; nil means none.
	Logger *zap.Logger
	// Transport is the HTTP transport of the REST requests, under the
	// body caps. Nil means NewTransport().
	Transport http.RoundTripper
	// StreamTransport carries the user stream. Nil means
	// NewTransport(). A stream lasts for hours, so a transport that caps
	// whole bodies (as twitter.NewTransport does, at 8 MiB) would cut it
	// again and again; it is kept apart from Transport for that reason.
	StreamTransport http.RoundTripper
}

// Source is a Mastodon client on behalf of one user. It is safe for
// concurrent use.
type Source struct {
	base      string // the server, without a trailing "/"
	token     string
	rt        http.RoundTripper
	streamRT  http.RoundTripper
	timeout   time.Duration
	heartbeat time.Duration
	bmin      time.Duration
	bmax      time.Duration
	visible   map[string]bool
	cw        string
	log       *zap.Logger
	now       func() time.Time

	mu      sync.Mutex
	account *daemon.Account // from verify_credentials, once
	rl      RateLimit

	usage   usageCounters
	events  eventCounters
	learned atomic.Int64 // the stream's heartbeat period as seen, in ns; 0 before
}

var (
	_ daemon.Source            = (*Source)(nil)
	_ daemon.CursorOrder       = (*Source)(nil)
	_ daemon.Verifier          = (*Source)(nil)
	_ daemon.Poster            = (*Source)(nil)
	_ daemon.Pacer             = (*Source)(nil)
	_ daemon.RateLimitReporter = (*Source)(nil)
	_ daemon.UsageReporter     = (*Source)(nil)
)

// New returns a Source for opts. It makes no request; Verify checks the
// token.
func New(opts Options) (*Source, error) {
	u, err := url.Parse(opts.Server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mastodon server %q is not an http(s) URL", opts.Server)
	}
	if opts.AccessToken == "" {
		return nil, errors.New("mastodon access token is empty")
	}
	if strings.ContainsAny(opts.AccessToken, "\r\n\t ") {
		return nil, errors.New("mastodon access token contains white space")
	}
	s := &Source{
		base:      strings.TrimRight(u.String(), "/"),
		token:     opts.AccessToken,
		timeout:   opts.Timeout,
		heartbeat: opts.Heartbeat,
		bmin:      opts.BackoffMin,
		bmax:      opts.BackoffMax,
		visible:   map[string]bool{},
		cw:        opts.ContentWarning,
		log:       opts.Logger,
		now:       time.Now,
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.heartbeat <= 0 {
		s.heartbeat = DefaultHeartbeat
	}
	if s.bmin <= 0 {
		s.bmin = time.Second
	}
	if s.bmax < s.bmin {
		s.bmax = max(2*time.Minute, s.bmin)
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.Named("mastodon")
	vis := opts.Visibility
	if len(vis) == 0 {
		vis = []string{"public"}
	}
	for _, v := range vis {
		switch v {
		case "public", "unlisted":
			s.visible[v] = true
		default:
			// Private and direct posts are never mirrored, whatever
			// the caller asks.
			return nil, fmt.Errorf("mastodon visibility %q cannot be mirrored (only public and unlisted)", v)
		}
	}
	switch s.cw {
	case "":
		s.cw = CWSkip
	case CWSkip, CWSpoiler, CWFull:
	default:
		return nil, fmt.Errorf("mastodon content_warning %q is not skip, spoiler or full", s.cw)
	}
	rt := opts.Transport
	if rt == nil {
		rt = NewTransport()
	}
	s.rt = limitTransport{next: rt}
	srt := opts.StreamTransport
	if srt == nil {
		srt = NewTransport()
	}
	s.streamRT = limitTransport{next: srt}
	return s, nil
}

// request builds an authenticated request of path (from the server's
// root) with query q.
func (s *Source) request(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	target := s.base + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// do sends one request and decodes a 2xx JSON answer into out. Every
// other answer becomes an *APIError.
func (s *Source) do(ctx context.Context, req *http.Request, out any) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req = req.WithContext(ctx)
	resp, err := s.rt.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, readErr := io.ReadAll(resp.Body)
	rl := s.observe(req.Method, resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, newAPIError(resp.StatusCode, b, rl))
	}
	if readErr != nil {
		return fmt.Errorf("%s %s: read response: %w", req.Method, req.URL.Path, readErr)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// get is do for a GET of path with query q.
func (s *Source) get(ctx context.Context, path string, q url.Values, out any) error {
	req, err := s.request(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	return s.do(ctx, req, out)
}

// post is do for a form POST.
func (s *Source) post(ctx context.Context, path string, form url.Values, hdr http.Header, out any) error {
	req, err := s.request(ctx, http.MethodPost, path, nil, bytes.NewReader([]byte(form.Encode())))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	return s.do(ctx, req, out)
}

// ownID is the user's account id, or "" before the first Verify.
func (s *Source) ownID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.account == nil {
		return ""
	}
	return s.account.ID
}

// me returns the user's account, asking verify_credentials once.
func (s *Source) me(ctx context.Context) (daemon.Account, error) {
	s.mu.Lock()
	a := s.account
	s.mu.Unlock()
	if a != nil {
		return *a, nil
	}
	return s.Verify(ctx)
}

// Verify implements daemon.Verifier: GET verify_credentials.
func (s *Source) Verify(ctx context.Context) (daemon.Account, error) {
	var acc account
	if err := s.get(ctx, "/api/v1/accounts/verify_credentials", nil, &acc); err != nil {
		return daemon.Account{}, fmt.Errorf("verify credentials: %w", err)
	}
	if checkID(acc.ID) != nil {
		return daemon.Account{}, fmt.Errorf("verify credentials: account id %q is not a mastodon id", shortID(acc.ID))
	}
	a := daemon.Account{ID: acc.ID, Handle: acc.Username}
	s.mu.Lock()
	if s.account != nil && s.account.ID != a.ID {
		// The token now belongs to another account: keep the first,
		// whose statuses the state's cursor is about, and fail.
		first := s.account.ID
		s.mu.Unlock()
		return daemon.Account{}, fmt.Errorf("verify credentials: the access token now belongs to account %s, not %s", a.ID, first)
	}
	s.account = &a
	s.mu.Unlock()
	return a, nil
}

// usageCounters count what the client did.
type usageCounters struct {
	requests, reads, postsRead, postsCreated atomic.Int64
}

// Usage implements daemon.UsageReporter.
func (s *Source) Usage() daemon.Usage {
	return daemon.Usage{
		Requests:     s.usage.requests.Load(),
		ReadRequests: s.usage.reads.Load(),
		PostsRead:    s.usage.postsRead.Load(),
		PostsCreated: s.usage.postsCreated.Load(),
	}
}
