package statefile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// format is the state.json format this package writes. Format 1 (no
// "format" key) held the whole State; format 2 had format 3's pointer
// and journal, but with one Twitter cursor, last_id, in the journal's
// heads (see legacyHead). Both are read and migrated at the first write.
const format = 3

// maxStateFile bounds a format-1 state.json (100,000 pending statuses take
// about 18 MB); maxPointer bounds a format-2 one.
const (
	maxStateFile = 256 << 20
	maxPointer   = 4 << 10
)

// pointer is state.json in format 2. The journal it names holds the state.
// Its reference sits under "pending", where format 1 kept a list, so that
// an r2sync from before format 2 refuses the file as corrupt instead of
// taking it for a state with an empty queue and a cursor at 0. Initialized
// is repeated here for people and scripts; a change of it always starts a
// new generation, so it is never stale.
type pointer struct {
	Format      int        `json:"format"`
	Initialized bool       `json:"initialized"`
	Pending     journalRef `json:"pending"`
}

type journalRef struct {
	Journal    string `json:"journal"`
	Generation uint64 `json:"generation"`
	Nonce      string `json:"nonce"`
}

// journalName is the journal file of generation gen for state file base.
func journalName(base string, gen uint64) string {
	return base + ".journal." + strconv.FormatUint(gen, 10)
}

// read reads the state from disk into a new cache. A missing file is an
// empty state.
func (s *Store) read() (*cache, error) {
	c := newCache()
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	c.exists = true
	if fi.Size() > maxStateFile {
		return nil, s.corrupt(fmt.Errorf("larger than %d MiB", maxStateFile>>20))
	}
	if fi.Size() > maxPointer {
		// Only format 1 is this large: stream it.
		br := bufio.NewReaderSize(f, chunkBytes)
		if err := firstIsObject(br); err != nil {
			return nil, s.corrupt(err)
		}
		if err := decodeFormat1(io.LimitReader(br, maxStateFile), c); err != nil {
			return nil, s.corrupt(err)
		}
		c.format1, c.v1info = true, fi
		return c, nil
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPointer+1))
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	if err := firstIsObject(bufio.NewReader(bytes.NewReader(b))); err != nil {
		return nil, s.corrupt(err)
	}
	var sniff struct {
		Format int `json:"format"`
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&sniff); err != nil {
		return nil, s.corrupt(err)
	}
	switch sniff.Format {
	case 0:
		if err := decodeFormat1(bytes.NewReader(b), c); err != nil {
			return nil, s.corrupt(err)
		}
		c.format1, c.v1info = true, fi
		return c, nil
	case 2:
		c.legacy = true
	case format:
	default:
		return nil, s.corrupt(fmt.Errorf("format %d is not one this r2sync reads (written by a newer r2sync?)", sniff.Format))
	}
	var p pointer
	if err := decodeStrict(b, &p); err != nil {
		return nil, s.corrupt(err)
	}
	ref := p.Pending
	if want := journalName(filepath.Base(s.path), ref.Generation); ref.Journal != want || ref.Generation == 0 || ref.Nonce == "" {
		return nil, s.corrupt(fmt.Errorf("pending.journal: %q is not the journal of generation %d", ref.Journal, ref.Generation))
	}
	c.raw, c.jname, c.id = b, ref.Journal, journalID{Generation: ref.Generation, Nonce: ref.Nonce}
	jpath := filepath.Join(filepath.Dir(s.path), c.jname)
	j, err := os.OpenFile(jpath, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrPermission) {
		j, err = os.Open(jpath) // enough for `r2sync status` as another user
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, s.corrupt(fmt.Errorf("its journal %s is missing", c.jname))
	}
	if err != nil {
		return nil, fmt.Errorf("open state journal: %w", err)
	}
	c.journal = j
	rp := &replayer{c: c, name: c.jname, want: &c.id, legacy: c.legacy}
	end, lines, err := rp.replay(j, 1)
	if err == nil && c.h.Initialized != p.Initialized {
		err = fmt.Errorf("initialized is %t in state.json but %t in the journal", p.Initialized, c.h.Initialized)
	}
	if err != nil {
		c.close()
		return nil, s.corrupt(err)
	}
	jfi, err := j.Stat()
	if err != nil {
		c.close()
		return nil, fmt.Errorf("read state journal: %w", err)
	}
	c.end, c.lines, c.size = end, lines, jfi.Size()
	return c, nil
}

// unchanged reports whether state.json is still what c was read from.
// Format 2 compares the bytes (a small file with a random nonce): inode
// numbers and coarse timestamps can repeat across quick replacements.
func (c *cache) unchanged(path string) (bool, error) {
	if !c.exists || c.format1 {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return !c.exists, nil
		}
		if err != nil {
			return false, fmt.Errorf("read state file: %w", err)
		}
		return c.exists && os.SameFile(fi, c.v1info) && fi.Size() == c.v1info.Size() && fi.ModTime().Equal(c.v1info.ModTime()), nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read state file: %w", err)
	}
	defer f.Close()
	var buf [maxPointer + 1]byte
	n, err := io.ReadFull(f, buf[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read state file: %w", err)
	}
	return bytes.Equal(buf[:n], c.raw), nil
}

// readTail applies the batches other processes appended since c was last
// brought up to date. It reports false when the journal shrank, which only
// a new generation explains: then the caller reads everything again.
func (c *cache) readTail() (bool, error) {
	if c.journal == nil {
		return true, nil
	}
	fi, err := c.journal.Stat()
	if err != nil {
		return false, fmt.Errorf("read state journal: %w", err)
	}
	c.size = fi.Size()
	switch {
	case c.size == c.end:
		return true, nil
	case c.size < c.end:
		return false, nil
	}
	rp := &replayer{c: c, name: c.jname, legacy: c.legacy}
	n, lines, err := rp.replay(io.NewSectionReader(c.journal, c.end, c.size-c.end), c.lines+1)
	if err != nil {
		return false, err
	}
	c.end += n
	c.lines += lines
	return true, nil
}

func (s *Store) sync(f *os.File) error {
	if err := s.fault("sync"); err != nil {
		return err
	}
	s.stats.syncs.Add(1)
	return f.Sync()
}

func (s *Store) syncDir(dir string) error {
	s.stats.syncs.Add(1)
	return syncDir(dir)
}

// syncDir makes the entries of dir (a rename, a new file) durable.
func syncDir(dir string) error {
	if err := fsyncDir(dir); err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	return nil
}

func fsyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the state object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the state object")
	}
	return nil
}

// firstIsObject checks that the first thing in r is a JSON object: `null`
// would decode as a zero State, a fresh install that forgets the cursor,
// the queue and the first-start guard.
func firstIsObject(r *bufio.Reader) error {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return errors.New("not a JSON object")
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return r.UnreadByte()
		}
		return errors.New("not a JSON object")
	}
}

type countingWriter struct {
	w     io.Writer
	n     interface{ Add(int64) int64 }
	total int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	c.total += int64(n)
	return n, err
}
