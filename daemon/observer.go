package daemon

import "time"

// Observer hears what the mirror does; metrics, health checks and the
// systemd status line implement it. Calls come from the mirror's
// goroutines and must not block.
type Observer interface {
	// Polled reports one poll of the source; err is nil on success.
	Polled(err error)
	// Skipped reports a post that did not become a status, and why:
	// "reply", "retweet", "posted by r2sync post", "render" or "empty".
	Skipped(reason string)
	// Delivered reports a status the server confirmed, with the time it
	// waited in the queue.
	Delivered(postID int64, queued time.Duration)
	// DeliveryFailed reports a status that could not be sent this time;
	// it stays queued.
	DeliveryFailed(err error)
	// Pending reports how many statuses wait for delivery.
	Pending(n int)
	// Uncertain reports a send of post postID's status that ended without
	// the server's acknowledgement; dropped is true when it was the last
	// allowed (MaxUncertainAttempts) and the status left the queue.
	Uncertain(postID int64, dropped bool)
	// StateWrite reports a failed write of the state (err != nil; the
	// mirror retries it) and, once, the first success after failures (err
	// == nil). Other successes go unreported.
	StateWrite(err error)
}

// Pacer is implemented by sources that know their rate-limit budget. The
// mirror asks it how long to wait before the next poll, given the
// configured interval.
type Pacer interface {
	Pace(interval time.Duration) time.Duration
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) Polled(error)                   {}
func (NopObserver) Skipped(string)                 {}
func (NopObserver) Delivered(int64, time.Duration) {}
func (NopObserver) DeliveryFailed(error)           {}
func (NopObserver) Pending(int)                    {}
func (NopObserver) Uncertain(int64, bool)          {}
func (NopObserver) StateWrite(error)               {}
