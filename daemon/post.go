// Package daemon holds r2sync's domain: the posts it mirrors, the small
// interfaces it consumes (a source of new posts, a status sink, a state
// store) and the mirror loop that joins them.
package daemon

import (
	"context"
	"time"
)

// Post is one tweet as the mirror sees it. Adapters fill Text with the
// final plain text: links expanded, HTML entities unescaped, and for a
// retweet the full text of the original prefixed with "RT @name: ".
type Post struct {
	ID              int64
	Text            string
	URL             string
	ScreenName      string
	CreatedAt       time.Time
	AuthorID        int64
	InReplyToUserID int64 // 0 when the post is not a reply
	Retweet         bool
}

// Reply reports whether p answers another account. Replies to oneself
// (threads) are not replies in this sense.
func (p Post) Reply() bool {
	return p.InReplyToUserID != 0 && p.InReplyToUserID != p.AuthorID
}

// Source lists the user's own posts.
type Source interface {
	// Since returns the posts newer than sinceID, oldest first.
	Since(ctx context.Context, sinceID int64) ([]Post, error)
	// Newest returns the id of the user's newest post, or 0 when there is none.
	Newest(ctx context.Context) (int64, error)
}

// Sink publishes statuses.
type Sink interface {
	// SetStatus publishes text as the account's status. It returns nil only
	// once the server has received the status on a live session; it waits
	// for a session while none is up, until ctx ends.
	SetStatus(ctx context.Context, text string) error
}
