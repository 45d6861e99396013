package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// State is what the daemon remembers between runs. Ids and cursors are
// strings that only their source interprets.
type State struct {
	// Initialized is false until the first start has recorded the newest
	// post, so that a fresh install mirrors nothing older.
	Initialized bool `json:"initialized"`
	// Cursors holds each source's cursor, by the source's name: just past
	// the newest post already taken into account (queued, delivered or
	// skipped). A source without one has not started yet; its first poll
	// records its newest post and mirrors nothing older.
	Cursors map[string]string `json:"cursors,omitempty"`
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

// Cursor returns the cursor of the named source, and whether it has one.
func (s *State) Cursor(source string) (string, bool) {
	c, ok := s.Cursors[source]
	return c, ok
}

// setCursor sets the cursor of the named source.
func (s *State) setCursor(source, cursor string) {
	if s.Cursors == nil {
		s.Cursors = make(map[string]string, 1)
	}
	s.Cursors[source] = cursor
}

// Status is a rendered status waiting for delivery.
type Status struct {
	PostID   string    `json:"post_id"`
	Text     string    `json:"text"`
	QueuedAt time.Time `json:"queued_at"`
	// Attempts counts sends of this status that ended Uncertain: written
	// to a live session but never acknowledged, so perhaps published. It
	// is saved on that failure path only; see MaxUncertainAttempts.
	Attempts int `json:"attempts,omitempty"`
}

// PostRef names a post of one source.
type PostRef struct {
	Source string `json:"source"`
	ID     string `json:"id"`
	// Cursor is the source's cursor just past the post; once the state's
	// cursor has passed it the claim is forgotten. "" keeps the claim
	// until the post is seen.
	Cursor string `json:"cursor,omitempty"`
}

// Delivered records a status that reached the server.
type Delivered struct {
	PostID string    `json:"post_id"`
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
// reading on from it would fail every poll or repeat statuses. What a
// cursor or an id means only its source can check.
func (s *State) Validate() error {
	if !s.Initialized && len(s.Cursors) != 0 {
		return errors.New("cursors: set on a state that was never initialized")
	}
	if _, ok := s.Cursors[""]; ok {
		return errors.New("cursors: a cursor without a source name")
	}
	if s.Mirrored < 0 {
		return fmt.Errorf("mirrored: must not be negative (got %d)", s.Mirrored)
	}
	if d := s.LastMirrored; d != nil && d.PostID == "" {
		return errors.New("last_mirrored.post_id: must not be empty")
	}
	type ref struct{ source, id string }
	posted := make(map[ref]bool, len(s.Posted))
	for i, p := range s.Posted {
		switch {
		case p.Source == "":
			return fmt.Errorf("posted[%d].source: must not be empty", i)
		case p.ID == "":
			return fmt.Errorf("posted[%d].id: must not be empty", i)
		case posted[ref{p.Source, p.ID}]:
			return fmt.Errorf("posted[%d].id: post %s of %s listed twice", i, p.ID, p.Source)
		}
		posted[ref{p.Source, p.ID}] = true
	}
	pending := make(map[string]bool, len(s.Pending))
	for i, st := range s.Pending {
		if err := st.Validate(); err != nil {
			return fmt.Errorf("pending[%d].%w", i, err)
		}
		if pending[st.PostID] {
			return fmt.Errorf("pending[%d].post_id: post %s queued twice", i, st.PostID)
		}
		pending[st.PostID] = true
	}
	return nil
}

// Validate reports an impossible value in one pending status; the error
// starts with the field's name.
func (st Status) Validate() error {
	if st.PostID == "" {
		return errors.New("post_id: must not be empty")
	}
	if st.Attempts < 0 {
		return fmt.Errorf("attempts: must not be negative (got %d)", st.Attempts)
	}
	return nil
}

// hasPosted reports whether post id of source is in s.Posted.
func (s *State) hasPosted(source, id string) bool {
	for _, p := range s.Posted {
		if p.Source == source && p.ID == id {
			return true
		}
	}
	return false
}

// takePosted reports whether post id of source is in s.Posted and
// removes it.
func (s *State) takePosted(source, id string) bool {
	for i, p := range s.Posted {
		if p.Source == source && p.ID == id {
			s.Posted = append(s.Posted[:i], s.Posted[i+1:]...)
			return true
		}
	}
	return false
}
