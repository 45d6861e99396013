package renren

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// feedQueue bounds the events waiting for the disk. A server that floods
// the feed faster than the disk syncs loses events (logged and counted)
// rather than growing the process without end.
const feedQueue = 8192

// maxFeedLine bounds one line of a feed log when reading it: an event
// holds a stanza of at most maxStanzaBytes twice (tree and raw XML), and
// JSON escaping may grow control characters sixfold.
const maxFeedLine = 16 * maxStanzaBytes

// FeedLog appends FeedEvents to a file, one JSON object per line, for
// `r2sync feed` to read. Appends are written and fsync'd by a goroutine of
// its own, in batches: an Append never waits for the disk, and a burst of
// events costs one fsync. The file is created with mode 0600 (the feed is
// about the user's friends) and never truncated; a line that a crash cut
// short stays behind on its own and readers skip it.
type FeedLog struct {
	f    *os.File
	path string
	log  *zap.Logger

	mu      sync.Mutex
	queue   []*FeedEvent
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	written atomic.Int64 // events on disk
	dropped atomic.Int64 // events lost: queue full or a failed write
}

// OpenFeedLog opens or creates the feed log at path for appending.
func OpenFeedLog(path string, log *zap.Logger) (*FeedLog, error) {
	if log == nil {
		log = zap.NewNop()
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("feed log: %w", err)
	}
	l := &FeedLog{f: f, path: path, log: log.Named("renren").With(zap.String("feed_log", path)),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	if err := l.prepare(errors.Is(statErr, os.ErrNotExist)); err != nil {
		f.Close()
		return nil, fmt.Errorf("feed log %s: %w", path, err)
	}
	go l.run()
	return l, nil
}

// prepare makes the file private and, when its last line was cut short,
// starts a new one; a new file's directory entry is made durable.
func (l *FeedLog) prepare(created bool) error {
	fi, err := l.f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if fi.Mode().Perm() != 0o600 {
		if err := l.f.Chmod(0o600); err != nil {
			return err
		}
	}
	if fi.Size() > 0 {
		r, err := os.Open(l.path)
		if err != nil {
			return err
		}
		last := make([]byte, 1)
		_, err = r.ReadAt(last, fi.Size()-1)
		r.Close()
		if err != nil {
			return err
		}
		if last[0] != '\n' {
			if _, err := l.f.Write([]byte{'\n'}); err != nil {
				return err
			}
			l.log.Warn("the feed log ended in a partial line; it stays, readers skip it")
		}
	}
	if created {
		if d, err := os.Open(filepath.Dir(l.path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return l.f.Sync()
}

// Append queues ev for the file and reports whether it was taken. It
// never blocks.
func (l *FeedLog) Append(ev *FeedEvent) bool {
	l.mu.Lock()
	if l.closed || len(l.queue) >= feedQueue {
		closed := l.closed
		l.mu.Unlock()
		l.dropped.Add(1)
		if !closed {
			l.log.Warn("feed log queue full; event dropped", zap.String("id", ev.ID))
		}
		return false
	}
	l.queue = append(l.queue, ev)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

// Written returns how many events are on disk, synced.
func (l *FeedLog) Written() int64 { return l.written.Load() }

// Dropped returns how many events were lost.
func (l *FeedLog) Dropped() int64 { return l.dropped.Load() }

// Close writes what is queued, syncs and closes the file.
func (l *FeedLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
	return l.f.Close()
}

func (l *FeedLog) run() {
	defer close(l.done)
	var buf bytes.Buffer
	for range l.wake {
		l.mu.Lock()
		batch, closed := l.queue, l.closed
		l.queue = nil
		l.mu.Unlock()
		if len(batch) > 0 {
			l.write(&buf, batch)
		}
		if closed {
			return
		}
	}
}

// write appends a batch with one write and one fsync.
func (l *FeedLog) write(buf *bytes.Buffer, batch []*FeedEvent) {
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	n := 0
	for _, ev := range batch {
		if err := enc.Encode(ev); err != nil { // one line each
			l.log.Error("encode feed event", zap.Error(err))
			l.dropped.Add(1)
			continue
		}
		n++
	}
	if _, err := l.f.Write(buf.Bytes()); err != nil {
		l.log.Error("write feed log", zap.Error(err), zap.Int("events", n))
		l.dropped.Add(int64(n))
		return
	}
	if err := l.f.Sync(); err != nil {
		l.log.Error("sync feed log", zap.Error(err))
	}
	l.written.Add(int64(n))
}

// ReadFeedLog reads a feed log from r and calls fn with each event in
// order. A line that is not an event (cut short by a crash, or edited) is
// reported to bad with its number and skipped. It returns fn's first
// error, or a read error, or nil at the end of r.
func ReadFeedLog(r io.Reader, fn func(FeedEvent) error, bad func(line int, err error)) error {
	fr := NewFeedReader(r)
	for {
		ev, err := fr.Next()
		var le *FeedLineError
		switch {
		case errors.As(err, &le):
			if bad != nil {
				bad(le.Line, le.Err)
			}
			continue
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

// FeedReader reads the events of a feed log one at a time; it can go on
// after io.EOF when the file has grown (r2sync feed --follow). A partial
// last line is held back until its newline arrives.
type FeedReader struct {
	r       *bufio.Reader
	line    int
	partial []byte
	skip    bool // discarding an overlong line
}

// FeedLineError is a line of a feed log that is not an event.
type FeedLineError struct {
	Line int
	Err  error
}

func (e *FeedLineError) Error() string { return fmt.Sprintf("feed log line %d: %v", e.Line, e.Err) }
func (e *FeedLineError) Unwrap() error { return e.Err }

// NewFeedReader returns a FeedReader over r.
func NewFeedReader(r io.Reader) *FeedReader {
	return &FeedReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next event, a *FeedLineError for a line that is not
// one, or io.EOF when r has no complete line left (yet).
func (fr *FeedReader) Next() (FeedEvent, error) {
	for {
		chunk, err := fr.r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !fr.skip {
				fr.partial = append(fr.partial, chunk...)
				if len(fr.partial) > maxFeedLine {
					fr.partial, fr.skip = nil, true
				}
			}
			continue
		case err == io.EOF:
			if !fr.skip {
				fr.partial = append(fr.partial, chunk...)
			}
			return FeedEvent{}, io.EOF
		case err != nil:
			return FeedEvent{}, err
		}
		fr.line++
		line := append(fr.partial, chunk...)
		fr.partial = nil
		if fr.skip {
			fr.skip = false
			return FeedEvent{}, &FeedLineError{Line: fr.line, Err: fmt.Errorf("longer than %d bytes", maxFeedLine)}
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ev FeedEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return FeedEvent{}, &FeedLineError{Line: fr.line, Err: errors.New("not a feed event (cut short by a crash?)")}
		}
		return ev, nil
	}
}
