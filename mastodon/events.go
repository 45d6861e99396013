package mastodon

import (
	"sync"
	"sync/atomic"
)

// eventCounters count what the stream saw and did not mirror.
type eventCounters struct {
	edits, deletes, foreign, bad, reconnects, reordered atomic.Int64

	// own remembers the user's latest status ids seen on the stream,
	// since a delete event names only an id, of any status of the home
	// timeline.
	mu   sync.Mutex
	own  map[string]struct{}
	ring [ownMemory]string
	next int
}

// ownMemory bounds the remembered ids.
const ownMemory = 1024

func (e *eventCounters) remember(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.own == nil {
		e.own = make(map[string]struct{}, ownMemory)
	}
	if old := e.ring[e.next]; old != "" {
		delete(e.own, old)
	}
	e.ring[e.next] = id
	e.own[id] = struct{}{}
	e.next = (e.next + 1) % ownMemory
}

func (e *eventCounters) known(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.own[id]
	return ok
}

// EventCounts returns how many events of each kind the source saw and
// did not mirror, by name: "edit" and "delete" (of the user's own
// statuses), "foreign" (statuses of other accounts, the home timeline on
// the user stream), "unreadable" (events that did not parse),
// "reordered" (own statuses that came after a newer one, which the
// mirror's cursor had passed) and "reconnect" (stream connections
// made). Health can read it through a type assertion, like the other
// optional abilities.
func (s *Source) EventCounts() map[string]int64 {
	return map[string]int64{
		"edit":       s.events.edits.Load(),
		"delete":     s.events.deletes.Load(),
		"foreign":    s.events.foreign.Load(),
		"unreadable": s.events.bad.Load(),
		"reconnect":  s.events.reconnects.Load(),
		"reordered":  s.events.reordered.Load(),
	}
}
