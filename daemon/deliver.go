package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// MaxUncertainAttempts is how many sends of one status may end Uncertain
// (written to a live session, never acknowledged, so perhaps published)
// before the status is dropped: no server may turn one post into a flood
// by cutting every connection before its answer. It counts across
// restarts: each such failure is saved with the status. Failures that
// wrote nothing (no session) do not count; those retry without end.
const MaxUncertainAttempts = 3

// droppedMessage is the one line that says a status was given up.
var droppedMessage = fmt.Sprintf("status dropped after %d unacknowledged attempts", MaxUncertainAttempts)

// DeliverOnce sends the pending statuses in order until none is left. Each
// is removed from the state only after the Sink confirmed it, so a crash
// can repeat at most the one status in flight and never lose one. Under
// Config.MaxPerHour it waits between statuses.
func (m *Mirror) DeliverOnce(ctx context.Context) (int, error) {
	delivered, paced := 0, false
	for {
		st, n, err := m.loadFront(ctx, 1)
		if err != nil {
			return delivered, fmt.Errorf("load state: %w", err)
		}
		if n == 0 {
			return delivered, nil
		}
		if err := ctx.Err(); err != nil {
			return delivered, err
		}
		if !paced {
			// After one wait the status goes, whatever the clock says
			// now: a wait that ends early must not become a busy loop.
			waited, err := m.pace(ctx, st, n)
			if err != nil {
				return delivered, err
			}
			if paced = waited; waited {
				continue // the queue may have changed meanwhile
			}
		}
		paced = false
		if err := m.deliver(ctx, st.Pending[0]); err != nil {
			return delivered, err
		}
		delivered++
	}
}

// deliver sends one status and removes it from the queue. A shutdown does
// not interrupt it at once: cutting the send between the server's receipt
// and the state update would repeat the status after a restart, so it
// gets Config.Grace to finish.
func (m *Mirror) deliver(parent context.Context, next Status) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	defer cancel()
	stop := context.AfterFunc(parent, func() { time.AfterFunc(m.cfg.Grace, cancel) })
	defer stop()

	if next.Attempts >= MaxUncertainAttempts {
		// Saved by a run that died before it could drop it.
		return m.uncertain(ctx, next, errors.New("no acknowledgement in earlier runs"))
	}
	if err := m.cfg.Sink.SetStatus(ctx, next.Text); err != nil {
		m.cfg.Observer.DeliveryFailed(err)
		if isUncertain(err) {
			return m.uncertain(ctx, next, err)
		}
		return fmt.Errorf("set status for post %s: %w", next.PostID, err)
	}
	at := m.now()
	n, found, err := m.changeStatus(ctx, next.PostID, func(s *State, i int) {
		s.Pending = append(s.Pending[:i], s.Pending[i+1:]...)
		s.Mirrored++
		s.LastMirrored = &Delivered{PostID: next.PostID, At: at}
	})
	if err != nil {
		m.log.Error("status sent but not recorded; it will be sent again at the next start",
			zap.String("post_id", next.PostID), zap.Error(err))
		return fmt.Errorf("save state: %w", err)
	}
	if found {
		m.cfg.Observer.Delivered(next.PostID, at.Sub(next.QueuedAt))
	}
	m.cfg.Observer.Pending(n)
	m.log.Info("status set",
		zap.String("post_id", next.PostID),
		zap.Duration("delay", at.Sub(next.QueuedAt)))
	return nil
}

// uncertain counts an unacknowledged send of next, durably, and drops the
// status after the last allowed one. It returns the send's error so that
// the deliverer backs off before the next try.
func (m *Mirror) uncertain(ctx context.Context, next Status, sendErr error) error {
	dropped := false
	n, found, err := m.changeStatus(ctx, next.PostID, func(s *State, i int) {
		s.Pending[i].Attempts++
		if dropped = s.Pending[i].Attempts >= MaxUncertainAttempts; dropped {
			s.Pending = append(s.Pending[:i], s.Pending[i+1:]...)
		}
	})
	sendErr = fmt.Errorf("set status for post %s: %w", next.PostID, sendErr)
	if err != nil {
		return fmt.Errorf("%w (and counting the attempt failed: %v)", sendErr, err)
	}
	if !found {
		return sendErr
	}
	m.cfg.Observer.Uncertain(next.PostID, dropped)
	m.cfg.Observer.Pending(n)
	if dropped {
		m.log.Error(droppedMessage, zap.String("post_id", next.PostID), zap.Error(sendErr))
		return sendErr
	}
	m.log.Warn("status not acknowledged; it may have been published, so it is tried at most a few times",
		zap.String("post_id", next.PostID), zap.Int("attempt", next.Attempts+1), zap.Int("max_attempts", MaxUncertainAttempts))
	return sendErr
}

// errMoved says the status is no longer first in the queue.
var errMoved = errors.New("status no longer first in the queue")

// changeStatus applies fn to the pending status of post id, retrying the
// write until it is saved (see saveState). It looks at the front of the
// queue only, which is where the status was, unless another process moved
// it. found is false, and nothing is written, when it is no longer queued.
func (m *Mirror) changeStatus(ctx context.Context, id string, fn func(s *State, i int)) (n int, found bool, err error) {
	apply := func(s *State) error {
		for i := range s.Pending {
			if s.Pending[i].PostID == id {
				found = true
				fn(s, i)
				return nil
			}
		}
		return errMoved
	}
	_, n, err = m.saveState(ctx, func(ctx context.Context) (State, int, error) {
		found = false
		st, n, err := m.updateFront(ctx, 1, apply)
		if !errors.Is(err, errMoved) {
			return st, n, err
		}
		st, err = m.cfg.Store.Update(ctx, apply)
		if errors.Is(err, errMoved) {
			return st, 0, nil
		}
		return st, len(st.Pending), err
	})
	if !found && err == nil {
		_, n, err = m.loadFront(ctx, 0)
	}
	return n, found, err
}
