package twitter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	gotwitter "github.com/dghubble/go-twitter/twitter"
	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// pageSize is the largest count user_timeline accepts.
const pageSize = 200

// maxPages bounds one poll's v1.1 paging: user_timeline serves the newest
// 3,200 tweets, 16 full pages; a server whose pages step back one tweet
// at a time would otherwise be paged through for ever.
const maxPages = 20

// createdAtLayout is the format of created_at in v1.1 objects.
const createdAtLayout = "Mon Jan 02 15:04:05 -0700 2006"

// V1 is a client of the Twitter API v1.1, or of any v1.1-compatible API
// (GNU social, Friendica, Fanfou, proxies), on behalf of one user. It is
// safe for concurrent use.
type V1 struct {
	*core
	rw   *rewriter // nil when the API base is go-twitter's own
	done completion
}

var (
	_ daemon.Source            = (*V1)(nil)
	_ daemon.CursorOrder       = (*V1)(nil)
	_ daemon.Pacer             = (*V1)(nil)
	_ daemon.Verifier          = (*V1)(nil)
	_ daemon.Poster            = (*V1)(nil)
	_ daemon.RateLimitReporter = (*V1)(nil)
	_ daemon.UsageReporter     = (*V1)(nil)
)

// NewV1 returns a v1.1 client of opts.APIBase (DefaultAPIBase when
// empty). It makes no request; Verify checks the credentials.
func NewV1(opts Options) (*V1, error) {
	c, base, err := newCore(opts, DefaultAPIBase)
	if err != nil {
		return nil, err
	}
	v := &V1{core: c}
	if c.base != goTwitterBase {
		v.rw = &rewriter{base: base, next: c.rt}
		c.rt = v.rw
	}
	return v, nil
}

// API returns APIv11.
func (c *V1) API() string { return APIv11 }

// client returns a go-twitter client whose requests carry ctx. go-twitter
// has no context parameter, so each call gets its own (cheap) client.
func (c *V1) client(ctx context.Context) *gotwitter.Client {
	return gotwitter.NewClient(c.httpClient(ctxTransport{ctx: ctx, next: c.rt}))
}

// check turns go-twitter's (resp, err) into our error. go-twitter returns
// err == nil for a non-2xx response without errors[] in the body, and a
// JSON syntax error for an HTML error page, so the status decides.
func (c *V1) check(endpoint string, start time.Time, resp *http.Response, err error) error {
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
func (c *V1) timeline(ctx context.Context, sinceID, maxID int64, count int) ([]gotwitter.Tweet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := time.Now()
	tweets, resp, err := c.client(ctx).Timelines.UserTimeline(&gotwitter.UserTimelineParams{
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

// Since returns the user's tweets after cursor, oldest first and without
// duplicates. It pages back with max_id until it reaches the cursor, so
// that no tweet is skipped when more than one page arrived between
// polls. From "" it returns the whole timeline the API serves.
func (c *V1) Since(ctx context.Context, cursor string) ([]daemon.Post, error) {
	sinceID, err := parseCursor(cursor)
	if err != nil {
		return nil, fmt.Errorf("fetch timeline: %w", err)
	}
	g := newGathered(sinceID)
	began := c.now()
	// A page can be short (deleted tweets are removed after count is
	// applied), so in general only an empty page proves the end; right
	// after a complete poll a short one does too (see burstAge), and a
	// poll costs one request unless its page was full.
	shortEnds := c.done.recent(sinceID, began)
	complete := false
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
		if len(tweets) == 0 {
			complete = true
			break
		}
		page := make([]tweetPost, 0, len(tweets))
		for i := range tweets {
			if p, ok := c.toPost(&tweets[i]); ok {
				page = append(page, p)
			}
		}
		if len(tweets) > burstTweets {
			shortEnds = false // more than X lets an account post: prove the end
		}
		oldest, reached := g.add(page)
		if reached || oldest <= sinceID+1 || shortEnds {
			complete = true
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
	if complete {
		newest := sinceID
		if n := len(g.posts); n > 0 {
			newest = max(newest, g.posts[n-1].id)
		}
		c.done.record(newest, began)
	}
	c.log.Debug("fetched timeline", zap.Int64("since_id", sinceID), zap.Int("posts", len(posts)))
	return posts, nil
}

// Newest returns the cursor after the user's newest tweet, or "" when the
// timeline is empty.
func (c *V1) Newest(ctx context.Context) (string, error) {
	newest, err := c.newest(ctx, 1)
	if err == nil && newest == 0 {
		// count is applied before deleted tweets are removed: an empty
		// answer to count=1 may only mean the newest tweet was deleted,
		// or it may have been refused (an id from the future).
		newest, err = c.newest(ctx, pageSize)
	}
	if err != nil {
		return "", fmt.Errorf("fetch newest tweet: %w", err)
	}
	return cursorOf(newest), nil
}

// newest returns the highest usable id among the count newest tweets.
func (c *V1) newest(ctx context.Context, count int) (int64, error) {
	tweets, err := c.timeline(ctx, 0, 0, count)
	if err != nil {
		return 0, err
	}
	var newest int64
	for i := range tweets {
		if p, ok := c.toPost(&tweets[i]); ok && p.id > newest {
			newest = p.id
		}
	}
	return newest, nil
}

// Post implements daemon.Poster: it publishes text as a new tweet and
// returns it as the API stored it.
func (c *V1) Post(ctx context.Context, text string) (daemon.Post, error) {
	if text == "" {
		return daemon.Post{}, errors.New("post tweet: empty text")
	}
	if err := ctx.Err(); err != nil {
		return daemon.Post{}, fmt.Errorf("post tweet: %w", err)
	}
	start := time.Now()
	tweet, resp, err := c.client(ctx).Statuses.Update(text, &gotwitter.StatusUpdateParams{TweetMode: "extended"})
	if err := c.check(endpointUpdateV1, start, resp, err); err != nil {
		return daemon.Post{}, fmt.Errorf("post tweet: %w", err)
	}
	c.usage.tweetsPosted.Add(1)
	p, ok := c.toPost(tweet)
	if !ok {
		return daemon.Post{}, errors.New("post tweet: response has no tweet id")
	}
	return p.post, nil
}

// Verify implements daemon.Verifier: it checks the credentials and
// returns the account they belong to.
func (c *V1) Verify(ctx context.Context) (daemon.Account, error) {
	if err := ctx.Err(); err != nil {
		return daemon.Account{}, fmt.Errorf("verify credentials: %w", err)
	}
	start := time.Now()
	user, resp, err := c.client(ctx).Accounts.VerifyCredentials(&gotwitter.AccountVerifyParams{
		SkipStatus:      gotwitter.Bool(true),
		IncludeEntities: gotwitter.Bool(false),
	})
	if err := c.check(endpointVerifyV1, start, resp, err); err != nil {
		return daemon.Account{}, fmt.Errorf("verify credentials: %w", err)
	}
	id := parseID(user.IDStr, user.ID)
	if id == 0 {
		return daemon.Account{}, errors.New("verify credentials: response has no user id")
	}
	return daemon.Account{ID: strconv.FormatInt(id, 10), Handle: user.ScreenName}, nil
}
