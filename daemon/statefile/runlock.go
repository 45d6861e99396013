package statefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RunLock is held by the one daemon that mirrors from a state file, for
// the daemon's whole life. The lock Update takes covers one update only:
// two daemons on one state would each deliver the same pending status.
// One-shot commands (post, status, state reset) do not take it and keep
// working beside a running daemon.
//
// It is an flock on a sibling file, path + ".run", which holds the
// holder's PID for the error message of the next one to try. The kernel
// drops the lock when the process dies, however it dies, so a stale lock
// cannot outlive a crash.
type RunLock struct {
	f *os.File
}

// InUseError reports that another process holds the run lock.
type InUseError struct {
	Path string // the state file
	PID  int    // the holder's PID, 0 when it could not be read
}

func (e *InUseError) Error() string {
	pid := "pid unknown"
	if e.PID > 0 {
		pid = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("state file %s is in use by another r2sync run (%s)", e.Path, pid)
}

// UnwritableError reports a state file that cannot be written where it
// is: its directory cannot be created or written, or the file is not a
// regular file.
type UnwritableError struct {
	Path string // the state file
	Err  error
}

func (e *UnwritableError) Error() string {
	return fmt.Sprintf("state file %s cannot be written: %v", e.Path, e.Err)
}

func (e *UnwritableError) Unwrap() error { return e.Err }

// Fatal reports that retrying cannot help until the file system changes.
func (e *UnwritableError) Fatal() bool { return true }

// runLockPath is the run lock's file; like the update lock, it is never
// removed, so that every process locks the same inode.
func (s *Store) runLockPath() string { return s.path + ".run" }

// LockRun takes the run lock without waiting. It returns an *InUseError
// when another process holds it and an *UnwritableError when its file
// cannot be created. Release it with Unlock.
func (s *Store) LockRun() (*RunLock, error) {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return nil, &UnwritableError{Path: s.path, Err: err}
	}
	f, err := os.OpenFile(s.runLockPath(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, &UnwritableError{Path: s.path, Err: err}
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		pid := holderPID(f)
		f.Close()
		return nil, &InUseError{Path: s.path, PID: pid}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", s.runLockPath(), err)
	}
	if err := writePID(f); err != nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		return nil, &UnwritableError{Path: s.path, Err: err}
	}
	return &RunLock{f: f}, nil
}

// Unlock releases the lock. The PID stays in the file: it is read only
// while someone holds the lock, and then it is the holder's.
func (l *RunLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// holderPID reads the PID the holder wrote. A holder that has just taken
// the lock may not have written it yet, so an empty file is read again
// for a moment.
func holderPID(f *os.File) int {
	for range 10 {
		b, err := io.ReadAll(io.NewSectionReader(f, 0, 32))
		if err != nil {
			return 0
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			pid, err := strconv.Atoi(s)
			if err != nil || pid <= 0 {
				return 0
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}

// CheckWritable checks that the state can be saved where it is, before a
// daemon connects anywhere: it creates the directory if needed, writes,
// syncs and removes a temporary file there as Update would, and opens the
// update lock. Without it, a read-only or full disk shows only as a
// warning on every poll, forever. Its errors are *UnwritableError.
func (s *Store) CheckWritable() error {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &UnwritableError{Path: s.path, Err: err}
	}
	if fi, err := os.Stat(s.path); err == nil && !fi.Mode().IsRegular() {
		return &UnwritableError{Path: s.path, Err: fmt.Errorf("%s is not a regular file (%s)", s.path, fi.Mode().Type())}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &UnwritableError{Path: s.path, Err: err}
	}
	f, err := os.CreateTemp(dir, filepath.Base(s.path)+".tmp-*")
	if err != nil {
		return &UnwritableError{Path: s.path, Err: err}
	}
	_, werr := f.Write([]byte("{}\n"))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if rerr := os.Remove(f.Name()); werr == nil {
		werr = rerr
	}
	if werr != nil {
		return &UnwritableError{Path: s.path, Err: werr}
	}
	lf, err := os.OpenFile(s.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return &UnwritableError{Path: s.path, Err: err}
	}
	return lf.Close()
}
