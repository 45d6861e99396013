// Package statefile keeps r2sync's daemon.State in a JSON file, written
// atomically and locked against concurrent writers in other processes.
package statefile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/r2sync/r2sync/daemon"
)

// Store is a daemon.Store backed by one file. The file is replaced as a
// whole (temp file, fsync, rename, fsync of the directory), so a crash
// leaves either the old or the new state, never a mix.
type Store struct {
	path string
	mu   sync.Mutex // serialises Update within the process; flock across processes
}

var _ daemon.Store = (*Store)(nil)

// CorruptError reports a state file that exists but cannot be read as a
// state. The daemon stops on it rather than start over and re-post.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is corrupt (%v); inspect it, then run `r2sync state reset` to start over without re-posting old tweets", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Fatal reports that retrying cannot help.
func (e *CorruptError) Fatal() bool { return true }

// New returns a Store for path. The directory must exist or be creatable.
func New(path string) *Store {
	return &Store{path: path}
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// Load reads the state. A missing file is a zero State.
func (s *Store) Load(ctx context.Context) (daemon.State, error) {
	if err := ctx.Err(); err != nil {
		return daemon.State{}, err
	}
	return s.read()
}

// Update applies fn under an exclusive lock and saves the result.
func (s *Store) Update(ctx context.Context, fn func(*daemon.State) error) (daemon.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lock(ctx)
	if err != nil {
		return daemon.State{}, err
	}
	defer unlock()
	st, err := s.read()
	if err != nil {
		return daemon.State{}, err
	}
	if err := fn(&st); err != nil {
		return daemon.State{}, err
	}
	if err := s.write(st); err != nil {
		return daemon.State{}, err
	}
	return st, nil
}

// Reset removes the state file, so that the next start records the newest
// post again and mirrors nothing older.
func (s *Store) Reset(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove state file: %w", err)
	}
	return syncDir(filepath.Dir(s.path))
}

func (s *Store) read() (daemon.State, error) {
	var st daemon.State
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read state file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&st); err != nil {
		return daemon.State{}, &CorruptError{Path: s.path, Err: err}
	}
	if dec.More() {
		return daemon.State{}, &CorruptError{Path: s.path, Err: errors.New("trailing data after the state object")}
	}
	return st, nil
}

func (s *Store) write(st daemon.State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(s.path)
	f, err := os.CreateTemp(dir, filepath.Base(s.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync state file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("replace state file: %w", err)
	}
	return syncDir(dir)
}

// lock takes an exclusive flock on a sibling lock file, waiting until ctx
// ends. The lock file is never removed, so every process locks one inode.
func (s *Store) lock(ctx context.Context) (unlock func(), err error) {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	f, err := os.OpenFile(s.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open state lock: %w", err)
	}
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock state file: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock state file: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	return nil
}
