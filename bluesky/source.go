package bluesky

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

const (
	// pageSize is getAuthorFeed's largest limit.
	pageSize = 100
	// firstPage is the size of a poll's first page: most polls find the
	// cursor's post among the newest few, and a small page is read and
	// decoded faster.
	firstPage = 10
	// maxPages bounds one Since: a server whose cursors never end is cut
	// off after 3,000 posts.
	maxPages = 30
	// feedFilter lists the account's posts and replies and its reposts,
	// without other people's posts in its threads.
	feedFilter = "posts_with_replies"
)

// authorFeed fetches one page of the account's feed, newest first.
func (c *Client) authorFeed(ctx context.Context, me daemon.Account, limit int, cursor string) (*feedPage, error) {
	q := url.Values{
		"actor":  {me.ID},
		"limit":  {strconv.Itoa(limit)},
		"filter": {feedFilter},
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var p feedPage
	if err := c.xrpc(ctx, c.opts.AppView, "app.bsky.feed.getAuthorFeed", q, nil, "", &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// walk pages back through the feed, first limit items then pageSize at
// a time, calling keep with each page's posts (newest first) until keep
// returns false, the feed ends or maxPages.
func (c *Client) walk(ctx context.Context, me daemon.Account, limit int, keep func([]daemon.Post) bool) error {
	cursor := ""
	for page := 1; ; page, limit = page+1, pageSize {
		if page > maxPages {
			c.log.Warn("too many feed pages in one poll; older posts of this poll may be missed", zap.Int("pages", maxPages))
			return nil
		}
		p, err := c.authorFeed(ctx, me, limit, cursor)
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		posts := c.pagePosts(me, p)
		if !keep(posts) || p.Cursor == "" || len(p.Feed) == 0 {
			return nil
		}
		if p.Cursor == cursor {
			c.log.Warn("server repeats its feed cursor; older posts of this poll may be missed")
			return nil
		}
		cursor = p.Cursor
	}
}

// pagePosts returns the posts of me on a page, newest first.
func (c *Client) pagePosts(me daemon.Account, p *feedPage) []daemon.Post {
	posts := make([]daemon.Post, 0, len(p.Feed))
	for _, raw := range p.Feed {
		var it feedItem
		if err := json.Unmarshal(raw, &it); err != nil {
			c.log.Warn("feed item unreadable; skipped", zap.Error(err))
			continue
		}
		if post, ok := itemPost(me, &it); ok {
			posts = append(posts, post)
		}
	}
	c.postsRead.Add(int64(len(posts)))
	return posts
}

// Since implements daemon.Source: the posts after cursor (a record
// key), oldest first. getAuthorFeed has no "since": it pages back until
// a page reaches the cursor.
func (c *Client) Since(ctx context.Context, cursor string) ([]daemon.Post, error) {
	if cursor != "" && !validTID(cursor) {
		return nil, fmt.Errorf("fetch feed: cursor %q is not a record key", shorten(cursor))
	}
	me, err := c.me(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch feed since %s: %w", cursor, err)
	}
	var got []daemon.Post
	err = c.walk(ctx, me, firstPage, func(posts []daemon.Post) bool {
		reached := false
		for _, p := range posts {
			if p.Cursor > cursor {
				got = append(got, p)
			} else {
				reached = true
			}
		}
		return !reached
	})
	if err != nil {
		return nil, fmt.Errorf("fetch feed since %s: %w", cursor, err)
	}
	return oldestFirst(got), nil
}

// Newest implements daemon.Source: the key of the newest post, or ""
// when the account has none.
func (c *Client) Newest(ctx context.Context) (string, error) {
	me, err := c.me(ctx)
	if err != nil {
		return "", fmt.Errorf("fetch newest post: %w", err)
	}
	p, err := c.authorFeed(ctx, me, firstPage, "")
	if err != nil {
		return "", fmt.Errorf("fetch newest post: %w", err)
	}
	newest := ""
	for _, post := range c.pagePosts(me, p) {
		newest = max(newest, post.Cursor)
	}
	return newest, nil
}

// Recent returns the account's newest n posts, oldest first.
func (c *Client) Recent(ctx context.Context, n int) ([]daemon.Post, error) {
	if n <= 0 {
		return nil, nil
	}
	me, err := c.me(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch recent posts: %w", err)
	}
	var got []daemon.Post
	err = c.walk(ctx, me, min(n, pageSize), func(posts []daemon.Post) bool {
		got = append(got, posts...)
		return len(got) < n
	})
	if err != nil {
		return nil, fmt.Errorf("fetch recent posts: %w", err)
	}
	got = oldestFirst(got)
	if len(got) > n {
		got = got[len(got)-n:]
	}
	return got, nil
}

// oldestFirst sorts posts by cursor and drops repeats (a post listed on
// two pages while new posts pushed the feed down).
func oldestFirst(posts []daemon.Post) []daemon.Post {
	slices.SortStableFunc(posts, func(a, b daemon.Post) int { return strings.Compare(a.Cursor, b.Cursor) })
	return slices.CompactFunc(posts, func(a, b daemon.Post) bool { return a.Cursor == b.Cursor })
}
