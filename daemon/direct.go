package daemon

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Online is implemented by sinks that can tell whether a status would go
// out at once: their session is up. The mirror sends a fresh post's
// status straight from the poll only then; otherwise the status is
// queued and the deliverer waits for the session, so that a poll never
// waits for one.
type Online interface {
	Online() bool
}

// sendDirect is the fast path of a poll (issue 14): when nothing is
// queued and the sink is online, each status goes on the wire first and
// one state update then records it, its cursor, the skips before it and
// the delivery, one fdatasync. A crash between the two repeats that one
// status after the restart, from the cursor, which is all the queue
// would have allowed too; nothing is lost, because the cursor never
// passes a post whose status was not sent. It returns the candidates
// left for the queue (from the first one it could not send, with the
// skips before it), the cursor they follow, how many it sent, and the
// send's error when one failed. err is a state error after a send.
func (m *Mirror) sendDirect(ctx context.Context, cursor string, fetched time.Time, cands []candidate) (rest []candidate, after string, sent int, sendErr, err error) {
	on, ok := m.cfg.Sink.(Online)
	if !ok {
		return cands, cursor, 0, nil, nil
	}
	start := 0 // cands[start:] are not recorded yet
	for i := range cands {
		c := &cands[i]
		if c.reason != "" {
			continue
		}
		if !on.Online() {
			break
		}
		// A fresh look, under the state's shared lock (a stat when
		// nothing changed): `r2sync post` claims its tweet under the lock
		// it creates it under, so a fetched post is claimed by now or
		// never; and only an empty queue may be overtaken.
		st, n, lerr := m.loadFront(ctx, 0)
		if lerr != nil || n > 0 {
			break // the queue path says what is wrong
		}
		if now, _ := st.Cursor(m.src); now != cursor || st.hasPosted(m.src, c.post.ID) {
			break
		}
		if m.paceWait(st) > 0 {
			break // max_per_hour: the deliverer spaces it
		}
		sendErr, err = m.sendNow(ctx, cursor, fetched, cands[start:i+1])
		if err != nil {
			return nil, cursor, sent, nil, err
		}
		if sendErr != nil {
			break
		}
		sent++
		cursor = c.post.Cursor
		start = i + 1
	}
	return cands[start:], cursor, sent, sendErr, nil
}

// sendNow sends the last of batch, whose earlier members are skips, and
// records them all. sendErr says the status did not go out (or may not
// have): it is for the queue. Like deliver it gets Config.Grace to finish
// once ctx ends: cutting it between the server's receipt and the record
// would repeat the status.
func (m *Mirror) sendNow(parent context.Context, cursor string, fetched time.Time, batch []candidate) (sendErr, err error) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	defer cancel()
	stop := context.AfterFunc(parent, func() { time.AfterFunc(m.cfg.Grace, cancel) })
	defer stop()

	c := &batch[len(batch)-1]
	if err := m.cfg.Sink.SetStatus(ctx, c.text); err != nil {
		m.cfg.Observer.DeliveryFailed(err)
		if isUncertain(err) {
			// Counted like any unacknowledged send: the status is queued
			// with this attempt, and the deliverer backs off first.
			c.attempts = 1
			m.cfg.Observer.Uncertain(c.post.ID, false)
			m.log.Warn("status not acknowledged; it may have been published, so it is tried at most a few times",
				zap.String("post_id", c.post.ID), zap.Int("attempt", 1), zap.Int("max_attempts", MaxUncertainAttempts))
		} else {
			m.log.Warn("status not sent at once; queued", zap.String("post_id", c.post.ID), zap.Error(err))
		}
		return err, nil
	}
	at := m.now()
	var skipped []candidate
	_, n, err := m.saveState(ctx, func(ctx context.Context) (State, int, error) {
		return m.updateFront(ctx, 0, func(s *State) error {
			skipped = skipped[:0]
			for _, k := range batch[:len(batch)-1] {
				if s.takePosted(m.src, k.post.ID) {
					k.reason, k.err = "posted by r2sync post", nil
				}
				skipped = append(skipped, k)
			}
			if now, _ := s.Cursor(m.src); now == cursor {
				s.setCursor(m.src, c.post.Cursor)
			} else if after, ordered, err := m.compare(c.post.Cursor, now); ordered && err == nil && after > 0 {
				s.setCursor(m.src, c.post.Cursor)
			}
			s.takePosted(m.src, c.post.ID)
			s.Mirrored++
			s.LastMirrored = &Delivered{PostID: c.post.ID, At: at}
			m.prunePosted(s)
			return nil
		})
	})
	if err != nil {
		m.log.Error("status sent but not recorded; it will be sent again at the next start",
			zap.String("post_id", c.post.ID), zap.Error(err))
		return nil, fmt.Errorf("save state: %w", err)
	}
	m.reportSkipped(skipped)
	m.cfg.Observer.Delivered(c.post.ID, at.Sub(fetched))
	m.cfg.Observer.Pending(n)
	m.log.Info("status set", zap.String("post_id", c.post.ID), zap.Duration("delay", at.Sub(fetched)))
	return nil, nil
}

// directFailed makes the deliverer back off before it tries the status
// the poll could not send.
func (m *Mirror) directFailed(err error) {
	select {
	case m.failed <- err:
	default:
	}
}
