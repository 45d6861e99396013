package statefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// errNoLock says that a reader found no lock file it could open: nobody
// ever wrote the state there, or the reader may not write.
var errNoLock = errors.New("no state lock")

// lockFile is the sibling file whose flock serialises writers across
// processes. It stays open between uses (one flock call pair per use
// instead of open, flock, close) and is never removed, so that every
// process locks one inode; if someone removes it anyway, the next use
// notices and opens the new one.
type lockFile struct {
	path string
	f    *os.File
	info os.FileInfo
}

// lock takes the flock, exclusive for writers and shared for readers,
// waiting until ctx ends. A writer creates the directory and the file; a
// reader gets errNoLock when there is none it can open.
func (l *lockFile) lock(ctx context.Context, write bool) (unlock func(), err error) {
	if err := l.open(write); err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if write {
		how = syscall.LOCK_EX
	}
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(l.f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			l.close()
			return nil, fmt.Errorf("lock state file: %w", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("lock state file: %w", ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
	return func() { _ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN) }, nil
}

// open makes l.f the file now at l.path.
func (l *lockFile) open(write bool) error {
	if l.f != nil {
		fi, err := os.Stat(l.path)
		if err == nil && os.SameFile(fi, l.info) {
			return nil
		}
		l.close()
	}
	if write {
		if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
			return fmt.Errorf("create state directory: %w", err)
		}
	}
	flags := os.O_RDWR
	if write {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(l.path, flags, 0o600)
	if !write && errors.Is(err, fs.ErrPermission) {
		f, err = os.Open(l.path)
	}
	if err != nil {
		if !write && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
			return errNoLock
		}
		return fmt.Errorf("open state lock: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open state lock: %w", err)
	}
	l.f, l.info = f, fi
	return nil
}

func (l *lockFile) close() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
