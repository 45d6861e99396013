// Package daemon holds r2sync's domain: the posts it mirrors, the small
// interfaces it consumes (a source of new posts, a status sink, a state
// store) and the mirror loop that joins them. It knows no source or sink
// by name: ids and cursors are strings only the adapter that made them
// interprets.
package daemon

import (
	"context"
	"time"
)

// Post is one post of a source as the mirror sees it. Adapters fill Text
// with the final plain text: links expanded, entities unescaped, and for
// a repost the text of the original in the source's usual form (X: "RT
// @name: ").
type Post struct {
	// ID names the post within its source. The queue and the claims of
	// `r2sync post` use it; nothing compares it.
	ID string
	// Cursor is the source's cursor just past this post: Since(Cursor)
	// no longer returns it. The state keeps the cursor of the newest
	// post taken into account.
	Cursor string
	// Text is the post's text, ready for the template.
	Text string
	// URL is the post's permalink.
	URL string
	// Author is the author's handle, without any "@".
	Author    string
	CreatedAt time.Time
	// Reply is true when the post answers another account. A reply to
	// oneself (a thread) is not a reply in this sense.
	Reply bool
	// Repost is true when the post shares another post (X: a retweet).
	Repost bool
	// Hashtags are the post's tags as the source lists them, without '#'.
	Hashtags []string
	// Visibility is the source's audience setting ("public", "unlisted",
	// …), or "" where the source has none.
	Visibility string
	// Skip, when set, is the source's reason why the post must never
	// become a status ("visibility", "content_warning", …). The mirror
	// counts it as a skip with that reason and moves its cursor past it.
	Skip string
}

// Source lists the user's own posts. Its cursors are opaque strings:
// "" is before every post, and only the source knows what the others
// mean.
type Source interface {
	// Since returns the posts after cursor, oldest first, each with the
	// cursor just past it.
	Since(ctx context.Context, cursor string) ([]Post, error)
	// Newest returns the cursor just past the user's newest post, or ""
	// when there is none.
	Newest(ctx context.Context) (string, error)
}

// CursorOrder is an optional ability of a Source whose cursors are
// ordered. With it the mirror checks what it cannot take on trust: a
// cursor in the state the source cannot read, a cursor ahead of every
// post (nothing would ever be mirrored again), posts at or before the
// cursor, and claims of `r2sync post` the cursor has passed. Without it
// the mirror relies on the source to return only what lies after the
// cursor.
type CursorOrder interface {
	// CompareCursors returns a negative number when a comes before b, 0
	// when they are the same place and a positive number when a comes
	// after b. It fails when a or b is not a cursor of this source.
	CompareCursors(a, b string) (int, error)
}

// Sink publishes statuses.
type Sink interface {
	// SetStatus publishes text as the account's status. It returns nil only
	// once the server has received the status on a live session; it waits
	// for a session while none is up, until ctx ends.
	SetStatus(ctx context.Context, text string) error
}
