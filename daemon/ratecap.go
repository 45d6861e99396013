package daemon

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// spacing is the least time between two deliveries under
// Config.MaxPerHour, or 0 without a cap. Spacing the statuses evenly,
// rather than counting per clock hour, keeps a burst from becoming
// MaxPerHour posts in its first minute.
func (m *Mirror) spacing() time.Duration {
	if m.cfg.MaxPerHour <= 0 {
		return 0
	}
	return time.Hour / time.Duration(m.cfg.MaxPerHour)
}

// paceWait returns how long the next delivery must wait for the cap,
// given the state's last delivery. The state file keeps that time, so
// the pace holds across restarts. A last delivery in the future (the
// clock went back) costs at most one spacing.
func (m *Mirror) paceWait(st State) time.Duration {
	gap := m.spacing()
	if gap == 0 || st.LastMirrored == nil {
		return 0
	}
	wait := st.LastMirrored.At.Add(gap).Sub(m.now())
	return min(wait, gap)
}

// pace waits out paceWait(st). It returns ctx's error when ctx ends
// first, and whether it waited at all, so that the caller reloads the
// queue (it may have changed meanwhile).
func (m *Mirror) pace(ctx context.Context, st State, queued int) (bool, error) {
	wait := m.paceWait(st)
	if wait <= 0 {
		return false, nil
	}
	m.log.Debug("status waits for max_per_hour", zap.Duration("wait", wait), zap.Int("queued", queued))
	select {
	case <-ctx.Done():
		return true, ctx.Err()
	case <-m.after(wait):
		return true, nil
	}
}
