package daemon

import (
	"context"
	"time"
)

// State is what the daemon remembers between runs. Ids are stored as JSON
// strings: readers that decode numbers as float64 would round 64-bit ids.
type State struct {
	// Initialized is false until the first start has recorded the newest
	// post, so that a fresh install mirrors nothing older.
	Initialized bool `json:"initialized"`
	// LastID is the newest post already taken into account: queued,
	// delivered or skipped.
	LastID int64 `json:"last_id,string"`
	// Pending holds statuses not yet delivered, oldest first.
	Pending []Status `json:"pending"`
	// Posted lists posts made by `r2sync post`, which set the status
	// itself; the mirror skips them once.
	Posted []PostRef `json:"posted,omitempty"`
	// Mirrored counts delivered statuses over the life of the state file.
	Mirrored int64 `json:"mirrored"`
	// LastMirrored is the most recently delivered status.
	LastMirrored *Delivered `json:"last_mirrored,omitempty"`
}

// Status is a rendered status waiting for delivery.
type Status struct {
	PostID   int64     `json:"post_id,string"`
	Text     string    `json:"text"`
	QueuedAt time.Time `json:"queued_at"`
}

// PostRef names a post.
type PostRef struct {
	ID int64 `json:"id,string"`
}

// Delivered records a status that reached the server.
type Delivered struct {
	PostID int64     `json:"post_id,string"`
	At     time.Time `json:"at"`
}

// Store keeps the State durable. Implementations must make Update atomic
// across processes: `r2sync post` and a running daemon share one file.
type Store interface {
	// Load returns the saved state, or a zero State when none was saved.
	Load(ctx context.Context) (State, error)
	// Update applies fn to the current state and saves the result. When fn
	// returns an error nothing is saved.
	Update(ctx context.Context, fn func(*State) error) (State, error)
}

// takePosted reports whether id is in s.Posted and removes it.
func (s *State) takePosted(id int64) bool {
	for i, p := range s.Posted {
		if p.ID == id {
			s.Posted = append(s.Posted[:i], s.Posted[i+1:]...)
			return true
		}
	}
	return false
}
