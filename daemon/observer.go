package daemon

import "time"

// Observer hears what the mirror does; metrics, health checks and the
// systemd status line implement it. Calls come from the mirror's
// goroutines and must not block.
type Observer interface {
	// Polled reports one poll of the source; err is nil on success.
	Polled(err error)
	// Seen reports how many posts one fetch from the source returned.
	Seen(n int)
	// Skipped reports a post that did not become a status, and why:
	// a Post.Skip as the source gave it, a Filter reason (the name of the
	// setting: "skip_tags", "only_pattern", "reply", "visibility", …),
	// "posted by r2sync post", "render" or "empty".
	Skipped(reason string)
	// Delivered reports a status the server confirmed, with the time it
	// waited in the queue.
	Delivered(postID string, queued time.Duration)
	// DeliveryFailed reports a status that could not be sent this time;
	// it stays queued.
	DeliveryFailed(err error)
	// Pending reports how many statuses wait for delivery.
	Pending(n int)
	// Uncertain reports a send of post postID's status that ended without
	// the server's acknowledgement; dropped is true when it was the last
	// allowed (MaxUncertainAttempts) and the status left the queue.
	Uncertain(postID string, dropped bool)
	// StateWrite reports a failed write of the state (err != nil; the
	// mirror retries it) and, once, the first success after failures (err
	// == nil). Other successes go unreported.
	StateWrite(err error)
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) Polled(error)                    {}
func (NopObserver) Seen(int)                        {}
func (NopObserver) Skipped(string)                  {}
func (NopObserver) Delivered(string, time.Duration) {}
func (NopObserver) DeliveryFailed(error)            {}
func (NopObserver) Pending(int)                     {}
func (NopObserver) Uncertain(string, bool)          {}
func (NopObserver) StateWrite(error)                {}
