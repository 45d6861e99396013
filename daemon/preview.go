package daemon

import (
	"context"
	"errors"
	"fmt"
)

// Planned is what one post would become: a status, or a skip.
type Planned struct {
	Post Post
	// Status is the exact text the mirror would queue, when Reason is "".
	Status string
	// Reason is why the post would be skipped, as the log and metrics
	// name it; Key and Value say what triggered it (see Verdict).
	Reason     string
	Key, Value string
	// Err is the render error, for Reason "render".
	Err error
}

// ErrNoRecent says the source cannot list its newest posts.
var ErrNoRecent = errors.New("the source cannot list its newest posts")

// Preview fetches the n newest posts and returns, oldest first, what the
// mirror would make of each if it saw it now: the same filter, template,
// sink cleaning and truncation as PollOnce. It sends nothing and neither
// reads nor writes the state, so claims of `r2sync post` are not shown.
func (m *Mirror) Preview(ctx context.Context, n int) ([]Planned, error) {
	r, ok := m.cfg.Source.(RecentLister)
	if !ok {
		return nil, ErrNoRecent
	}
	posts, err := r.Recent(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("fetch recent posts: %w", err)
	}
	now := m.now()
	out := make([]Planned, len(posts))
	for i, p := range posts {
		c := m.plan(p, now)
		out[i] = Planned{Post: p, Status: c.text, Reason: c.reason, Key: c.key, Value: c.value, Err: c.err}
	}
	return out, nil
}
