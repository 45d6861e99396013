package statefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// A failed write or fsync must leave nothing of the update behind, in
// memory or on disk: the caller was told it failed and will retry, and a
// cache that ran ahead of the disk would lose posts at the next restart.
func TestFailedWriteChangesNothing(t *testing.T) {
	for _, op := range []string{"write", "sync"} {
		for _, kind := range []string{"append", "snapshot"} {
			t.Run(op+" "+kind, func(t *testing.T) {
				ctx := context.Background()
				path := filepath.Join(t.TempDir(), "state.json")
				s := New(path)
				if _, err := s.Update(ctx, func(st *daemon.State) error {
					st.Initialized, st.Cursors = true, at(10)
					st.Pending = []daemon.Status{{PostID: "9", Text: "queued", QueuedAt: t0}}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				before, _ := os.ReadFile(path + ".journal.1")
				fails := 3
				s.faults = func(o string) error {
					if o == op && fails > 0 {
						fails--
						return syscall.ENOSPC
					}
					return nil
				}
				change := func(st *daemon.State) error {
					st.Cursors = at(12)
					st.Pending = append(st.Pending, daemon.Status{PostID: "11", Text: "new", QueuedAt: t0})
					if kind == "snapshot" { // a reordering needs a new generation
						st.Pending[0], st.Pending[1] = st.Pending[1], st.Pending[0]
					}
					return nil
				}
				for range 3 {
					_, err := s.Update(ctx, change)
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("Update with a failing %s = %v, want ENOSPC", op, err)
					}
					if st, err := s.Load(ctx); err != nil || last(st) != 10 || len(st.Pending) != 1 {
						t.Fatalf("in memory after a failed %s: %+v, %v", op, st, err)
					}
					if st, err := New(path).Load(ctx); err != nil || last(st) != 10 || len(st.Pending) != 1 {
						t.Fatalf("on disk after a failed %s: %+v, %v", op, st, err)
					}
					if after, _ := os.ReadFile(path + ".journal.1"); string(after) != string(before) {
						t.Fatalf("journal changed by a failed %s:\n%s", op, after)
					}
				}
				if _, err := s.Update(ctx, change); err != nil {
					t.Fatalf("Update once the disk has room: %v", err)
				}
				if st, err := New(path).Load(ctx); err != nil || last(st) != 12 || len(st.Pending) != 2 {
					t.Fatalf("on disk after success: %+v, %v", st, err)
				}
			})
		}
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, or skips
// the test when this process may not mount (not root, no CAP_SYS_ADMIN).
// The injected faults of TestFailedWriteChangesNothing run everywhere.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); the injected ENOSPC tests cover this without one", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v (files left open?)", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fillDisk writes to a file in dir until the file system is full and
// returns a func that frees the space again.
func fillDisk(t *testing.T, dir string) (free func()) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// Leave no byte: small writes too must fail.
	for {
		if _, err := f.Write(buf[:1]); err != nil {
			break
		}
	}
	f.Close()
	return func() {
		if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
			t.Fatal(err)
		}
	}
}

// On a real full file system the write fails with ENOSPC, the journal is
// cut back to its last batch, and the update succeeds once there is room.
func TestDiskFullTmpfs(t *testing.T) {
	dir := mountTmpfs(t, 256<<10)
	ctx := context.Background()
	path := filepath.Join(dir, "state.json")
	s := New(path)
	defer s.Close()
	if _, err := s.Update(ctx, func(st *daemon.State) error {
		st.Initialized, st.Cursors = true, at(10)
		st.Pending = []daemon.Status{{PostID: "9", Text: "queued", QueuedAt: t0}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	free := fillDisk(t, dir)
	big := strings.Repeat("x", 64<<10) // more than any page left over
	for range 3 {
		_, _, err := s.UpdateFront(ctx, 1, func(st *daemon.State) error {
			st.Pending = append(st.Pending[:0], daemon.Status{PostID: "11", Text: big, QueuedAt: t0})
			st.Mirrored++
			return nil
		})
		var pe *fs.PathError
		if !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &pe) || pe.Path != path+".journal.1" {
			t.Fatalf("UpdateFront on a full disk = %v, want ENOSPC naming the journal", err)
		}
		other := New(path)
		st, n, err := other.LoadFront(ctx, 1)
		other.Close()
		if err != nil || n != 1 || st.Pending[0].PostID != "9" || st.Mirrored != 0 {
			t.Fatalf("state on a full disk: %+v, %d, %v", st, n, err)
		}
	}
	free()
	if _, _, err := s.UpdateFront(ctx, 1, func(st *daemon.State) error {
		st.Pending = append(st.Pending[:0], daemon.Status{PostID: "11", Text: big, QueuedAt: t0})
		st.Mirrored++
		return nil
	}); err != nil {
		t.Fatalf("UpdateFront after freeing space: %v", err)
	}
	other := New(path)
	defer other.Close()
	if st, err := other.Load(ctx); err != nil || len(st.Pending) != 1 || st.Pending[0].PostID != "11" || st.Mirrored != 1 {
		t.Fatalf("state after freeing space: %+v, %v", st, err)
	}
}
