package daemon

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// Init records the newest post on a first start so that older posts are not
// mirrored. It does nothing when the state is already initialized.
func (m *Mirror) Init(ctx context.Context) error {
	_, err := m.init(ctx)
	return err
}

// init is Init; fresh reports that this call initialized the state.
func (m *Mirror) init(ctx context.Context) (fresh bool, err error) {
	st, _, err := m.loadFront(ctx, 0)
	if err != nil {
		return false, fmt.Errorf("load state: %w", err)
	}
	if st.Initialized {
		return false, nil
	}
	newest, err := m.cfg.Source.Newest(ctx)
	if err != nil {
		return false, fmt.Errorf("find newest post: %w", err)
	}
	_, _, err = m.updateFront(ctx, 0, func(s *State) error {
		fresh = !s.Initialized
		if s.Initialized {
			return nil
		}
		s.Initialized = true
		s.LastID = max(s.LastID, newest)
		s.prunePosted()
		return nil
	})
	if err != nil {
		m.stateFailed(err)
		return false, fmt.Errorf("save state: %w", err)
	}
	m.stateSaved()
	if fresh {
		m.log.Info("first start: older posts are not mirrored", zap.Int64("newest_id", newest))
	}
	return fresh, nil
}

// checkCursor warns once per run when the cursor is ahead of every post
// the account has: then Since returns nothing, and mirroring has silently
// stopped for good. A failed look is tried again at the next poll.
func (m *Mirror) checkCursor(ctx context.Context, lastID int64) {
	newest, err := m.cfg.Source.Newest(ctx)
	if err != nil {
		return
	}
	m.cursorChecked.Store(true)
	if newest > 0 && newest < lastID {
		m.log.Warn("state cursor is ahead of the newest post; run `r2sync state reset`",
			zap.Int64("last_id", lastID), zap.Int64("newest_id", newest))
	}
}

// candidate is a fetched post with its rendered status, or the reason it
// is not mirrored.
type candidate struct {
	post   Post
	text   string
	reason string
	err    error // the render error, for reason "render"
}

// PollOnce initializes the state if needed, fetches new posts and queues
// their statuses. It returns how many statuses it queued.
func (m *Mirror) PollOnce(ctx context.Context) (int, error) {
	fresh, err := m.init(ctx)
	if err != nil {
		return 0, err
	}
	st, _, err := m.loadFront(ctx, 0)
	if err != nil {
		return 0, fmt.Errorf("load state: %w", err)
	}
	if fresh {
		m.cursorChecked.Store(true)
	} else if !m.cursorChecked.Load() {
		m.checkCursor(ctx, st.LastID)
	}
	posts, err := m.cfg.Source.Since(ctx, st.LastID)
	if err != nil {
		return 0, fmt.Errorf("fetch posts: %w", err)
	}
	if len(posts) == 0 {
		return 0, nil
	}
	// Render before taking the state lock, so that a slow template cannot
	// hold up `r2sync post`; report skips only once the update is saved,
	// so that a failed write followed by a retry does not count them twice.
	cands := make([]candidate, 0, len(posts))
	for _, p := range posts {
		if p.ID <= st.LastID {
			continue
		}
		c := candidate{post: p, reason: m.cfg.Filter.skipReason(p)}
		if c.reason == "" {
			c.text, c.err = m.cfg.Renderer.Render(p)
			switch {
			case c.err != nil:
				c.reason = "render"
			case c.text == "":
				c.reason = "empty"
			}
		}
		cands = append(cands, c)
	}
	var skipped []candidate
	queued := 0
	at := m.now()
	_, n, err := m.updateFront(ctx, 0, func(s *State) error {
		skipped, queued = skipped[:0], 0
		for _, c := range cands {
			// Re-read under the lock: `post` may have claimed a post meanwhile.
			if c.post.ID <= s.LastID {
				continue
			}
			s.LastID = c.post.ID
			if s.takePosted(c.post.ID) {
				c.reason, c.err = "posted by r2sync post", nil
			}
			if c.reason != "" {
				skipped = append(skipped, c)
				continue
			}
			s.Pending = append(s.Pending, Status{PostID: c.post.ID, Text: c.text, QueuedAt: at})
			queued++
		}
		s.prunePosted()
		return nil
	})
	if err != nil {
		m.stateFailed(err)
		return 0, fmt.Errorf("save state: %w", err)
	}
	m.stateSaved()
	for _, c := range skipped {
		if c.err != nil {
			m.log.Error("post skipped", zap.Int64("post_id", c.post.ID), zap.String("reason", c.reason), zap.Error(c.err))
		} else {
			m.log.Info("post skipped", zap.Int64("post_id", c.post.ID), zap.String("reason", c.reason))
		}
		m.cfg.Observer.Skipped(c.reason)
	}
	m.cfg.Observer.Pending(n)
	if queued > 0 {
		m.log.Info("statuses queued", zap.Int("count", queued))
		m.wakeDeliverer()
	}
	return queued, nil
}

// prunePosted forgets posts by `r2sync post` that the cursor has passed.
func (s *State) prunePosted() {
	if !s.Initialized {
		return
	}
	kept := s.Posted[:0]
	for _, p := range s.Posted {
		if p.ID > s.LastID {
			kept = append(kept, p)
		}
	}
	s.Posted = kept
}
