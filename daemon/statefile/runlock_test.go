package statefile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// TestRunLockExcludesASecondDaemon: while one holder has the run lock a
// second is refused with the holder's PID, and one-shot users of the
// store (Update, Load, Reset) are not held up. After Unlock the next one
// gets it.
func TestRunLockExcludesASecondDaemon(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state", "state.json")
	first, err := statefile.New(path).LockRun()
	if err != nil {
		t.Fatal(err)
	}
	second := statefile.New(path)
	_, err = second.LockRun()
	var inUse *statefile.InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("second LockRun: %v, want an *InUseError", err)
	}
	want := fmt.Sprintf("state file %s is in use by another r2sync run (pid %d)", path, os.Getpid())
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
	if _, err := second.Update(ctx, func(s *daemon.State) error { s.Initialized = true; return nil }); err != nil {
		t.Errorf("Update beside the run lock: %v", err)
	}
	if st, err := second.Load(ctx); err != nil || !st.Initialized {
		t.Errorf("Load beside the run lock: %+v, %v", st, err)
	}
	if err := second.Reset(ctx); err != nil {
		t.Errorf("Reset beside the run lock: %v", err)
	}
	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := second.LockRun()
	if err != nil {
		t.Fatalf("LockRun after Unlock: %v", err)
	}
	if err := again.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := again.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
}

// TestRunLockIsReleasedWhenTheHolderDies: the lock belongs to the open
// file, so a holder killed with SIGKILL leaves no stale lock behind, and a
// live one in another process is named by its PID.
func TestRunLockIsReleasedWhenTheHolderDies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	// The holder is this test binary, re-run as TestRunLockHelper.
	holder := exec.Command(os.Args[0], "-test.run=^TestRunLockHelper$")
	holder.Env = append(os.Environ(), "STATEFILE_HOLD="+path)
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	buf := make([]byte, 5)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("holder did not take the lock: %q, %v", buf, err)
	}
	_, err = statefile.New(path).LockRun()
	var inUse *statefile.InUseError
	if !errors.As(err, &inUse) || inUse.PID != holder.Process.Pid {
		t.Fatalf("LockRun beside process %d: %v", holder.Process.Pid, err)
	}
	_ = holder.Process.Kill()
	_, _ = holder.Process.Wait()
	l, err := statefile.New(path).LockRun()
	if err != nil {
		t.Fatalf("LockRun after the holder was killed: %v", err)
	}
	l.Unlock()
}

// TestRunLockHelper holds the run lock named by $STATEFILE_HOLD until
// killed; it is a no-op in a normal test run.
func TestRunLockHelper(t *testing.T) {
	path := os.Getenv("STATEFILE_HOLD")
	if path == "" {
		return
	}
	if _, err := statefile.New(path).LockRun(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("held")
	select {}
}

// TestUnwritableState: a state path that cannot be written is one
// *UnwritableError from CheckWritable and LockRun, naming the path, even
// for root (tests run as root here, where permission bits do not stop
// writes: a directory that is a regular file does).
func TestUnwritableState(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       string
		lockToo    bool // LockRun fails as well
	}{
		{"directory is a file", filepath.Join(file, "state.json"), "not a directory", true},
		{"state is a fifo", fifo, "is not a regular file", false},
	}
	if ro := readOnlyMount(t); ro != "" {
		tests = append(tests, struct {
			name, path string
			want       string
			lockToo    bool
		}{"read-only file system", filepath.Join(ro, "state.json"), "read-only file system", true})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := statefile.New(tt.path)
			check := func(what string, err error) {
				t.Helper()
				var ue *statefile.UnwritableError
				if !errors.As(err, &ue) {
					t.Fatalf("%s: %v, want an *UnwritableError", what, err)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "state file "+tt.path+" cannot be written: ") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
					t.Errorf("%s: %q, want one line naming %s and %q", what, msg, tt.path, tt.want)
				}
				if !daemon.IsFatal(err) {
					t.Errorf("%s: not fatal", what)
				}
			}
			check("CheckWritable", s.CheckWritable())
			if tt.lockToo {
				_, err := s.LockRun()
				check("LockRun", err)
			}
		})
	}
	t.Run("writable", func(t *testing.T) {
		path := filepath.Join(dir, "new", "state.json")
		if err := statefile.New(path).CheckWritable(); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		for _, e := range entries {
			if e.Name() != "state.json.lock" {
				t.Errorf("CheckWritable left %s behind", e.Name())
			}
		}
	})
}

// readOnlyMount mounts a read-only tmpfs when the test may (root with
// CAP_SYS_ADMIN), else returns "": the cases above cover the rest.
func readOnlyMount(t *testing.T) string {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_RDONLY, "size=64k"); err != nil {
		t.Logf("no read-only tmpfs (%v): that case is not run", err)
		return ""
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	return dir
}
