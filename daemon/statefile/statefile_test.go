package statefile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

func TestRoundTripAndMode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	s := statefile.New(path)
	st, err := s.Load(ctx)
	if err != nil || st.Initialized {
		t.Fatalf("Load of missing file = %+v, %v; want zero state", st, err)
	}
	const big = int64(1700000000000000123) // > 2^53: must survive as a string
	_, err = s.Update(ctx, func(st *daemon.State) error {
		st.Initialized = true
		st.LastID = big
		st.Pending = append(st.Pending, daemon.Status{PostID: big, Text: "你好 & <b>"})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"last_id": "1700000000000000123"`) {
		t.Errorf("ids not stored as strings:\n%s", raw)
	}
	got, err := statefile.New(path).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastID != big || len(got.Pending) != 1 || got.Pending[0].Text != "你好 & <b>" {
		t.Errorf("reloaded %+v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func TestUpdateErrorSavesNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	s := statefile.New(path)
	boom := errors.New("boom")
	if _, err := s.Update(ctx, func(st *daemon.State) error { st.LastID = 9; return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update err = %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file written despite error: %v", err)
	}
}

func TestCorrupt(t *testing.T) {
	for _, content := range []string{"{", "[]", `{"last_id": "x"}`, "{}\n{}", "\x00\x00"} {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := statefile.New(path).Load(context.Background())
		var c *statefile.CorruptError
		if !errors.As(err, &c) || !daemon.IsFatal(err) {
			t.Errorf("Load(%q) = %v, want a fatal CorruptError", content, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "r2sync state reset") || strings.Contains(msg, "\n") {
			t.Errorf("message %q should be one line naming the file and the way out", msg)
		}
	}
}

// Two Stores on one file stand for two processes (the daemon and `post`):
// concurrent increments must not be lost.
func TestConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	a, b := statefile.New(path), statefile.New(path)
	var wg sync.WaitGroup
	for _, s := range []*statefile.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := s.Update(ctx, func(st *daemon.State) error { st.Mirrored++; return nil }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st, err := a.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mirrored != 100 {
		t.Errorf("Mirrored = %d after 100 concurrent increments", st.Mirrored)
	}
}

func TestReset(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := statefile.New(path)
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Load(ctx); err != nil || st.Initialized {
		t.Errorf("after reset: %+v, %v", st, err)
	}
}

func BenchmarkUpdate(b *testing.B) {
	ctx := context.Background()
	s := statefile.New(filepath.Join(b.TempDir(), "state.json"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Update(ctx, func(st *daemon.State) error { st.Mirrored++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
