// Package twitter reads and posts the user's own tweets through the X API
// v2 or the Twitter API v1.1 (or any v1.1-compatible API), with OAuth 1.0a
// user context, behind one daemon.Source. For v1.1 it adapts
// github.com/dghubble/go-twitter and adds what that library lacks:
// contexts, timeouts, status checks, rate limit headers and a configurable
// API base. For v2 it is a small client of its own on net/http (v2.go).
// Both read the rate-limit headers of every response, pace the poller
// with them (Pace) and count what they read and post (Usage). Under both
// one transport caps every response body and never resends a request
// (limit.go), and ids from the future are refused (snowflake.go).
package twitter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	gotwitter "github.com/dghubble/go-twitter/twitter"
	"github.com/dghubble/oauth1"
	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// Defaults for Options.
const (
	// DefaultAPIBase is the v1.1 API base used when Options.API is
	// APIv11 and Options.APIBase is empty.
	DefaultAPIBase = "https://api.twitter.com/1.1/"
	// DefaultV2Base is the v2 API base used when Options.APIBase is empty
	// and the API is v2 (the default).
	DefaultV2Base  = "https://api.x.com/2/"
	DefaultWebBase = "https://twitter.com/"
	DefaultTimeout = 30 * time.Second
)

// pageSize is the largest count user_timeline accepts.
const pageSize = 200

// maxPages bounds one poll's v1.1 paging: user_timeline serves the newest
// 3,200 tweets, 16 full pages; a server whose pages step back one tweet
// at a time would otherwise be paged through for ever.
const maxPages = 20

// createdAtLayout is the format of created_at in v1.1 objects.
const createdAtLayout = "Mon Jan 02 15:04:05 -0700 2006"

// Options configure a Client.
type Options struct {
	// API selects the protocol: APIv2, APIv11, or "" to decide from
	// APIBase (see ResolveAPI): v2 for an empty base or the X hosts,
	// v1.1 for any other server.
	API string
	// APIBase is the API root. For v1.1 requests go to APIBase +
	// "statuses/user_timeline.json" and so on; for v2 to APIBase +
	// "users/me" and so on. Default DefaultV2Base or DefaultAPIBase.
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
	// Timeout bounds each HTTP request. Default DefaultTimeout.
	Timeout time.Duration
	// WebBase is the root of status links: WebBase + screen name +
	// "/status/" + id. Default DefaultWebBase.
	WebBase string
	// Logger receives debug logs; nil means none.
	Logger *zap.Logger
}

// Account is the authenticated user.
type Account struct {
	ID         int64
	ScreenName string
}

// Client talks to a v2 or v1.1 API on behalf of one user. It is safe for
// concurrent use.
type Client struct {
	api     string            // APIv2 or APIv11
	base    string            // the API base in effect, ending in "/"
	rt      http.RoundTripper // [rewriter →] oauth1 signer → base transport
	rw      *rewriter         // nil when APIBase is go-twitter's own
	timeout time.Duration
	web     string
	log     *zap.Logger
	now     func() time.Time
	v2      *v2API // nil for v1.1

	usage usageCounters

	mu        sync.Mutex
	limit     RateLimit // latest of any endpoint
	readLimit RateLimit // latest of the timeline endpoint, for Pace
	stretched bool      // Pace is stretching the interval (logged once)
}

var (
	_ daemon.Source = (*Client)(nil)
	_ daemon.Pacer  = (*Client)(nil)
)

// New returns a Client. It checks the options but makes no request; call
// Verify to check the credentials.
func New(opts Options) (*Client, error) {
	for _, f := range []struct{ name, v string }{
		{"consumer key", opts.ConsumerKey},
		{"consumer secret", opts.ConsumerSecret},
		{"access token", opts.AccessToken},
		{"access token secret", opts.AccessSecret},
	} {
		if f.v == "" {
			return nil, fmt.Errorf("twitter: %s is empty", f.name)
		}
	}
	api, base, err := ResolveAPI(opts.API, opts.APIBase)
	if err != nil {
		return nil, fmt.Errorf("twitter: %w", err)
	}
	if opts.WebBase == "" {
		opts.WebBase = DefaultWebBase
	}
	web, err := parseBase(opts.WebBase)
	if err != nil {
		return nil, fmt.Errorf("twitter: web base %q: %w", opts.WebBase, err)
	}
	switch {
	case opts.Timeout < 0:
		return nil, fmt.Errorf("twitter: timeout must be positive (got %s)", opts.Timeout)
	case opts.Timeout == 0:
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}

	cfg := oauth1.NewConfig(opts.ConsumerKey, opts.ConsumerSecret)
	signer, ok := cfg.Client(context.Background(), oauth1.NewToken(opts.AccessToken, opts.AccessSecret)).Transport.(*oauth1.Transport)
	if !ok {
		return nil, errors.New("twitter: oauth1 client has an unexpected transport")
	}
	signer.Base = newTransport(maxBody, maxErrorBody)

	c := &Client{
		api:     api,
		base:    base.String(),
		rt:      signer,
		timeout: opts.Timeout,
		web:     web.String(),
		log:     opts.Logger.Named("twitter"),
		now:     time.Now,
	}
	if api == APIv2 {
		c.v2 = &v2API{excludeRetweets: opts.ExcludeRetweets}
		return c, nil
	}
	if base.String() != goTwitterBase {
		c.rw = &rewriter{base: base, next: signer}
		c.rt = c.rw
	}
	return c, nil
}

// API returns the API version in use: APIv2 or APIv11.
func (c *Client) API() string { return c.api }

// APIBase returns the API base in use, defaults applied.
func (c *Client) APIBase() string { return c.base }

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

// RateLimit returns the rate-limit state from the latest response that
// carried x-rate-limit-* headers.
func (c *Client) RateLimit() RateLimit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limit
}

// v1 returns a go-twitter client whose requests carry ctx. go-twitter has
// no context parameter, so each call gets its own (cheap) client.
func (c *Client) v1(ctx context.Context) *gotwitter.Client {
	return gotwitter.NewClient(&http.Client{
		Transport: ctxTransport{ctx: ctx, next: c.rt},
		Timeout:   c.timeout,
		// A redirect would be signed and followed to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
}

// check turns go-twitter's (resp, err) into our error. go-twitter returns
// err == nil for a non-2xx response without errors[] in the body, and a
// JSON syntax error for an HTML error page, so the status decides.
func (c *Client) check(endpoint string, start time.Time, resp *http.Response, err error) error {
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		var ue *url.Error
		if c.rw != nil && errors.As(err, &ue) {
			// Name the server really contacted, not api.twitter.com.
			ue.URL = c.rw.rewriteString(ue.URL)
		}
		return err
	}
	rl := c.observe(endpoint, resp, time.Since(start))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(resp.StatusCode, err, rl)
	}
	if err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	if resp.ContentLength == 0 {
		// go-twitter decodes nothing and reports success: an empty
		// timeline, and a poll that never backs off from a broken proxy.
		return errors.New("decode response: empty body")
	}
	return nil
}

// timeline fetches one page of the authenticated user's timeline.
func (c *Client) timeline(ctx context.Context, sinceID, maxID int64, count int) ([]gotwitter.Tweet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := time.Now()
	tweets, resp, err := c.v1(ctx).Timelines.UserTimeline(&gotwitter.UserTimelineParams{
		Count:           count,
		SinceID:         sinceID,
		MaxID:           maxID,
		ExcludeReplies:  gotwitter.Bool(false),
		IncludeRetweets: gotwitter.Bool(true),
		TweetMode:       "extended",
	})
	if err := c.check(endpointTimelineV1, start, resp, err); err != nil {
		return nil, err
	}
	c.usage.tweetsRead.Add(int64(len(tweets)))
	return tweets, nil
}

// Since returns the user's tweets newer than sinceID, oldest first and
// without duplicates. It pages back with max_id until it reaches sinceID,
// so that no tweet is skipped when more than one page arrived between
// polls. With sinceID 0 it returns the whole timeline the API serves.
func (c *Client) Since(ctx context.Context, sinceID int64) ([]daemon.Post, error) {
	if sinceID < 0 {
		return nil, fmt.Errorf("fetch timeline: negative since id %d", sinceID)
	}
	if c.v2 != nil {
		return c.sinceV2(ctx, sinceID)
	}
	g := newGathered(sinceID)
	var maxID int64
	for page := 1; ; page++ {
		if page > maxPages {
			c.log.Warn("too many timeline pages in one poll; older tweets of this poll may be missed",
				zap.Int64("since_id", sinceID), zap.Int("pages", maxPages))
			break
		}
		tweets, err := c.timeline(ctx, sinceID, maxID, pageSize)
		if err != nil {
			return nil, fmt.Errorf("fetch timeline since %d (page %d): %w", sinceID, page, err)
		}
		// A page can be short (deleted tweets are removed after count is
		// applied), so only an empty page proves the end.
		if len(tweets) == 0 {
			break
		}
		page := make([]daemon.Post, 0, len(tweets))
		for i := range tweets {
			if p, ok := c.toPost(&tweets[i]); ok {
				page = append(page, p)
			}
		}
		oldest, reached := g.add(page)
		if reached || oldest <= sinceID+1 {
			break
		}
		if maxID != 0 && oldest > maxID {
			// Asking again would return the same page forever.
			c.log.Warn("server ignores max_id; older tweets of this poll may be missed",
				zap.Int64("since_id", sinceID), zap.Int64("max_id", maxID), zap.Int64("oldest_id", oldest))
			break
		}
		maxID = oldest - 1
	}
	posts := g.sorted()
	c.log.Debug("fetched timeline", zap.Int64("since_id", sinceID), zap.Int("posts", len(posts)))
	return posts, nil
}

// Newest returns the id of the user's newest tweet, or 0 when the timeline
// is empty.
func (c *Client) Newest(ctx context.Context) (int64, error) {
	if c.v2 != nil {
		return c.newestV2(ctx)
	}
	newest, err := c.newest(ctx, 1)
	if err == nil && newest == 0 {
		// count is applied before deleted tweets are removed: an empty
		// answer to count=1 may only mean the newest tweet was deleted,
		// or it may have been refused (an id from the future).
		newest, err = c.newest(ctx, pageSize)
	}
	if err != nil {
		return 0, fmt.Errorf("fetch newest tweet: %w", err)
	}
	return newest, nil
}

// newest returns the highest usable id among the count newest tweets.
func (c *Client) newest(ctx context.Context, count int) (int64, error) {
	tweets, err := c.timeline(ctx, 0, 0, count)
	if err != nil {
		return 0, err
	}
	var newest int64
	for i := range tweets {
		if p, ok := c.toPost(&tweets[i]); ok && p.ID > newest {
			newest = p.ID
		}
	}
	return newest, nil
}

// Post publishes text as a new tweet and returns it as the API stored it.
func (c *Client) Post(ctx context.Context, text string) (daemon.Post, error) {
	if text == "" {
		return daemon.Post{}, errors.New("post tweet: empty text")
	}
	if err := ctx.Err(); err != nil {
		return daemon.Post{}, fmt.Errorf("post tweet: %w", err)
	}
	if c.v2 != nil {
		return c.postV2(ctx, text)
	}
	start := time.Now()
	tweet, resp, err := c.v1(ctx).Statuses.Update(text, &gotwitter.StatusUpdateParams{TweetMode: "extended"})
	if err := c.check(endpointUpdateV1, start, resp, err); err != nil {
		return daemon.Post{}, fmt.Errorf("post tweet: %w", err)
	}
	c.usage.tweetsPosted.Add(1)
	p, ok := c.toPost(tweet)
	if !ok {
		return daemon.Post{}, errors.New("post tweet: response has no tweet id")
	}
	return p, nil
}

// Verify checks the credentials and returns the account they belong to.
func (c *Client) Verify(ctx context.Context) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, fmt.Errorf("verify credentials: %w", err)
	}
	if c.v2 != nil {
		return c.verifyV2(ctx)
	}
	start := time.Now()
	user, resp, err := c.v1(ctx).Accounts.VerifyCredentials(&gotwitter.AccountVerifyParams{
		SkipStatus:      gotwitter.Bool(true),
		IncludeEntities: gotwitter.Bool(false),
	})
	if err := c.check(endpointVerifyV1, start, resp, err); err != nil {
		return Account{}, fmt.Errorf("verify credentials: %w", err)
	}
	id := parseID(user.IDStr, user.ID)
	if id == 0 {
		return Account{}, errors.New("verify credentials: response has no user id")
	}
	return Account{ID: id, ScreenName: user.ScreenName}, nil
}
