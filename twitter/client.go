// Package twitter reads and posts the user's own tweets through the X API
// v2 (V2) or the Twitter API v1.1 or any v1.1-compatible API (V1), with
// OAuth 1.0a user context. Both are a daemon.Source with the same
// optional abilities: cursor order, pacing by the rate-limit headers
// (Pace), credential checks (Verify), posting (Post), rate-limit and
// usage reports. The caller picks one, once (see ResolveAPI).
//
// For v1.1 it adapts github.com/dghubble/go-twitter and adds what that
// library lacks: contexts, timeouts, status checks, rate limit headers
// and a configurable API base. For v2 it is a small client of its own on
// net/http. Under both one transport caps every response body and never
// resends a request (limit.go), and ids from the future are refused
// (snowflake.go).
package twitter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/dghubble/oauth1"
	"go.uber.org/zap"
)

// Defaults for Options.
const (
	// DefaultAPIBase is the v1.1 API base of a V1 without Options.APIBase.
	DefaultAPIBase = "https://api.twitter.com/1.1/"
	// DefaultV2Base is the v2 API base of a V2 without Options.APIBase.
	DefaultV2Base  = "https://api.x.com/2/"
	DefaultWebBase = "https://twitter.com/"
	DefaultTimeout = 30 * time.Second
)

// Options configure a V1 or a V2. The config package validates what
// users write; here only what cannot be used at all fails.
type Options struct {
	// APIBase is the API root. For v1.1 requests go to APIBase +
	// "statuses/user_timeline.json" and so on; for v2 to APIBase +
	// "users/me" and so on. Default DefaultAPIBase or DefaultV2Base.
	APIBase string
	// ExcludeRetweets asks a v2 API not to send retweets at all, which
	// saves reads on pay-per-use plans. Replies are always fetched: the
	// API's exclude=replies would also drop the user's own threads,
	// which are mirrored, so the mirror filters replies itself. v1.1
	// always fetches both; the mirror's filter decides.
	ExcludeRetweets bool
	// OAuth 1.0a credentials of the app (consumer) and of the user
	// (access token). Never logged, never in errors.
	ConsumerKey, ConsumerSecret, AccessToken, AccessSecret string
	// Timeout bounds each HTTP request. Zero means DefaultTimeout.
	Timeout time.Duration
	// WebBase is the root of status links: WebBase + screen name +
	// "/status/" + id. Default DefaultWebBase.
	WebBase string
	// Logger receives debug logs; nil means none.
	Logger *zap.Logger
	// Transport is the HTTP transport under the OAuth signer. Nil builds
	// one of the source's own; many sources on one API host share one
	// from NewTransport, which keeps the body caps and kept-alive
	// connections that never resend a request.
	Transport http.RoundTripper
}

// core is what V1 and V2 share: the signed transport, the web base for
// links, the clock, the rate-limit state that paces the poller and the
// usage counters.
type core struct {
	base    string            // the API base in effect, ending in "/"
	rt      http.RoundTripper // [rewriter →] oauth1 signer → base transport
	timeout time.Duration
	web     string
	log     *zap.Logger
	now     func() time.Time

	usage usageCounters

	mu        sync.Mutex
	limit     RateLimit // latest of any endpoint
	readLimit RateLimit // latest of the timeline endpoint, for Pace
	stretched bool      // Pace is stretching the interval (logged once)
}

// newCore checks the options that cannot be used at all and builds the
// signed transport. def is the API base when opts has none.
func newCore(opts Options, def string) (*core, *url.URL, error) {
	if opts.APIBase == "" {
		opts.APIBase = def
	}
	base, err := parseBase(opts.APIBase)
	if err != nil {
		return nil, nil, fmt.Errorf("twitter: api base %q: %w", opts.APIBase, err)
	}
	if opts.WebBase == "" {
		opts.WebBase = DefaultWebBase
	}
	web, err := parseBase(opts.WebBase)
	if err != nil {
		return nil, nil, fmt.Errorf("twitter: web base %q: %w", opts.WebBase, err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	cfg := oauth1.NewConfig(opts.ConsumerKey, opts.ConsumerSecret)
	signer, ok := cfg.Client(context.Background(), oauth1.NewToken(opts.AccessToken, opts.AccessSecret)).Transport.(*oauth1.Transport)
	if !ok {
		return nil, nil, errors.New("twitter: oauth1 client has an unexpected transport")
	}
	signer.Base = opts.Transport
	if signer.Base == nil {
		signer.Base = NewTransport()
	}
	return &core{
		base:    base.String(),
		rt:      signer,
		timeout: opts.Timeout,
		web:     web.String(),
		log:     opts.Logger.Named("twitter"),
		now:     time.Now,
	}, base, nil
}

// APIBase returns the API base in use, defaults applied.
func (c *core) APIBase() string { return c.base }

// httpClient is a client for one request through the signed transport.
func (c *core) httpClient(rt http.RoundTripper) *http.Client {
	return &http.Client{
		Transport: rt,
		Timeout:   c.timeout,
		// A redirect would be signed and followed to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// statusURL is the web link of a tweet, for v1.1 and v2 alike.
func (c *core) statusURL(screenName string, id int64) string {
	idStr := strconv.FormatInt(id, 10)
	if screenName != "" {
		return c.web + url.PathEscape(screenName) + "/status/" + idStr
	}
	return c.web + "i/web/status/" + idStr
}

// parseBase checks an absolute http(s) URL without query and returns it
// with a trailing slash.
func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("must be an http or https url")
	case u.Host == "":
		return nil, errors.New("must have a host")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, errors.New("must not have a query, fragment or user info")
	}
	if u.Path == "" || u.Path[len(u.Path)-1] != '/' {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}

// RateLimit implements daemon.RateLimitReporter: the rate-limit state
// from the latest response that carried x-rate-limit-* headers.
func (c *core) RateLimit() RateLimit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limit
}
