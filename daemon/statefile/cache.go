package statefile

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/r2sync/r2sync/daemon"
)

// cache is the state as this process last read or wrote it, and where it
// lives on disk. It spares each Load and Update a read and parse of the
// whole queue: under the lock, a look at state.json and the journal's size
// tells whether another process changed anything.
type cache struct {
	h     head
	hsize int64 // encoded size of h
	q     queue
	disk
}

// disk is where the cached state lives.
type disk struct {
	exists  bool        // state.json exists
	format1 bool        // state.json is format 1: the next write migrates it
	legacy  bool        // the journal is format 2's: the next write starts a format-3 generation
	v1info  os.FileInfo // the format-1 file as read
	raw     []byte      // state.json as read (format 2)

	id      journalID
	jname   string   // journal file name, in the state file's directory
	journal *os.File // nil without a journal
	end     int64    // bytes of complete batches
	lines   int      // lines of complete batches
	size    int64    // the journal's size at the last look; more than end after a torn write
}

func newCache() *cache { return &cache{q: queue{seqOf: map[string]uint64{}}} }

// close releases the journal.
func (c *cache) close() {
	if c != nil && c.journal != nil {
		c.journal.Close()
		c.journal = nil
	}
}

// adopt makes d, a new generation, where c lives.
func (c *cache) adopt(d disk) {
	c.close()
	c.disk = d
}

// each yields the statuses of the queue after d, in order, for a
// snapshot: d must be in order (see diff).
func (c *cache) each(d delta) func(yield func(daemon.Status) error) error {
	return func(yield func(daemon.Status) error) error {
		gone := make(map[string]bool, len(d.del))
		for _, id := range d.del {
			gone[id] = true
		}
		changed := make(map[string]daemon.Status, len(d.set))
		for _, st := range d.set {
			changed[st.PostID] = st
		}
		for _, e := range c.q.items {
			st, ok := changed[e.st.PostID]
			switch {
			case gone[e.st.PostID]:
				continue
			case !ok:
				st = e.st
			}
			if err := yield(st); err != nil {
				return err
			}
		}
		for _, st := range d.add {
			if err := yield(st); err != nil {
				return err
			}
		}
		return nil
	}
}

// apply applies d, already saved, with the encoded sizes of its changed
// and added statuses.
func (c *cache) apply(d delta, setSize, addSize func(i int) int, h head) {
	for _, id := range d.del {
		_ = c.q.del(id) // checked by diff
	}
	for i, st := range d.set {
		_ = c.q.set(st, setSize(i))
	}
	for i, st := range d.add {
		_ = c.q.add(st, addSize(i))
	}
	c.setHead(h)
}

func (c *cache) setHead(h head) {
	c.h = h
	c.hsize = headSize(h)
}

// headSize estimates the encoded size of h; it is small whatever the queue.
func headSize(h head) int64 { return int64(len(h.Posted))*96 + int64(len(h.Cursors))*64 + 160 }

// live estimates the bytes a snapshot of the state takes.
func (c *cache) live() int64 { return c.q.bytes + c.hsize }

// liveAfter estimates the bytes a snapshot would take after d.
func (c *cache) liveAfter(d delta, setRaw, addRaw []json.RawMessage, h head) int64 {
	n := c.q.bytes + headSize(h)
	for _, id := range d.del {
		if i, ok := c.q.index(id); ok {
			n -= int64(c.q.items[i].size)
		}
	}
	for i, st := range d.set {
		if j, ok := c.q.index(st.PostID); ok {
			n += int64(len(setRaw[i])+1) - int64(c.q.items[j].size)
		}
	}
	for _, raw := range addRaw {
		n += int64(len(raw) + 1)
	}
	return n
}

// state returns a copy of the state with at most the first n statuses
// (all when n < 0).
func (c *cache) state(n int) daemon.State {
	st := c.h.clone().state()
	if n < 0 || n > len(c.q.items) {
		n = len(c.q.items)
	}
	if n > 0 {
		st.Pending = make([]daemon.Status, n)
		for i := range n {
			st.Pending[i] = c.q.items[i].st
		}
	}
	return st
}

// diff compares what fn left in Pending with the window of the first w
// statuses it saw. With full, got is the whole new queue in its order;
// without, statuses not from the window go to the back of the queue.
// inOrder is false when the change cannot be said as removals, changes
// and additions at the back; the caller then writes a snapshot.
func (c *cache) diff(w int, got []daemon.Status, full bool) (d delta, inOrder bool, err error) {
	seen := make(map[string]struct{}, len(got))
	last, added := -1, false
	inOrder = true
	for i, st := range got {
		if err := st.Validate(); err != nil {
			return d, false, fmt.Errorf("pending[%d].%w", i, err)
		}
		if _, dup := seen[st.PostID]; dup {
			return d, false, fmt.Errorf("pending[%d].post_id: post %s queued twice", i, st.PostID)
		}
		seen[st.PostID] = struct{}{}
		j, live := c.q.index(st.PostID)
		switch {
		case live && j < w:
			if j < last || (full && added) {
				inOrder = false
			}
			last = max(last, j)
			if !sameStatus(c.q.items[j].st, st) {
				d.set = append(d.set, st)
			}
		case live:
			return d, false, fmt.Errorf("pending[%d].post_id: post %s queued twice", i, st.PostID)
		default:
			added = true
			d.add = append(d.add, st)
		}
	}
	for _, e := range c.q.items[:w] {
		if _, ok := seen[e.st.PostID]; !ok {
			d.del = append(d.del, e.st.PostID)
		}
	}
	return d, inOrder, nil
}

// final returns the whole new queue, for a snapshot.
func (c *cache) final(w int, got []daemon.Status, full bool) []daemon.Status {
	if full {
		return got
	}
	out := make([]daemon.Status, 0, len(got)+len(c.q.items)-w)
	var adds []daemon.Status
	for _, st := range got {
		if j, live := c.q.index(st.PostID); live && j < w {
			out = append(out, st)
		} else {
			adds = append(adds, st)
		}
	}
	for _, e := range c.q.items[w:] {
		out = append(out, e.st)
	}
	return append(out, adds...)
}

func sameStatus(a, b daemon.Status) bool {
	return a.PostID == b.PostID && a.Text == b.Text && a.QueuedAt.Equal(b.QueuedAt) && a.Attempts == b.Attempts
}

func (h head) clone() head {
	h.Cursors = maps.Clone(h.Cursors)
	h.Posted = slices.Clone(h.Posted)
	if h.LastMirrored != nil {
		d := *h.LastMirrored
		h.LastMirrored = &d
	}
	return h
}

func (h head) equal(o head) bool {
	switch {
	case h.Initialized != o.Initialized, !maps.Equal(h.Cursors, o.Cursors), h.Mirrored != o.Mirrored,
		!slices.Equal(h.Posted, o.Posted), (h.LastMirrored == nil) != (o.LastMirrored == nil):
		return false
	case h.LastMirrored != nil:
		return h.LastMirrored.PostID == o.LastMirrored.PostID && h.LastMirrored.At.Equal(o.LastMirrored.At)
	}
	return true
}

// state returns h as a State without a queue; it shares h's slices.
func (h head) state() daemon.State {
	return daemon.State{Initialized: h.Initialized, Cursors: h.Cursors, Posted: h.Posted, Mirrored: h.Mirrored, LastMirrored: h.LastMirrored}
}

func headOf(st *daemon.State) head {
	return head{Initialized: st.Initialized, Cursors: st.Cursors, Posted: st.Posted, Mirrored: st.Mirrored, LastMirrored: st.LastMirrored}
}

// queue is the pending queue in memory: statuses in order, each with a
// sequence number, and an index from post id to sequence number. Removing
// the front is O(1), which is what delivery does.
type queue struct {
	items  []entry
	seqOf  map[string]uint64
	next   uint64
	bytes  int64 // encoded size of the statuses
	popped int   // removed from the front since items was last copied
}

type entry struct {
	seq  uint64
	size int32 // encoded size
	st   daemon.Status
}

func (q *queue) index(id string) (int, bool) {
	seq, ok := q.seqOf[id]
	if !ok {
		return 0, false
	}
	if len(q.items) > 0 && q.items[0].seq == seq {
		return 0, true
	}
	return slices.BinarySearchFunc(q.items, seq, func(e entry, s uint64) int { return cmp.Compare(e.seq, s) })
}

func (q *queue) add(st daemon.Status, size int) error {
	if err := st.Validate(); err != nil {
		return err
	}
	if _, dup := q.seqOf[st.PostID]; dup {
		return fmt.Errorf("post_id: post %s queued twice", st.PostID)
	}
	q.next++
	q.items = append(q.items, entry{seq: q.next, size: int32(size + 1), st: st})
	q.seqOf[st.PostID] = q.next
	q.bytes += int64(size + 1)
	return nil
}

func (q *queue) set(st daemon.Status, size int) error {
	i, ok := q.index(st.PostID)
	if !ok {
		return fmt.Errorf("post %s is not pending", st.PostID)
	}
	if err := st.Validate(); err != nil {
		return err
	}
	q.bytes += int64(size+1) - int64(q.items[i].size)
	q.items[i].st, q.items[i].size = st, int32(size+1)
	return nil
}

func (q *queue) del(id string) error {
	i, ok := q.index(id)
	if !ok {
		return fmt.Errorf("post %s is not pending", id)
	}
	q.bytes -= int64(q.items[i].size)
	delete(q.seqOf, id)
	if i > 0 {
		q.items = slices.Delete(q.items, i, i+1)
		return nil
	}
	// Drop the front without moving the rest; clear it so that its text
	// can be collected, and copy the queue now and then so that the array
	// behind it does not stay as large as the queue ever was.
	q.items[0] = entry{}
	q.items = q.items[1:]
	q.popped++
	switch {
	case len(q.items) == 0:
		q.items, q.popped = nil, 0
	case q.popped > 1024 && q.popped > len(q.items):
		q.items, q.popped = slices.Clone(q.items), 0
	}
	return nil
}
