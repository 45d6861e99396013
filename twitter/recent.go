package twitter

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/r2sync/r2sync/daemon"
)

var (
	_ daemon.RecentLister = (*V1)(nil)
	_ daemon.RecentLister = (*V2)(nil)
)

// newestN returns the newest n of g's posts, oldest first.
func newestN(g *gathered, n int) []daemon.Post {
	posts := g.sorted()
	return posts[max(0, len(posts)-n):]
}

// Recent implements daemon.RecentLister for `r2sync preview`: the user's
// n newest tweets, oldest first, converted as Since converts them. It
// pages back with max_id when n is over one page.
func (c *V1) Recent(ctx context.Context, n int) ([]daemon.Post, error) {
	g := newGathered(0)
	var maxID int64
	for page := 1; page <= maxPages && len(g.posts) < n; page++ {
		tweets, err := c.timeline(ctx, 0, maxID, min(pageSize, n-len(g.posts)))
		if err != nil {
			return nil, fmt.Errorf("fetch recent tweets (page %d): %w", page, err)
		}
		if len(tweets) == 0 {
			break
		}
		batch := make([]tweetPost, 0, len(tweets))
		for i := range tweets {
			if p, ok := c.toPost(&tweets[i]); ok {
				batch = append(batch, p)
			}
		}
		oldest, _ := g.add(batch)
		if oldest <= 1 || (maxID != 0 && oldest > maxID) {
			break
		}
		maxID = oldest - 1
	}
	return newestN(g, n), nil
}

// Recent implements daemon.RecentLister for `r2sync preview`: the user's
// n newest posts, oldest first, converted as Since converts them. It
// follows next_token when n is over one page.
func (c *V2) Recent(ctx context.Context, n int) ([]daemon.Post, error) {
	me, err := c.me(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch recent posts: %w", err)
	}
	g := newGathered(0)
	token := ""
	for page := 1; page <= v2MaxPages && len(g.posts) < n; page++ {
		// 5 is the least max_results the endpoint accepts.
		q := url.Values{"max_results": {strconv.Itoa(min(v2PageSize, max(5, n-len(g.posts))))}}
		if token != "" {
			q.Set("pagination_token", token)
		}
		r, err := c.timeline(ctx, me, q)
		if err != nil {
			return nil, fmt.Errorf("fetch recent posts (page %d): %w", page, err)
		}
		batch := make([]tweetPost, 0, len(r.Data))
		for i := range r.Data {
			if p, ok := c.v2Post(&r.Data[i], &r.Includes, me); ok {
				batch = append(batch, p)
			}
		}
		g.add(batch)
		if r.Meta.NextToken == "" || r.Meta.NextToken == token || len(r.Data) == 0 {
			break
		}
		token = r.Meta.NextToken
	}
	return newestN(g, n), nil
}
