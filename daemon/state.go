package daemon

import (
	"context"
	"fmt"
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
	// Attempts counts sends of this status that ended Uncertain: written
	// to a live session but never acknowledged, so perhaps published. It
	// is saved on that failure path only; see MaxUncertainAttempts.
	Attempts int `json:"attempts,omitempty"`
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

// FrontStore is an optional ability of a Store that keeps a long queue
// cheaply: it shows and changes the front of the pending queue without
// copying the rest, so that draining N statuses costs O(N) and not O(N²).
// The Mirror uses it when its Store has it and falls back to Load and
// Update otherwise, with the same meaning.
type FrontStore interface {
	// LoadFront is Load with Pending cut to at most its first n statuses.
	// It also returns the length of the whole queue.
	LoadFront(ctx context.Context, n int) (State, int, error)
	// UpdateFront is Update where fn sees Pending cut to at most its first
	// n statuses. Statuses fn removes from that window, or changes, are
	// removed or changed in the queue; statuses it adds (post ids not in
	// the window) join the back of the queue, behind the ones fn did not
	// see. It returns the state with Pending cut to the new queue's first
	// n statuses, and the new queue's length.
	UpdateFront(ctx context.Context, n int, fn func(*State) error) (State, int, error)
}

// Validate reports the first value in s that r2sync never writes, naming
// the field: a state file holding one is not a state but damage, and
// reading on from it would fail every poll or repeat statuses.
func (s *State) Validate() error {
	if s.LastID < 0 {
		return fmt.Errorf("last_id: must not be negative (got %d)", s.LastID)
	}
	if !s.Initialized && s.LastID != 0 {
		return fmt.Errorf("last_id: set (%d) on a state that was never initialized", s.LastID)
	}
	if s.Mirrored < 0 {
		return fmt.Errorf("mirrored: must not be negative (got %d)", s.Mirrored)
	}
	if d := s.LastMirrored; d != nil && d.PostID <= 0 {
		return fmt.Errorf("last_mirrored.post_id: must be positive (got %d)", d.PostID)
	}
	posted := make(map[int64]bool, len(s.Posted))
	for i, p := range s.Posted {
		if p.ID <= 0 {
			return fmt.Errorf("posted[%d].id: must be positive (got %d)", i, p.ID)
		}
		if posted[p.ID] {
			return fmt.Errorf("posted[%d].id: post %d listed twice", i, p.ID)
		}
		posted[p.ID] = true
	}
	pending := make(map[int64]bool, len(s.Pending))
	for i, st := range s.Pending {
		if err := st.Validate(); err != nil {
			return fmt.Errorf("pending[%d].%w", i, err)
		}
		if pending[st.PostID] {
			return fmt.Errorf("pending[%d].post_id: post %d queued twice", i, st.PostID)
		}
		pending[st.PostID] = true
	}
	return nil
}

// Validate reports an impossible value in one pending status; the error
// starts with the field's name.
func (st Status) Validate() error {
	if st.PostID <= 0 {
		return fmt.Errorf("post_id: must be positive (got %d)", st.PostID)
	}
	if st.Attempts < 0 {
		return fmt.Errorf("attempts: must not be negative (got %d)", st.Attempts)
	}
	return nil
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
