package statefile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/r2sync/r2sync/daemon"
)

// The journal holds the state as a sequence of batches, one per Update.
// A batch is one or more lines, each one JSON record; every line but the
// last says "more", and the last carries the whole (small) head. Pending
// statuses are added, changed and removed by post id. The first batch of a
// journal is a snapshot of the whole state and its first line names the
// journal (generation and nonce, as in state.json).
//
// A batch counts once its last line, newline included, is in the file.
// Only the last batch can be incomplete, and only if its writer died
// before its fsync returned, so before anyone acted on it: readers ignore
// it and the next writer cuts it off.

// maxLine bounds one journal line. Writers keep lines near chunkBytes; a
// single status is at most a few hundred KiB of rendered text.
const maxLine = 8 << 20

// chunkBytes is roughly how much of a queue one line carries, so that
// reading a journal never needs more than a line of buffer beyond the state.
const chunkBytes = 64 << 10

// journalID names a journal; state.json holds the same.
type journalID struct {
	Generation uint64 `json:"generation"`
	Nonce      string `json:"nonce"`
}

// head is the State without its queue: what every batch ends with.
type head struct {
	Initialized  bool              `json:"initialized"`
	Cursors      map[string]string `json:"cursors,omitempty"`
	Posted       []daemon.PostRef  `json:"posted,omitempty"`
	Mirrored     int64             `json:"mirrored"`
	LastMirrored *daemon.Delivered `json:"last_mirrored,omitempty"`
}

// headIn is a head as read: format 3's, or format 2's (see legacyHead).
type headIn struct {
	Initialized  bool              `json:"initialized"`
	Cursors      map[string]string `json:"cursors"`
	LastID       *string           `json:"last_id"` // format 2
	Posted       []daemon.PostRef  `json:"posted"`
	Mirrored     int64             `json:"mirrored"`
	LastMirrored *daemon.Delivered `json:"last_mirrored"`
}

// head returns the head hi says, from a format-2 journal when legacy.
func (hi *headIn) head(legacy bool) (head, error) {
	if !legacy {
		if hi.LastID != nil {
			return head{}, errors.New(`unknown field "last_id"`)
		}
		h := head{Initialized: hi.Initialized, Cursors: hi.Cursors, Posted: hi.Posted, Mirrored: hi.Mirrored, LastMirrored: hi.LastMirrored}
		return h, validateHead(h)
	}
	if hi.Cursors != nil {
		return head{}, errors.New(`unknown field "cursors"`)
	}
	var last int64
	if hi.LastID != nil {
		id, err := strconv.ParseInt(*hi.LastID, 10, 64)
		if err != nil {
			return head{}, fmt.Errorf("last_id: %q is not a post id", *hi.LastID)
		}
		last = id
	}
	return legacyHead(hi.Initialized, last, hi.Posted, hi.Mirrored, hi.LastMirrored)
}

// recordIn is a journal line as read. Statuses stay raw until applied so
// that the cache learns how many bytes each one takes.
type recordIn struct {
	Journal *journalID        `json:"journal"`
	Del     idList            `json:"del"`
	Set     []json.RawMessage `json:"set"`
	Add     []json.RawMessage `json:"add"`
	Head    *headIn           `json:"head"`
	More    bool              `json:"more"`
}

// recordOut is a journal line as written.
type recordOut struct {
	Journal *journalID        `json:"journal,omitempty"`
	Del     idList            `json:"del,omitempty"`
	Set     []json.RawMessage `json:"set,omitempty"`
	Add     []json.RawMessage `json:"add,omitempty"`
	Head    *head             `json:"head,omitempty"`
	More    bool              `json:"more,omitempty"`
}

// idList is a list of post ids, JSON strings like every id in the state.
type idList []string

// encoder turns records into journal lines: compact JSON without HTML
// escaping (status texts are full of < and &), one per line.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newEncoder() *encoder {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}

// status encodes one status on its own and returns a copy of its bytes.
func (e *encoder) status(st daemon.Status) (json.RawMessage, error) {
	e.buf.Reset()
	if err := e.enc.Encode(st); err != nil {
		return nil, fmt.Errorf("encode status: %w", err)
	}
	return bytes.Clone(bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})), nil
}

// line appends r as one line to out. A line the reader would refuse is
// refused here, so that no write can make the journal unreadable.
func (e *encoder) line(out []byte, r recordOut) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode journal line: %w", err)
	}
	if e.buf.Len() > maxLine {
		return nil, &InvalidError{Err: fmt.Errorf("a journal line of %d bytes is more than the %d MiB a line may take (a status or the posted list is too long)", e.buf.Len(), maxLine>>20)}
	}
	return append(out, e.buf.Bytes()...), nil
}

// delta is what one Update changes in the queue: removals, changes and
// additions by post id, applied in that order.
type delta struct {
	del []string
	set []daemon.Status
	add []daemon.Status
}

// batch encodes d and h as the lines of one batch. It also returns the
// encoded size of each added status, for the cache's accounting.
func (e *encoder) batch(d delta, h head) (lines []byte, setRaw, addRaw []json.RawMessage, err error) {
	r := recordOut{Del: d.del}
	for _, st := range d.set {
		raw, err := e.status(st)
		if err != nil {
			return nil, nil, nil, err
		}
		r.Set = append(r.Set, raw)
	}
	setRaw = r.Set
	size := 0
	for _, st := range d.add {
		raw, err := e.status(st)
		if err != nil {
			return nil, nil, nil, err
		}
		addRaw = append(addRaw, raw)
		if size+len(raw) > chunkBytes && (len(r.Add) > 0 || len(r.Set) > 0 || len(r.Del) > 0) {
			r.More = true
			if lines, err = e.line(lines, r); err != nil {
				return nil, nil, nil, err
			}
			r, size = recordOut{}, 0
		}
		r.Add = append(r.Add, raw)
		size += len(raw) + 1
	}
	r.Head, r.More = &h, false
	lines, err = e.line(lines, r)
	return lines, setRaw, addRaw, err
}

// lineReader reads journal lines of at most maxLine bytes.
type lineReader struct {
	r    *bufio.Reader
	line []byte
	n    int // lines read
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, chunkBytes)}
}

// next returns the next complete line without its newline. At the end it
// returns io.EOF, with the bytes of an unterminated last line, if any,
// in partial.
func (lr *lineReader) next() (line []byte, partial int, err error) {
	lr.line = lr.line[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(lr.line)+len(chunk) > maxLine {
			return nil, 0, fmt.Errorf("line %d is longer than %d MiB", lr.n+1, maxLine>>20)
		}
		lr.line = append(lr.line, chunk...)
		switch {
		case err == nil:
			lr.n++
			return lr.line[:len(lr.line)-1], 0, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, len(lr.line), io.EOF
		default:
			return nil, 0, err
		}
	}
}

// decodeRecord parses one line strictly. torn reports that the line is
// not JSON at all, as the remains of a write cut short can be; a line
// that is JSON but not a record is damage.
func decodeRecord(line []byte) (r recordIn, torn bool, err error) {
	trimmed := bytes.TrimLeft(line, " \t\r")
	if !json.Valid(trimmed) {
		return r, true, errors.New("not JSON")
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return r, false, errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, false, err
	}
	return r, false, nil
}

// replayer applies journal batches to a cache.
type replayer struct {
	c      *cache
	name   string     // journal file name, for errors
	want   *journalID // the first line must name this journal; nil when reading a tail
	legacy bool       // a format-2 journal (see legacyHead)
	batch  []recordIn // read but not yet applied
	lines  int        // lines read of the current batch
	line   int        // number of the first line of the current batch
}

// replay reads batches from r, which starts at a batch boundary (line
// firstLine of the journal), and applies each complete one to rp.c. It
// returns how many bytes and lines the complete batches took; what follows
// them is an unfinished write.
func (rp *replayer) replay(r io.Reader, firstLine int) (int64, int, error) {
	lr := newLineReader(r)
	lr.n = firstLine - 1
	var done, pos int64 // bytes of applied batches; bytes read
	rp.line = firstLine
	for {
		line, _, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, rp.errorf(lr.n+1, "%w", err)
		}
		pos += int64(len(line)) + 1
		rec, torn, err := decodeRecord(line)
		if err != nil {
			if torn && rp.restIsTorn(lr) {
				break
			}
			return 0, 0, rp.errorf(lr.n, "%w", err)
		}
		if err := rp.check(rec, lr.n); err != nil {
			return 0, 0, err
		}
		rp.lines++
		rp.batch = append(rp.batch, rec)
		if rp.want != nil {
			// The first batch is a snapshot, complete or damage: apply it
			// line by line rather than hold a copy of a long queue.
			if err := rp.apply(lr.n); err != nil {
				return 0, 0, err
			}
		}
		if rec.More {
			continue
		}
		if err := rp.apply(rp.line); err != nil {
			return 0, 0, err
		}
		rp.want, rp.lines = nil, 0
		done = pos
		rp.line = lr.n + 1
	}
	if rp.want != nil {
		return 0, 0, rp.errorf(rp.line, "the journal ends inside its first batch")
	}
	rp.batch = nil
	return done, rp.line - firstLine, nil
}

// restIsTorn reports whether nothing after a line that is not JSON looks
// like a record: then the line is the end of an unfinished write, not
// damage in the middle of the journal.
func (rp *replayer) restIsTorn(lr *lineReader) bool {
	for {
		line, _, err := lr.next()
		if err != nil {
			return errors.Is(err, io.EOF)
		}
		if _, torn, _ := decodeRecord(line); !torn {
			return false
		}
	}
}

// check enforces the shape of a batch.
func (rp *replayer) check(rec recordIn, line int) error {
	first := rp.want != nil && rp.lines == 0
	switch {
	case first && rec.Journal == nil:
		return rp.errorf(line, "the first line does not name the journal")
	case first && *rec.Journal != *rp.want:
		return rp.errorf(line, "the journal is generation %d (%s), state.json names generation %d (%s)",
			rec.Journal.Generation, rec.Journal.Nonce, rp.want.Generation, rp.want.Nonce)
	case !first && rec.Journal != nil:
		return rp.errorf(line, "a journal header inside the journal")
	case rec.More && rec.Head != nil:
		return rp.errorf(line, "a head on a line that says more follows")
	case !rec.More && rec.Head == nil:
		return rp.errorf(line, "the last line of a batch has no head")
	}
	return nil
}

// apply applies the records in rp.batch, the first of them read at line
// first.
func (rp *replayer) apply(first int) error {
	c := rp.c
	for i, rec := range rp.batch {
		line := first + i
		for _, id := range rec.Del {
			if err := c.q.del(id); err != nil {
				return rp.errorf(line, "del: %w", err)
			}
		}
		for _, raw := range rec.Set {
			st, err := decodeStatus(raw, rp.legacy)
			if err == nil {
				err = c.q.set(st, len(raw))
			}
			if err != nil {
				return rp.errorf(line, "set: %w", err)
			}
		}
		for _, raw := range rec.Add {
			st, err := decodeStatus(raw, rp.legacy)
			if err == nil {
				err = c.q.add(st, len(raw))
			}
			if err != nil {
				return rp.errorf(line, "add: %w", err)
			}
		}
		if rec.Head != nil {
			h, err := rec.Head.head(rp.legacy)
			if err != nil {
				return rp.errorf(line, "head: %w", err)
			}
			c.setHead(h)
		}
	}
	clear(rp.batch)
	rp.batch = rp.batch[:0]
	return nil
}

// decodeStatus reads one status; one of a state file from before format
// 3 (legacy) must have a Twitter id, as r2sync wrote then.
func decodeStatus(raw json.RawMessage, legacy bool) (daemon.Status, error) {
	var st daemon.Status
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, err
	}
	if legacy {
		if _, err := parseLegacyID(st.PostID); err != nil {
			return st, fmt.Errorf("post_id: %w", err)
		}
	}
	if err := st.Validate(); err != nil {
		return st, err
	}
	return st, nil
}

// validateHead applies daemon.State.Validate to a head.
func validateHead(h head) error {
	st := h.state()
	return st.Validate()
}

func (rp *replayer) errorf(line int, format string, a ...any) error {
	return &damageError{fmt.Errorf("journal %s line %d: %w", rp.name, line, fmt.Errorf(format, a...))}
}

// damageError is a journal that is not what this package writes, as
// opposed to one that could not be read.
type damageError struct{ err error }

func (e *damageError) Error() string { return e.err.Error() }
func (e *damageError) Unwrap() error { return e.err }
