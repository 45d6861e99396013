package statefile

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/r2sync/r2sync/daemon"
)

// writeGeneration writes h and the statuses each yields as the journal
// of the generation after old's, then points state.json at it, then
// removes what older generations left. Until the rename of state.json the
// old generation stays the state, so a crash at any point leaves the old
// state or the new one. It returns where the new generation lives.
func (s *Store) writeGeneration(old *cache, h head, each func(yield func(daemon.Status) error) error) (disk, error) {
	dir, base := filepath.Dir(s.path), filepath.Base(s.path)
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	d := disk{exists: true, id: journalID{Generation: old.id.Generation + 1, Nonce: hex.EncodeToString(nonce[:])}}
	d.jname = journalName(base, d.id.Generation)
	jpath := filepath.Join(dir, d.jname)
	committed := false
	j, err := os.OpenFile(jpath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return disk{}, fmt.Errorf("write state journal: %w", err)
	}
	defer func() {
		if !committed {
			j.Close()
			os.Remove(jpath)
		}
	}()
	end, lines, err := s.writeSnapshot(j, d.id, h, each)
	if err != nil {
		return disk{}, err
	}
	if err := s.sync(j); err != nil {
		return disk{}, fmt.Errorf("sync state journal: %w", err)
	}
	// The journal's name must be durable before state.json names it.
	if err := s.syncDir(dir); err != nil {
		return disk{}, err
	}
	p, err := json.MarshalIndent(pointer{Format: format, Initialized: h.Initialized, Pending: journalRef{
		Journal: d.jname, Generation: d.id.Generation, Nonce: d.id.Nonce,
	}}, "", "  ")
	if err != nil {
		return disk{}, fmt.Errorf("encode state: %w", err)
	}
	p = append(p, '\n')
	if err := s.replaceFile(p); err != nil {
		return disk{}, err
	}
	committed = true
	d.raw, d.journal, d.end, d.lines, d.size = p, j, end, lines, end
	s.stats.snapshots.Add(1)
	removeStale(dir, base, d.jname)
	return d, nil
}

// writeSnapshot writes the first batch of a journal: its name, the queue
// in lines of about chunkBytes, the head.
func (s *Store) writeSnapshot(j *os.File, id journalID, h head, each func(yield func(daemon.Status) error) error) (int64, int, error) {
	if err := s.fault("write"); err != nil {
		return 0, 0, fmt.Errorf("write state journal: %w", err)
	}
	lines := 0
	cw := &countingWriter{w: j, n: &s.stats.bytes}
	bw := bufio.NewWriterSize(cw, chunkBytes)
	enc := newEncoder()
	var line []byte
	var err error
	if line, err = enc.line(line[:0], recordOut{Journal: &id, More: true}); err != nil {
		return 0, 0, err
	}
	bw.Write(line)
	lines++
	r, size := recordOut{More: true}, 0
	flush := func() error {
		if len(r.Add) == 0 {
			return nil
		}
		if line, err = enc.line(line[:0], r); err != nil {
			return err
		}
		bw.Write(line)
		lines++
		r, size = recordOut{More: true}, 0
		return nil
	}
	err = each(func(st daemon.Status) error {
		raw, err := enc.status(st)
		if err != nil {
			return err
		}
		if size+len(raw) > chunkBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		r.Add = append(r.Add, raw)
		size += len(raw) + 1
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return 0, 0, err
	}
	if line, err = enc.line(line[:0], recordOut{Head: &h}); err != nil {
		return 0, 0, err
	}
	bw.Write(line)
	lines++
	if err := bw.Flush(); err != nil {
		return 0, 0, fmt.Errorf("write state journal: %w", err)
	}
	return cw.total, lines, nil
}

// replaceFile replaces state.json with b: temp file, fsync, rename, fsync
// of the directory.
func (s *Store) replaceFile(b []byte) error {
	if err := s.fault("write"); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	return writeFileAtomic(s.path, b, 0o600, atomicHooks{
		written: func(n int) { s.stats.bytes.Add(int64(n)) },
		sync:    s.sync,
		syncDir: s.syncDir,
		what:    "state file",
	})
}

// WriteFileAtomic replaces the file at path with data and mode perm, so
// that a crash at any point leaves the old file or the new one: a
// temporary file beside it, fsynced, renamed over path, then the
// directory fsynced so that the rename lasts. It is how the state file
// is written; other small files that must not be torn (`r2sync login`'s
// tokens) use it too. The directory must exist.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFileAtomic(path, data, perm, atomicHooks{
		sync: func(f *os.File) error { return f.Sync() },
		syncDir: func(dir string) error {
			if err := fsyncDir(dir); err != nil {
				return fmt.Errorf("sync directory: %w", err)
			}
			return nil
		},
		what: "file",
	})
}

// atomicHooks let the Store count and fault the steps of
// writeFileAtomic.
type atomicHooks struct {
	written func(n int) // nil: not counted
	sync    func(*os.File) error
	syncDir func(dir string) error
	what    string // what the errors call the file
}

func writeFileAtomic(path string, b []byte, perm os.FileMode, h atomicHooks) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", h.what, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	// CreateTemp makes the file 0600 already; say so against a umask
	// surprise, or give the mode asked for.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", h.what, err)
	}
	n, err := f.Write(b)
	if h.written != nil {
		h.written(n)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", h.what, err)
	}
	if err := h.sync(f); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", h.what, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", h.what, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", h.what, err)
	}
	return h.syncDir(dir)
}

// removeStale removes journals of other generations and temp files: under
// the lock nobody else is writing them. Failures only leave litter.
func removeStale(dir, base, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if name != keep && (strings.HasPrefix(name, base+".journal.") || strings.HasPrefix(name, base+".tmp-")) {
			os.Remove(filepath.Join(dir, name))
		}
	}
}
