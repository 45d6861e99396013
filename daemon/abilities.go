package daemon

import (
	"context"
	"time"
)

// Optional abilities of sources and sinks. Each is a small interface that
// the mirror, the health monitor or a command checks with a type
// assertion on the adapter itself; nothing wraps an adapter, so nothing
// can hide one.

// Pacer is implemented by sources that know their rate-limit budget. The
// mirror asks it how long to wait before the next poll, given the
// configured interval.
type Pacer interface {
	Pace(interval time.Duration) time.Duration
}

// Account is the user a source acts for.
type Account struct {
	ID     string
	Handle string // without any "@"
}

// Verifier is implemented by sources that can check their credentials
// without reading posts (`r2sync check`, `r2sync login`).
type Verifier interface {
	Verify(ctx context.Context) (Account, error)
}

// Poster is implemented by sources that can publish a post for the user
// (`r2sync post`). The returned Post is as the source stored it, with its
// cursor, so that the mirror can recognise it later.
type Poster interface {
	Post(ctx context.Context, text string) (Post, error)
}

// RateLimit is an API budget as the source last saw it. The zero value
// means unknown.
type RateLimit struct {
	Limit     int       // requests allowed in the window
	Remaining int       // requests left in the window
	Reset     time.Time // when the window resets
}

// RateLimitReporter is implemented by sources that read their API's
// rate-limit budget; health reports it.
type RateLimitReporter interface {
	RateLimit() RateLimit
}

// Usage is what a source's API client did since it was made. On
// pay-per-use plans reads are billed per post returned and writes per
// post created, so PostsRead and PostsCreated are what cost money.
type Usage struct {
	Requests     int64 // every API response, whatever its status
	ReadRequests int64 // responses to reads (GET)
	PostsRead    int64 // posts received in timeline responses
	PostsCreated int64 // posts created
}

// UsageReporter is implemented by sources that count their API use;
// health reports it.
type UsageReporter interface {
	Usage() Usage
}

// EventCounter is implemented by sources that see events besides new
// posts (edits, deletes, a followed account's posts on a stream) and
// count them: they are never mirrored, but health reports them. Keys are
// short event names, a fixed set per source.
type EventCounter interface {
	EventCounts() map[string]int64
}

// Sanitizer is implemented by sinks that cannot carry every string (XMPP
// cannot carry what XML 1.0 forbids). The mirror cleans each rendered
// status with it before cutting it to length, so that the queued text is
// the one the sink publishes, and a status that is empty once cleaned is
// skipped rather than queued.
type Sanitizer interface {
	Sanitize(text string) string
}

// SanitizerOf returns sink's Sanitize, or nil when it has none.
func SanitizerOf(sink Sink) func(string) string {
	if s, ok := sink.(Sanitizer); ok {
		return s.Sanitize
	}
	return nil
}

// RecentLister is implemented by sources that can list the user's newest
// posts whatever the cursor (`r2sync preview`).
type RecentLister interface {
	// Recent returns the user's n newest posts (fewer when the source
	// has fewer), oldest first, each with its cursor, converted exactly
	// as Since converts them.
	Recent(ctx context.Context, n int) ([]Post, error)
}
