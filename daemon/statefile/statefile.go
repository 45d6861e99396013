// Package statefile keeps r2sync's daemon.State on disk, safe against
// crashes and shared with other processes (`r2sync post`, `state reset`).
//
// The state lives in a journal beside the state file: one batch of JSON
// lines per Update, appended and fsynced, so that delivering a status
// writes a few hundred bytes however long the queue is. state.json only
// names the current journal (its generation and a random nonce); it is
// replaced atomically (temp file, fsync, rename, fsync of the directory)
// when a new generation starts: on the first write, when a format-1 file
// is migrated, and when dead batches outweigh the live state (compaction).
// A crash at any point leaves the old state or the new one, never a mix.
//
// An exclusive flock on a sibling lock file serialises writers across
// processes. Each Store keeps the state in memory and, under the lock,
// checks state.json and the journal's length so that it reads only what
// another process wrote since.
package statefile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/r2sync/r2sync/daemon"
)

// Store is a daemon.Store and daemon.FrontStore backed by files: path
// (state.json), path.journal.N and path.lock.
type Store struct {
	path  string
	mu    sync.Mutex // serialises use of the Store within the process; flock across processes
	lockf *lockFile
	c     *cache // nil until read, and after anything made it doubtful
	stats struct{ bytes, syncs, appends, snapshots atomic.Int64 }
	// faults, when set (tests only), can fail writes and syncs.
	faults func(op string) error
}

var (
	_ daemon.Store      = (*Store)(nil)
	_ daemon.FrontStore = (*Store)(nil)
)

// compactMin is the dead journal bytes that never trigger compaction, so
// that an idle daemon does not rewrite its small state after every post.
const compactMin = 64 << 10

// CorruptError reports a state file that exists but cannot be read as a
// state. The daemon stops on it rather than start over and re-post.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is corrupt (%v); inspect it, then run `r2sync state reset` to start over without re-posting old posts", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Fatal reports that retrying cannot help.
func (e *CorruptError) Fatal() bool { return true }

// InvalidError reports an Update whose fn left a state this package would
// refuse to read back, such as a post queued twice. Nothing was saved.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string {
	return "refusing to save an impossible state: " + e.Err.Error()
}

func (e *InvalidError) Unwrap() error { return e.Err }

// Fatal reports that retrying cannot help: the same update fails again.
func (e *InvalidError) Fatal() bool { return true }

// Stats counts what a Store wrote since New.
type Stats struct {
	BytesWritten int64 // bytes handed to the file system, every file included
	Syncs        int64 // fsyncs of files and of the directory
	Appends      int64 // batches appended to a journal
	Snapshots    int64 // generations written: first write, migration, compaction
}

// New returns a Store for path. The directory must exist or be creatable.
func New(path string) *Store {
	return &Store{path: path, lockf: &lockFile{path: path + ".lock"}}
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// Stats returns what the Store wrote so far.
func (s *Store) Stats() Stats {
	return Stats{
		BytesWritten: s.stats.bytes.Load(),
		Syncs:        s.stats.syncs.Load(),
		Appends:      s.stats.appends.Load(),
		Snapshots:    s.stats.snapshots.Load(),
	}
}

// Close releases the open lock file and journal. A closed Store still
// works; it opens them again when used.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop()
	s.lockf.close()
	return nil
}

// Load reads the state. A missing file is a zero State.
func (s *Store) Load(ctx context.Context) (daemon.State, error) {
	st, _, err := s.view(ctx, -1)
	return st, err
}

// LoadFront implements daemon.FrontStore.
func (s *Store) LoadFront(ctx context.Context, n int) (daemon.State, int, error) {
	return s.view(ctx, max(n, 0))
}

// Update applies fn under an exclusive lock and saves the result. When it
// fails after fn succeeded, nothing of fn's change is kept in memory; on
// disk it is lost too, except after a failed fsync or rename, when it may
// have been saved: callers retry with a fn that does no harm twice.
func (s *Store) Update(ctx context.Context, fn func(*daemon.State) error) (daemon.State, error) {
	st, _, err := s.update(ctx, -1, fn)
	return st, err
}

// UpdateFront implements daemon.FrontStore.
func (s *Store) UpdateFront(ctx context.Context, n int, fn func(*daemon.State) error) (daemon.State, int, error) {
	return s.update(ctx, max(n, 0), fn)
}

// Reset removes the state, so that the next start records the newest
// post again and mirrors nothing older.
func (s *Store) Reset(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lockf.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	s.drop()
	dir, base := filepath.Dir(s.path), filepath.Base(s.path)
	// Removing state.json is the commit; the journals are litter after it.
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove state file: %w", err)
	}
	if err := s.syncDir(dir); err != nil {
		return err
	}
	removeStale(dir, base, "")
	return nil
}

func (s *Store) view(ctx context.Context, n int) (daemon.State, int, error) {
	if err := ctx.Err(); err != nil {
		return daemon.State{}, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lockf.lock(ctx, false)
	if errors.Is(err, errNoLock) {
		// Nobody ever wrote here, or we may not lock: read without it.
		// Writers replace state.json atomically, and the one unfinished
		// batch a reader can meet is ignored.
		unlock, err = func() {}, nil
	}
	if err != nil {
		return daemon.State{}, 0, err
	}
	defer unlock()
	if err := s.refresh(); err != nil {
		return daemon.State{}, 0, err
	}
	return s.c.state(n), len(s.c.q.items), nil
}

func (s *Store) update(ctx context.Context, n int, fn func(*daemon.State) error) (daemon.State, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lockf.lock(ctx, true)
	if err != nil {
		return daemon.State{}, 0, err
	}
	defer unlock()
	if err := s.refresh(); err != nil {
		return daemon.State{}, 0, err
	}
	c := s.c
	full := n < 0
	w := len(c.q.items)
	if !full {
		w = min(n, w)
	}
	st := c.state(w)
	if err := fn(&st); err != nil {
		return daemon.State{}, 0, err
	}
	h := headOf(&st).clone()
	if err := validateHead(h); err != nil {
		return daemon.State{}, 0, &InvalidError{Err: err}
	}
	d, inOrder, err := c.diff(w, st.Pending, full)
	if err != nil {
		return daemon.State{}, 0, &InvalidError{Err: err}
	}
	if err := s.save(c, w, st.Pending, full, d, inOrder, h); err != nil {
		return daemon.State{}, 0, err
	}
	if full {
		return st, len(st.Pending), nil
	}
	return s.c.state(n), len(s.c.q.items), nil
}

// save writes the change as one appended batch, or as a new generation
// when there is no journal yet (or only one of format 2), when
// Initialized changes, when the change is a reordering, or when dead
// batches outweigh the live state.
func (s *Store) save(c *cache, w int, got []daemon.Status, full bool, d delta, inOrder bool, h head) error {
	enc := newEncoder()
	if c.journal != nil && !c.legacy && inOrder && h.Initialized == c.h.Initialized {
		lines, setRaw, addRaw, err := enc.batch(d, h)
		if err != nil {
			return err
		}
		live := c.liveAfter(d, setRaw, addRaw, h)
		if dead := c.end + int64(len(lines)) - live; dead <= compactMin || dead <= live {
			return s.appendBatch(c, lines, d, setRaw, addRaw, h)
		}
	}
	if inOrder {
		// Snapshot the cache with d applied on the fly, then apply d in
		// place: no second copy of a long queue.
		nd, err := s.writeGeneration(c, h, c.each(d))
		if err != nil {
			return err
		}
		c.apply(d, func(i int) int { return encodedSize(enc, d.set[i]) }, func(i int) int { return encodedSize(enc, d.add[i]) }, h)
		c.adopt(nd)
		return nil
	}
	list := c.final(w, got, full)
	nc := newCache()
	for _, st := range list {
		if err := nc.q.add(st, encodedSize(enc, st)); err != nil {
			return &InvalidError{Err: fmt.Errorf("pending: %w", err)}
		}
	}
	nc.setHead(h)
	nd, err := s.writeGeneration(c, h, nc.each(delta{}))
	if err != nil {
		return err
	}
	nc.adopt(nd)
	c.close()
	s.c = nc
	return nil
}

// encodedSize is the size of st in a journal line.
func encodedSize(enc *encoder, st daemon.Status) int {
	raw, err := enc.status(st)
	if err != nil {
		return len(st.Text) + 100
	}
	return len(raw)
}

// appendBatch appends one batch to the journal, fsyncs it and applies it
// to the cache. A failed write is cut off again so that the journal ends
// with the last good batch; if even that fails the cache is dropped and
// the next use reads the disk.
func (s *Store) appendBatch(c *cache, lines []byte, d delta, setRaw, addRaw []json.RawMessage, h head) error {
	if c.size != c.end {
		// A writer died mid-batch: cut its remains off before appending.
		if err := c.journal.Truncate(c.end); err != nil {
			return fmt.Errorf("write state journal: %w", err)
		}
		c.size = c.end
	}
	err := s.fault("write")
	n := 0
	if err == nil {
		n, err = c.journal.WriteAt(lines, c.end)
		s.stats.bytes.Add(int64(n))
	}
	if err == nil {
		if err = s.fault("sync"); err == nil {
			s.stats.syncs.Add(1)
			err = datasync(c.journal)
		}
		if err != nil {
			err = fmt.Errorf("sync state journal: %w", err)
		}
	} else {
		err = fmt.Errorf("write state journal: %w", err)
	}
	if err != nil {
		if n > 0 {
			if terr := c.journal.Truncate(c.end); terr != nil {
				s.drop()
			}
		}
		return err
	}
	s.stats.appends.Add(1)
	c.end += int64(len(lines))
	c.lines += bytes.Count(lines, []byte{'\n'})
	c.size = c.end
	c.apply(d, func(i int) int { return len(setRaw[i]) }, func(i int) int { return len(addRaw[i]) }, h)
	return nil
}

// refresh brings s.c up to date with the disk.
func (s *Store) refresh() error {
	if s.c != nil {
		same, err := s.c.unchanged(s.path)
		if err != nil {
			s.drop()
			return err
		}
		if same {
			ok, err := s.c.readTail()
			if err != nil {
				s.drop()
				var d *damageError
				if errors.As(err, &d) {
					return s.corrupt(err)
				}
				return err
			}
			if ok {
				return nil
			}
		}
	}
	s.drop()
	c, err := s.read()
	if err != nil {
		return err
	}
	s.c = c
	return nil
}

// drop forgets the cache.
func (s *Store) drop() {
	s.c.close()
	s.c = nil
}

func (s *Store) corrupt(err error) error { return &CorruptError{Path: s.path, Err: err} }

func (s *Store) fault(op string) error {
	if s.faults == nil {
		return nil
	}
	return s.faults(op)
}
