package daemon

import (
	"time"

	"go.uber.org/zap"
)

// brokenSource tracks a run of polls that failed with an error needing
// the user's attention (Permanent(), such as rejected credentials). It
// logs once when the run starts, with the fix, and once when the source
// works again, not at every retry: a mirror whose tokens were revoked
// would otherwise write an ERROR line per retry for days.
type brokenSource struct {
	since   time.Time     // zero while the source works
	wait    time.Duration // the last wait of the run
	retries int
}

// next returns the wait before the next poll: the interval at first,
// doubling up to PermanentErrorBackoff (or the interval when longer).
func (b *brokenSource) next(interval time.Duration) time.Duration {
	if b.wait == 0 {
		b.wait = interval
	} else {
		b.wait = min(b.wait*2, max(PermanentErrorBackoff, interval))
	}
	return b.wait
}

// failed records a failed poll that will be retried after wait.
func (b *brokenSource) failed(m *Mirror, err error, wait time.Duration) {
	if !b.since.IsZero() {
		b.retries++
		m.log.Debug("poll still failing", zap.Error(err), zap.Duration("retry_in", wait), zap.Int("retries", b.retries))
		return
	}
	b.since = m.now()
	m.log.Error("poll failed; fix the cause, r2sync retries with a growing wait meanwhile",
		zap.Error(err), zap.Duration("retry_in", wait), zap.Duration("max_wait", max(PermanentErrorBackoff, m.cfg.PollInterval)))
}

// works records a successful poll, ending any run of failures.
func (b *brokenSource) works(m *Mirror) {
	if b.since.IsZero() {
		b.wait = 0
		return
	}
	m.log.Info("source works again", zap.Duration("failed_for", m.now().Sub(b.since)), zap.Int("retries", b.retries))
	*b = brokenSource{}
}
