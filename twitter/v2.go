package twitter

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
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// v2 request parameters.
const (
	// v2PageSize is the largest max_results of GET /2/users/:id/tweets.
	v2PageSize = 100
	// v2MaxPages bounds one poll's paging: the endpoint serves the newest
	// 3,200 posts, 32 pages; a server that pages forever is cut off.
	v2MaxPages = 40
	// v2TweetFields are what a post needs: its time, links (for t.co
	// expansion), whether it is a retweet or reply, and the full text of a
	// long post (note_tweet).
	v2TweetFields = "author_id,created_at,entities,in_reply_to_user_id,note_tweet,referenced_tweets"
	// v2Expansions bring a retweet's original and its author into
	// includes, for the "RT @name: full text" form.
	v2Expansions = "referenced_tweets.id,referenced_tweets.id.author_id"
)

// V2 is a client of the X API v2 on behalf of one user. It is safe for
// concurrent use.
type V2 struct {
	*core
	excludeRetweets bool

	mu      sync.Mutex
	account *account // from GET /2/users/me, once
}

// account is the authenticated user.
type account struct {
	id         int64
	screenName string
}

var (
	_ daemon.Source            = (*V2)(nil)
	_ daemon.CursorOrder       = (*V2)(nil)
	_ daemon.Pacer             = (*V2)(nil)
	_ daemon.Verifier          = (*V2)(nil)
	_ daemon.Poster            = (*V2)(nil)
	_ daemon.RateLimitReporter = (*V2)(nil)
	_ daemon.UsageReporter     = (*V2)(nil)
)

// NewV2 returns a v2 client of opts.APIBase (DefaultV2Base when empty).
// It makes no request; Verify checks the credentials.
func NewV2(opts Options) (*V2, error) {
	c, _, err := newCore(opts, DefaultV2Base)
	if err != nil {
		return nil, err
	}
	return &V2{core: c, excludeRetweets: opts.ExcludeRetweets}, nil
}

// API returns APIv2.
func (c *V2) API() string { return APIv2 }

// do sends one v2 request and decodes a 2xx JSON answer into out. Every
// other answer becomes an *APIError.
func (c *V2) do(ctx context.Context, method, endpoint, path string, q url.Values, in, out any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	target := c.base + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.httpClient(c.rt).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// The transport caps the body (limitTransport).
	b, readErr := io.ReadAll(resp.Body)
	rl := c.observe(endpoint, resp, time.Since(start))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newV2APIError(resp.StatusCode, b, rl)
	}
	if readErr != nil {
		return fmt.Errorf("read response: %w", readErr)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// newV2APIError builds the error for a non-2xx v2 response.
func newV2APIError(status int, body []byte, rl RateLimit) *APIError {
	e := &APIError{StatusCode: status, RateLimitReset: rl.Reset}
	var p v2Problem
	if json.Unmarshal(body, &p) == nil {
		e.Problem = p.Type
		if len(p.Errors) > 0 {
			e.Code = p.Errors[0].Code
			e.Detail = p.Errors[0].Message
		}
		if p.Detail != "" {
			e.Detail = p.Detail
		} else if e.Detail == "" && p.Title != "" {
			e.Detail = p.Title
		}
		e.Detail = shorten(e.Detail)
	}
	e.Message = explainV2(status, e.Code, e.Problem, e.Detail, rl.Reset)
	return e
}

// me returns the authenticated user, asking GET /2/users/me only once.
func (c *V2) me(ctx context.Context) (account, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.account != nil {
		return *c.account, nil
	}
	var r struct {
		Data v2User `json:"data"`
	}
	if err := c.do(ctx, http.MethodGet, endpointMeV2, "users/me", nil, nil, &r); err != nil {
		return account{}, err
	}
	id, err := strconv.ParseInt(r.Data.ID, 10, 64)
	if err != nil || id <= 0 {
		return account{}, errors.New("response has no user id")
	}
	c.account = &account{id: id, screenName: r.Data.Username}
	return *c.account, nil
}

// Verify implements daemon.Verifier: it checks the credentials and
// returns the account they belong to.
func (c *V2) Verify(ctx context.Context) (daemon.Account, error) {
	if err := ctx.Err(); err != nil {
		return daemon.Account{}, fmt.Errorf("verify credentials: %w", err)
	}
	a, err := c.me(ctx)
	if err != nil {
		return daemon.Account{}, fmt.Errorf("verify credentials: %w", err)
	}
	return daemon.Account{ID: strconv.FormatInt(a.id, 10), Handle: a.screenName}, nil
}

// timeline fetches one page of the user's posts.
func (c *V2) timeline(ctx context.Context, me account, q url.Values) (*v2Timeline, error) {
	q.Set("tweet.fields", v2TweetFields)
	q.Set("expansions", v2Expansions)
	q.Set("user.fields", "username")
	if c.excludeRetweets {
		q.Set("exclude", "retweets")
	}
	var r v2Timeline
	path := "users/" + strconv.FormatInt(me.id, 10) + "/tweets"
	if err := c.do(ctx, http.MethodGet, endpointTimelineV2, path, q, nil, &r); err != nil {
		return nil, err
	}
	c.usage.tweetsRead.Add(int64(len(r.Data)))
	return &r, nil
}

// Since returns the user's posts after cursor, oldest first. A page that
// comes back with a next_token, or full without one, may hide older
// posts: it pages back with pagination_token (or, lacking one, until_id)
// until since_id is reached, so a long outage loses nothing.
func (c *V2) Since(ctx context.Context, cursor string) ([]daemon.Post, error) {
	sinceID, err := parseCursor(cursor)
	if err != nil {
		return nil, fmt.Errorf("fetch timeline: %w", err)
	}
	me, err := c.me(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch timeline since %d: %w", sinceID, err)
	}
	g := newGathered(sinceID)
	token, untilID := "", int64(0)
	page := 1
	for ; ; page++ {
		if page > v2MaxPages {
			c.log.Warn("too many timeline pages in one poll; older posts of this poll may be missed",
				zap.Int64("since_id", sinceID), zap.Int("pages", v2MaxPages))
			break
		}
		q := url.Values{"max_results": {strconv.Itoa(v2PageSize)}}
		if sinceID > 0 {
			q.Set("since_id", strconv.FormatInt(sinceID, 10))
		}
		switch {
		case token != "":
			q.Set("pagination_token", token)
		case untilID != 0:
			q.Set("until_id", strconv.FormatInt(untilID, 10))
		}
		r, err := c.timeline(ctx, me, q)
		if err != nil {
			return nil, fmt.Errorf("fetch timeline since %d (page %d): %w", sinceID, page, err)
		}
		batch := make([]tweetPost, 0, len(r.Data))
		for i := range r.Data {
			if p, ok := c.v2Post(&r.Data[i], &r.Includes, me); ok {
				batch = append(batch, p)
			}
		}
		oldest, reached := g.add(batch)
		if reached || len(r.Data) == 0 || oldest != 0 && oldest <= sinceID+1 {
			break
		}
		if next := r.Meta.NextToken; next != "" {
			if next == token {
				c.log.Warn("server repeats its next_token; older posts of this poll may be missed",
					zap.Int64("since_id", sinceID))
				break
			}
			token, untilID = next, 0
			continue
		}
		if len(r.Data) < v2PageSize || oldest == 0 {
			break // a short page without next_token is the end
		}
		if untilID != 0 && oldest >= untilID {
			c.log.Warn("server ignores until_id; older posts of this poll may be missed",
				zap.Int64("since_id", sinceID), zap.Int64("until_id", untilID))
			break
		}
		token, untilID = "", oldest
	}
	posts := g.sorted()
	c.log.Debug("fetched timeline", zap.Int64("since_id", sinceID), zap.Int("posts", len(posts)), zap.Int("pages", page))
	return posts, nil
}

// Newest returns the cursor after the user's newest post, or "" when
// there is none.
func (c *V2) Newest(ctx context.Context) (string, error) {
	me, err := c.me(ctx)
	if err != nil {
		return "", fmt.Errorf("fetch newest tweet: %w", err)
	}
	// 5 is the smallest max_results v2 accepts; when all five are
	// refused (ids from the future), a full page may hold a usable one.
	newest, served, err := c.newestOf(ctx, me, 5)
	if err == nil && newest == 0 && served == 5 {
		newest, _, err = c.newestOf(ctx, me, v2PageSize)
	}
	if err != nil {
		return "", fmt.Errorf("fetch newest tweet: %w", err)
	}
	return cursorOf(newest), nil
}

// newestOf returns the highest usable id among the n newest posts, and
// how many posts the page had.
func (c *V2) newestOf(ctx context.Context, me account, n int) (newest int64, served int, err error) {
	r, err := c.timeline(ctx, me, url.Values{"max_results": {strconv.Itoa(n)}})
	if err != nil {
		return 0, 0, err
	}
	for i := range r.Data {
		if id, err := strconv.ParseInt(r.Data[i].ID, 10, 64); err == nil && id > newest && c.plausibleID(id) {
			newest = id
		}
	}
	// meta.newest_id names one of the posts above; it is checked without
	// a second warning.
	if id, err := strconv.ParseInt(r.Meta.NewestID, 10, 64); err == nil && id > newest && !idFromFuture(id, c.now()) {
		newest = id
	}
	return newest, len(r.Data), nil
}

// Post implements daemon.Poster: it creates a post with POST /2/tweets.
// The answer has only the id and the text with links shortened, so the
// post carries the text as given.
func (c *V2) Post(ctx context.Context, text string) (daemon.Post, error) {
	if text == "" {
		return daemon.Post{}, errors.New("post tweet: empty text")
	}
	if err := ctx.Err(); err != nil {
		return daemon.Post{}, fmt.Errorf("post tweet: %w", err)
	}
	// The account first, so that a credentials problem fails before the
	// post exists, and the post gets its author's name for the template.
	me, err := c.me(ctx)
	if err != nil {
		return daemon.Post{}, fmt.Errorf("post tweet: %w", err)
	}
	var r struct {
		Data struct {
			ID   string `json:"id"`
			Text string `json:"text"`
		} `json:"data"`
	}
	if err := c.do(ctx, http.MethodPost, endpointTweetsV2, "tweets", nil, map[string]string{"text": text}, &r); err != nil {
		return daemon.Post{}, fmt.Errorf("post tweet: %w", err)
	}
	c.usage.tweetsPosted.Add(1)
	id, err := strconv.ParseInt(r.Data.ID, 10, 64)
	if err != nil || id <= 0 {
		return daemon.Post{}, errors.New("post tweet: response has no tweet id")
	}
	return daemon.Post{
		ID:        strconv.FormatInt(id, 10),
		Cursor:    cursorOf(id),
		Text:      text,
		URL:       c.statusURL(me.screenName, id),
		Author:    me.screenName,
		CreatedAt: c.now().UTC().Truncate(time.Second),
	}, nil
}
