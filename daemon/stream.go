package daemon

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// Streamer is an optional ability of a Source whose network pushes new
// posts as they are made, so that a status can follow a post in
// milliseconds rather than half a poll interval. Polling goes on beside
// the stream and fills every gap it leaves.
type Streamer interface {
	// Stream runs until ctx ends and returns ctx.Err(); it reconnects by
	// itself, with back-off. After every (re)connect it calls push(ctx,
	// nil): the mirror then polls Since(cursor), which fills whatever the
	// stream missed while it was down. For each new post it calls
	// push(ctx, []Post{p}) with the post's Cursor set. push returns once
	// the posts are queued durably or ignored; it fails only when ctx
	// ends or the mirror has stopped for good.
	Stream(ctx context.Context, push func(ctx context.Context, posts []Post) error) error
}

// push is one call of a Streamer's push, handed to the poll loop so that
// pushed posts and polls never race for the cursor.
type push struct {
	posts []Post
	done  chan error // capacity 1
}

// pushFunc is the push a Streamer gets: it waits until the poll loop has
// taken the posts in.
func (m *Mirror) pushFunc(ctx context.Context, posts []Post) error {
	p := push{posts: posts, done: make(chan error, 1)}
	select {
	case m.pushes <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-m.stopped:
		return errMirrorStopped
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errMirrorStopped is what push returns once the poll loop has ended.
var errMirrorStopped = fmt.Errorf("mirror stopped")

// streamLoop runs the source's stream, if it has one, until ctx ends.
func (m *Mirror) streamLoop(ctx context.Context, s Streamer) error {
	err := s.Stream(ctx, m.pushFunc)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		// A Streamer only returns early on a bug or a fault retrying
		// cannot fix; polling still mirrors everything.
		m.log.Error("stream ended; polling goes on", zap.Error(err))
	}
	<-ctx.Done()
	return ctx.Err()
}

// handlePush takes in one push on the poll loop: nil posts ask for a poll
// now, posts are queued as a poll's would be. Only fatal errors are
// returned; others are logged, and the next poll retries what was not
// taken (the cursor did not move past it).
func (m *Mirror) handlePush(ctx context.Context, p push) error {
	pctx, cancel := context.WithTimeout(ctx, PollTimeout)
	defer cancel()
	var err error
	if p.posts == nil || m.order == nil {
		// Without an order pushed posts cannot be told from repeats: the
		// source is polled instead.
		_, err = m.PollOnce(pctx)
		m.cfg.Observer.Polled(err)
	} else {
		_, err = m.takePushed(pctx, p.posts)
	}
	if err != nil && !IsFatal(err) {
		if ctx.Err() == nil {
			m.log.Warn("pushed posts not taken; the next poll retries", zap.Error(err))
		}
		err = nil
	}
	p.done <- err
	return err
}

// takePushed queues the statuses of posts a Streamer pushed, skipping
// those at or before the cursor.
func (m *Mirror) takePushed(ctx context.Context, posts []Post) (int, error) {
	cursor, err := m.prepare(ctx)
	if err != nil {
		return 0, err
	}
	return m.take(ctx, cursor, posts)
}
