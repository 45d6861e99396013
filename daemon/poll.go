package daemon

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Init records the newest post on a first start so that older posts are not
// mirrored. It does nothing when the source has a cursor already.
func (m *Mirror) Init(ctx context.Context) error {
	_, _, err := m.init(ctx)
	return err
}

// init is Init; fresh reports that this call recorded the source's cursor.
// It returns the state as it read or wrote it, so that a poll reads the
// state once.
func (m *Mirror) init(ctx context.Context) (st State, fresh bool, err error) {
	st, _, err = m.loadFront(ctx, 0)
	if err != nil {
		return State{}, false, fmt.Errorf("load state: %w", err)
	}
	if _, ok := st.Cursor(m.src); ok {
		return st, false, nil
	}
	newest, err := m.cfg.Source.Newest(ctx)
	if err != nil {
		return State{}, false, fmt.Errorf("find newest post: %w", err)
	}
	st, _, err = m.updateFront(ctx, 0, func(s *State) error {
		_, started := s.Cursor(m.src)
		if fresh = !started; started {
			return nil
		}
		s.Initialized = true
		s.setCursor(m.src, newest)
		m.prunePosted(s)
		return nil
	})
	if err != nil {
		m.stateFailed(err)
		return State{}, false, fmt.Errorf("save state: %w", err)
	}
	m.stateSaved()
	if fresh {
		m.log.Info("first start: older posts are not mirrored", zap.String("source", m.src), zap.String("newest", newest))
	}
	return st, fresh, nil
}

// compare orders two cursors of the source; ok is false when the source
// has no order.
func (m *Mirror) compare(a, b string) (c int, ok bool, err error) {
	if m.order == nil {
		return 0, false, nil
	}
	c, err = m.order.CompareCursors(a, b)
	return c, true, err
}

// checkCursor fails when the source does not take cursor for one of its
// own (it can tell only with a CursorOrder).
func (m *Mirror) checkCursor(cursor string) error {
	if _, _, err := m.compare(cursor, cursor); err != nil {
		return &CursorError{Source: m.src, Cursor: cursor, Err: err}
	}
	return nil
}

// checkAhead warns once per run when the cursor is ahead of every post
// the account has: then Since returns nothing, and mirroring has silently
// stopped for good. A failed look is tried again at the next poll.
func (m *Mirror) checkAhead(ctx context.Context, cursor string) {
	if m.order == nil {
		m.cursorChecked.Store(true)
		return
	}
	newest, err := m.cfg.Source.Newest(ctx)
	if err != nil {
		return
	}
	m.cursorChecked.Store(true)
	if newest == "" {
		return
	}
	if c, _, err := m.compare(newest, cursor); err == nil && c < 0 {
		m.log.Warn("state cursor is ahead of the newest post; run `r2sync state reset`",
			zap.String("source", m.src), zap.String("cursor", cursor), zap.String("newest", newest))
	}
}

// candidate is a fetched post with its rendered status, or the reason it
// is not mirrored.
type candidate struct {
	post   Post
	text   string
	reason string
	key    string // what triggered reason, if anything (Verdict.Key)
	value  string
	err    error // the render error, for reason "render"
	// attempts counts an unacknowledged send of the poll's own (see
	// sendDirect), for the queue.
	attempts int
}

// plan decides what p becomes when seen at now: the filter, then the
// template, the sink's cleaning and truncation. PollOnce and Preview both
// use it, so that a preview shows exactly the daemon's strings.
func (m *Mirror) plan(p Post, now time.Time) candidate {
	shown, v := m.cfg.Filter.Check(p, now)
	c := candidate{post: p, reason: v.Reason, key: v.Key, value: v.Value}
	if c.reason != "" {
		return c
	}
	c.text, c.err = m.cfg.Renderer.Render(shown, m.sanitize)
	switch {
	case c.err != nil:
		c.reason = "render"
	case c.text == "":
		c.reason = "empty"
	}
	return c
}

// logSkip logs why c was not mirrored.
func (m *Mirror) logSkip(c candidate) {
	fields := []zap.Field{zap.String("post_id", c.post.ID), zap.String("reason", c.reason)}
	if c.key != "" {
		fields = append(fields, zap.String(c.key, c.value))
	}
	if c.err != nil {
		m.log.Error("post skipped", append(fields, zap.Error(c.err))...)
		return
	}
	m.log.Info("post skipped", fields...)
}

// PollOnce initializes the state if needed, fetches new posts and queues
// their statuses. It returns how many statuses it queued.
func (m *Mirror) PollOnce(ctx context.Context) (int, error) {
	cursor, err := m.prepare(ctx)
	if err != nil {
		return 0, err
	}
	posts, err := m.cfg.Source.Since(ctx, cursor)
	m.cfg.Observer.Seen(len(posts))
	if err != nil {
		return 0, fmt.Errorf("fetch posts: %w", err)
	}
	return m.take(ctx, cursor, posts)
}

// prepare initializes the state if needed and returns the source's
// cursor, checked.
func (m *Mirror) prepare(ctx context.Context) (string, error) {
	st, fresh, err := m.init(ctx)
	if err != nil {
		return "", err
	}
	cursor, _ := st.Cursor(m.src)
	if err := m.checkCursor(cursor); err != nil {
		return "", err
	}
	if fresh {
		m.cursorChecked.Store(true)
	} else if !m.cursorChecked.Load() {
		m.checkAhead(ctx, cursor)
	}
	return cursor, nil
}

// take sends or queues the statuses of posts, fetched or pushed after
// cursor, and moves the cursor past them: with an empty queue and an
// Online sink it sends them at once (see sendDirect), else it queues them
// for the deliverer. It returns how many statuses it sent or queued.
func (m *Mirror) take(ctx context.Context, cursor string, posts []Post) (int, error) {
	if len(posts) == 0 {
		return 0, nil
	}
	// Render before taking the state lock, so that a slow template cannot
	// hold up `r2sync post`; report skips only once the update is saved,
	// so that a failed write followed by a retry does not count them twice.
	cands := make([]candidate, 0, len(posts))
	seen := m.now()
	last := cursor
	for _, p := range posts {
		// With an order, the cursor only moves forward, whatever the
		// source returns.
		after, ordered, err := m.compare(p.Cursor, last)
		if err != nil {
			return 0, fmt.Errorf("fetch posts: post %s: %w", p.ID, err)
		}
		if ordered && after <= 0 {
			continue
		}
		last = p.Cursor
		cands = append(cands, m.plan(p, seen))
	}
	cands, cursor, sent, sendErr, err := m.sendDirect(ctx, cursor, seen, cands)
	if err != nil {
		return sent, err
	}
	if len(cands) == 0 {
		return sent, nil
	}
	var skipped []candidate
	queued := 0
	at := m.now()
	_, n, err := m.updateFront(ctx, 0, func(s *State) error {
		skipped, queued = skipped[:0], 0
		// Re-read under the lock: another process may have moved the
		// cursor meanwhile. Then only posts past its cursor are new; a
		// source without an order is asked again from there.
		now, _ := s.Cursor(m.src)
		for _, c := range cands {
			if now != cursor {
				if after, ordered, err := m.compare(c.post.Cursor, now); !ordered || err != nil || after <= 0 {
					continue
				}
			}
			s.setCursor(m.src, c.post.Cursor)
			if s.takePosted(m.src, c.post.ID) {
				c.reason, c.err = "posted by r2sync post", nil
			}
			if c.reason != "" {
				skipped = append(skipped, c)
				continue
			}
			s.Pending = append(s.Pending, Status{PostID: c.post.ID, Text: c.text, QueuedAt: at, Attempts: c.attempts})
			queued++
		}
		m.prunePosted(s)
		return nil
	})
	if err != nil {
		m.stateFailed(err)
		return sent, fmt.Errorf("save state: %w", err)
	}
	m.stateSaved()
	m.reportSkipped(skipped)
	m.cfg.Observer.Pending(n)
	if queued > 0 {
		m.log.Info("statuses queued", zap.Int("count", queued))
		if sendErr != nil {
			m.directFailed(sendErr)
		} else {
			m.wakeDeliverer()
		}
	}
	return sent + queued, nil
}

// reportSkipped logs and counts skips once they are saved.
func (m *Mirror) reportSkipped(skipped []candidate) {
	for _, c := range skipped {
		m.logSkip(c)
		m.cfg.Observer.Skipped(c.reason)
	}
}

// prunePosted forgets claims of `r2sync post` on this source that the
// cursor has passed: the post was deleted, or seen by another run. It
// needs the source's order; without one a claim stays until its post is
// seen.
func (m *Mirror) prunePosted(s *State) {
	cursor, ok := s.Cursor(m.src)
	if !ok || m.order == nil {
		return
	}
	kept := s.Posted[:0]
	for _, p := range s.Posted {
		if p.Source == m.src && p.Cursor != "" {
			if c, err := m.order.CompareCursors(p.Cursor, cursor); err == nil && c <= 0 {
				continue
			}
		}
		kept = append(kept, p)
	}
	s.Posted = kept
}
