package statefile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func status(id int64, text string) daemon.Status {
	return daemon.Status{PostID: strconv.FormatInt(id, 10), Text: text, QueuedAt: t0.Add(time.Duration(id) * time.Second)}
}

// at returns the cursors of a state whose one source stands after post n.
func at(n int64) map[string]string {
	return map[string]string{"src": strconv.FormatInt(n, 10)}
}

// last is the post the one source of st stands after.
func last(st daemon.State) int64 {
	n, _ := strconv.ParseInt(st.Cursors["src"], 10, 64)
	return n
}

// same compares states as they are saved.
func same(t *testing.T, what string, got, want daemon.State) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if len(got.Pending) == 0 && len(want.Pending) == 0 {
		got.Pending, want.Pending = nil, nil
		g, _ = json.Marshal(got)
		w, _ = json.Marshal(want)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func mustUpdate(t testing.TB, s *statefile.Store, fn func(*daemon.State) error) daemon.State {
	t.Helper()
	st, err := s.Update(context.Background(), fn)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustLoad(t testing.TB, s *statefile.Store) daemon.State {
	t.Helper()
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRoundTripAndMode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	s := statefile.New(path)
	st, err := s.Load(ctx)
	if err != nil || st.Initialized {
		t.Fatalf("Load of missing file = %+v, %v; want zero state", st, err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load created the state directory: %v", err)
	}
	const big = int64(1700000000000000123) // > 2^53: must survive as a string
	mustUpdate(t, s, func(st *daemon.State) error {
		st.Initialized = true
		st.Cursors = at(big)
		return nil
	})
	// An append, not only the first snapshot.
	mustUpdate(t, s, func(st *daemon.State) error {
		st.Pending = append(st.Pending, daemon.Status{PostID: strconv.FormatInt(big, 10), Text: "你好 & <b>", QueuedAt: t0})
		return nil
	})
	for _, name := range []string{"state.json", "state.json.journal.1", "state.json.lock"} {
		fi, err := os.Stat(filepath.Join(filepath.Dir(path), name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	raw, _ := os.ReadFile(path + ".journal.1")
	for _, want := range []string{`"cursors":{"src":"1700000000000000123"}`, `"post_id":"1700000000000000123"`, `"text":"你好 & <b>"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("journal lacks %s:\n%s", want, raw)
		}
	}
	got := mustLoad(t, statefile.New(path))
	if last(got) != big || len(got.Pending) != 1 || got.Pending[0].Text != "你好 & <b>" {
		t.Errorf("reloaded %+v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

// format1State is the whole State as format 1 (r2sync before the journal)
// held it in state.json.
type format1State struct {
	Initialized bool  `json:"initialized"`
	LastID      int64 `json:"last_id,string"`
	Pending     []struct {
		PostID   int64     `json:"post_id,string"`
		Text     string    `json:"text"`
		QueuedAt time.Time `json:"queued_at"`
	} `json:"pending"`
	Posted []struct {
		ID int64 `json:"id,string"`
	} `json:"posted,omitempty"`
	Mirrored     int64 `json:"mirrored"`
	LastMirrored *struct {
		PostID int64     `json:"post_id,string"`
		At     time.Time `json:"at"`
	} `json:"last_mirrored,omitempty"`
}

// state.json since format 2 must be refused by an r2sync from before it:
// a format-1 reader that took it for a state would mirror from cursor 0.
func TestFormat2IsRefusedByFormat1Readers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	mustUpdate(t, statefile.New(path), func(st *daemon.State) error { st.Initialized = true; st.Cursors = at(5); return nil })
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var old format1State
	if err := json.Unmarshal(b, &old); err == nil {
		t.Errorf("a format-1 reader decodes state.json without error:\n%s", b)
	}
	if !old.Initialized {
		t.Errorf("initialized is not readable from state.json by scripts:\n%s", b)
	}
}

func TestUpdateErrorSavesNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	s := statefile.New(path)
	boom := errors.New("boom")
	if _, err := s.Update(ctx, func(st *daemon.State) error { st.Cursors = at(9); return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update err = %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file written despite error: %v", err)
	}
}

// An Update that leaves a state the Store would refuse to read back is
// refused, and changes nothing.
func TestUpdateRefusesImpossibleStates(t *testing.T) {
	ctx := context.Background()
	s := statefile.New(filepath.Join(t.TempDir(), "state.json"))
	mustUpdate(t, s, func(st *daemon.State) error {
		st.Initialized, st.Cursors = true, at(10)
		st.Pending = []daemon.Status{status(1, "a"), status(2, "b")}
		return nil
	})
	before := mustLoad(t, s)
	for _, tt := range []struct {
		name string
		fn   func(*daemon.State)
	}{
		{"cursor of no source", func(st *daemon.State) { st.Cursors = map[string]string{"": "1"} }},
		{"duplicate pending", func(st *daemon.State) { st.Pending = append(st.Pending, status(1, "again")) }},
		{"empty post id", func(st *daemon.State) { st.Pending = append(st.Pending, daemon.Status{Text: "no id"}) }},
		{"claim of no source", func(st *daemon.State) { st.Posted = append(st.Posted, daemon.PostRef{ID: "3"}) }},
		{"negative attempts", func(st *daemon.State) { st.Pending[0].Attempts = -1 }},
		{"negative mirrored", func(st *daemon.State) { st.Mirrored = -3 }},
	} {
		_, err := s.Update(ctx, func(st *daemon.State) error { tt.fn(st); return nil })
		var inv *statefile.InvalidError
		if !errors.As(err, &inv) || !daemon.IsFatal(err) {
			t.Errorf("%s: err = %v, want a fatal InvalidError", tt.name, err)
		}
		same(t, tt.name+": state after the refused update", mustLoad(t, statefile.New(s.Path())), before)
	}
	// The front window cannot queue a post that waits further back.
	_, _, err := s.UpdateFront(ctx, 1, func(st *daemon.State) error {
		st.Pending = append(st.Pending, status(2, "b again"))
		return nil
	})
	if !errors.As(err, new(*statefile.InvalidError)) {
		t.Errorf("UpdateFront queueing a post twice: err = %v", err)
	}
}

// Two Stores on one file stand for two processes (the daemon and `post`):
// concurrent increments must not be lost.
func TestConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	a, b := statefile.New(path), statefile.New(path)
	var wg sync.WaitGroup
	for i, s := range []*statefile.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				if _, err := s.Update(ctx, func(st *daemon.State) error {
					st.Mirrored++
					st.Pending = append(st.Pending, status(int64(1+i*100+j), "x"))
					return nil
				}); err != nil {
					t.Error(err)
					return
				}
				if _, _, err := s.UpdateFront(ctx, 1, func(st *daemon.State) error {
					st.Pending = st.Pending[:0]
					return nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, s := range []*statefile.Store{a, b, statefile.New(path)} {
		st := mustLoad(t, s)
		if st.Mirrored != 100 || len(st.Pending) != 0 {
			t.Errorf("Mirrored = %d, %d pending after 100 concurrent increments and removals", st.Mirrored, len(st.Pending))
		}
	}
}

// A Store sees what another process wrote: appends, a new generation, a
// reset. It keeps the state in memory between uses, so this is the check
// that its cache notices.
func TestSeesOtherWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	daemonStore, post := statefile.New(path), statefile.New(path)
	mustUpdate(t, daemonStore, func(st *daemon.State) error { st.Initialized, st.Cursors = true, at(10); return nil })
	mustLoad(t, daemonStore)

	mustUpdate(t, post, func(st *daemon.State) error {
		st.Posted = append(st.Posted, daemon.PostRef{Source: "src", ID: "11", Cursor: "11"})
		st.Pending = append(st.Pending, status(11, "by post"))
		return nil
	})
	st := mustLoad(t, daemonStore)
	if len(st.Posted) != 1 || len(st.Pending) != 1 || st.Pending[0].Text != "by post" {
		t.Fatalf("after another process appended: %+v", st)
	}
	// A reordering makes the other process write a new generation.
	mustUpdate(t, post, func(st *daemon.State) error {
		st.Pending = append([]daemon.Status{status(9, "first")}, st.Pending...)
		return nil
	})
	if st, n, err := daemonStore.LoadFront(context.Background(), 1); err != nil || n != 2 || st.Pending[0].Text != "first" {
		t.Fatalf("after another process wrote a new generation: %+v, %d, %v", st, n, err)
	}
	if err := post.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := mustLoad(t, daemonStore); st.Initialized || len(st.Pending) != 0 {
		t.Fatalf("after another process reset the state: %+v", st)
	}
	// Writing after the reset starts from the fresh state, not the cache.
	st = mustUpdate(t, daemonStore, func(st *daemon.State) error { st.Mirrored++; return nil })
	if st.Initialized || st.Mirrored != 1 || len(st.Pending) != 0 {
		t.Errorf("update after reset: %+v", st)
	}
}

func TestReset(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
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
	mustUpdate(t, s, func(st *daemon.State) error { st.Pending = []daemon.Status{status(1, "x")}; return nil })
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "state.json.lock" {
			t.Errorf("left after reset: %s", e.Name())
		}
	}
}

// A format-1 file (the whole State in state.json) still loads, its
// cursor under statefile.LegacySource, and the first write turns it into
// format 3 with nothing lost.
func TestMigratesFormat1(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	v1 := `{
  "initialized": true,
  "last_id": "1864000000000000003",
  "pending": [
    {"post_id": "1864000000000000002", "text": "Tom & Jerry <3", "queued_at": "2026-11-23T08:00:02Z"},
    {"post_id": "1864000000000000003", "text": "长", "queued_at": "2026-11-23T08:00:03Z"}
  ],
  "posted": [{"id": "1864000000000000004"}],
  "mirrored": 12,
  "last_mirrored": {"post_id": "1864000000000000001", "at": "2026-11-23T08:00:00Z"}
}`
	if err := os.WriteFile(path, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	old := daemon.State{
		Initialized: true, Cursors: map[string]string{statefile.LegacySource: "1864000000000000003"}, Mirrored: 12,
		Pending: []daemon.Status{
			{PostID: "1864000000000000002", Text: "Tom & Jerry <3", QueuedAt: t0.Add(2 * time.Second)},
			{PostID: "1864000000000000003", Text: "长", QueuedAt: t0.Add(3 * time.Second)},
		},
		Posted:       []daemon.PostRef{{Source: statefile.LegacySource, ID: "1864000000000000004", Cursor: "1864000000000000004"}},
		LastMirrored: &daemon.Delivered{PostID: "1864000000000000001", At: t0},
	}
	s := statefile.New(path)
	same(t, "format 1 as loaded", mustLoad(t, s), old)
	st, n, err := s.UpdateFront(context.Background(), 1, func(st *daemon.State) error {
		st.Pending = st.Pending[1:]
		st.Mirrored++
		return nil
	})
	if err != nil || n != 1 || st.Pending[0].PostID != "1864000000000000003" {
		t.Fatalf("first update: %+v, %d, %v", st, n, err)
	}
	want := old
	want.Pending, want.Mirrored = old.Pending[1:], 13
	same(t, "after migration, read back", mustLoad(t, statefile.New(path)), want)
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"format": 3`) {
		t.Errorf("state.json not migrated:\n%s", raw)
	}
}

// Deliveries append; once the dead batches outweigh the live state the
// journal is rewritten as a new generation, and the old one goes.
func TestCompaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	s := statefile.New(path)
	text := strings.Repeat("x", 200)
	mustUpdate(t, s, func(st *daemon.State) error {
		st.Initialized = true
		for i := range 2000 {
			st.Pending = append(st.Pending, status(int64(i+1), text))
		}
		return nil
	})
	for i := range 1990 {
		if _, _, err := s.UpdateFront(ctx, 1, func(st *daemon.State) error {
			st.Pending = st.Pending[1:]
			st.Mirrored++
			return nil
		}); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	stats := s.Stats()
	if stats.Snapshots < 2 {
		t.Errorf("no compaction after draining 1990 of 2000: %+v", stats)
	}
	st := mustLoad(t, statefile.New(path))
	if len(st.Pending) != 10 || st.Pending[0].PostID != "1991" || st.Mirrored != 1990 {
		t.Errorf("after compactions: %d pending from %s, mirrored %d", len(st.Pending), st.Pending[0].PostID, st.Mirrored)
	}
	journals, _ := filepath.Glob(path + ".journal.*")
	if len(journals) != 1 {
		t.Errorf("journals on disk: %v", journals)
	}
	fi, _ := os.Stat(journals[0])
	if fi.Size() > 200<<10 {
		t.Errorf("journal is %d bytes for 10 pending statuses", fi.Size())
	}
}

// fill queues n statuses in batches, as polls do, and returns the bytes
// a snapshot of that queue takes.
func fill(t testing.TB, s *statefile.Store, n int) int64 {
	t.Helper()
	mustUpdate(t, s, func(st *daemon.State) error { st.Initialized, st.Cursors = true, at(1); return nil })
	text := strings.Repeat("同步到人人网 ", 10) // a typical status: about 170 bytes
	for i := 0; i < n; i += 100 {
		mustUpdate(t, s, func(st *daemon.State) error {
			for j := i; j < min(i+100, n); j++ {
				st.Pending = append(st.Pending, status(int64(2+j), text))
			}
			st.Cursors = at(int64(1 + min(i+100, n)))
			return nil
		})
	}
	b, _ := json.Marshal(mustLoad(t, s))
	return int64(len(b))
}

// drain delivers every pending status the way the mirror does.
func drain(t testing.TB, s *statefile.Store) int {
	t.Helper()
	ctx := context.Background()
	delivered := 0
	for {
		st, n, err := s.LoadFront(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return delivered
		}
		id := st.Pending[0].PostID
		if _, _, err := s.UpdateFront(ctx, 1, func(st *daemon.State) error {
			st.Pending = slices.DeleteFunc(st.Pending, func(p daemon.Status) bool { return p.PostID == id })
			st.Mirrored++
			st.LastMirrored = &daemon.Delivered{PostID: id, At: t0}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		delivered++
	}
}

// Draining N statuses must cost O(N) bytes, not the O(N²) of rewriting the
// whole queue per delivery.
func TestDrainWritesLinearBytes(t *testing.T) {
	const n = 10_000
	path := filepath.Join(t.TempDir(), "state.json")
	s := statefile.New(path)
	queue := fill(t, s, n)
	before := s.Stats()
	start := time.Now()
	if got := drain(t, s); got != n {
		t.Fatalf("delivered %d, want %d", got, n)
	}
	took := time.Since(start)
	after := s.Stats()
	written := after.BytesWritten - before.BytesWritten
	syncs := after.Syncs - before.Syncs
	snaps := after.Snapshots - before.Snapshots
	t.Logf("drained %d (queue %d bytes) in %s: %d bytes written (%.0f per delivery, %.2f× the queue), %d fsyncs (%.3f per delivery), %d compactions",
		n, queue, took.Round(time.Millisecond), written, float64(written)/n, float64(written)/float64(queue), syncs, float64(syncs)/n, snaps)
	if written > 10*queue {
		t.Errorf("draining wrote %d bytes for a %d-byte queue, want < 10×", written, queue)
	}
	// One fsync per delivery, plus four per compaction.
	if syncs > n+4*snaps {
		t.Errorf("%d fsyncs for %d deliveries and %d compactions", syncs, n, snaps)
	}
	if st := mustLoad(t, statefile.New(path)); len(st.Pending) != 0 || st.Mirrored != n {
		t.Errorf("after drain: %d pending, mirrored %d", len(st.Pending), st.Mirrored)
	}
}

// BenchmarkDeliver measures one delivery (look at the front, remove it)
// with 10,000 statuses behind it.
func BenchmarkDeliver(b *testing.B) {
	s := statefile.New(filepath.Join(b.TempDir(), "state.json"))
	fill(b, s, 10_000)
	ctx := context.Background()
	next := int64(1_000_000)
	before := s.Stats()
	b.ReportAllocs()
	for b.Loop() {
		st, _, err := s.LoadFront(ctx, 1)
		if err != nil {
			b.Fatal(err)
		}
		id := st.Pending[0].PostID
		// Queue one at the back for each delivered, so the queue stays long.
		if _, _, err := s.UpdateFront(ctx, 1, func(st *daemon.State) error {
			st.Pending = []daemon.Status{status(next, fmt.Sprint("refill ", id))}
			st.Mirrored++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		next++
	}
	after := s.Stats()
	b.ReportMetric(float64(after.BytesWritten-before.BytesWritten)/float64(b.N), "B-written/op")
	b.ReportMetric(float64(after.Syncs-before.Syncs)/float64(b.N), "fsyncs/op")
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

// A delivery and a poll's batch of queued statuses each cost one append
// and one fsync, however long the queue; issue 14 counts on it.
func TestOneFsyncPerUpdate(t *testing.T) {
	ctx := context.Background()
	s := statefile.New(filepath.Join(t.TempDir(), "state.json"))
	defer s.Close()
	fill(t, s, 1000)
	for _, tt := range []struct {
		name string
		do   func() error
	}{
		{"queue 50", func() error {
			_, _, err := s.UpdateFront(ctx, 0, func(st *daemon.State) error {
				for i := range 50 {
					st.Pending = append(st.Pending, status(int64(5000+i), "queued"))
				}
				st.Cursors = at(5049)
				return nil
			})
			return err
		}},
		{"deliver", func() error {
			_, _, err := s.UpdateFront(ctx, 1, func(st *daemon.State) error {
				st.Pending = st.Pending[1:]
				st.Mirrored++
				return nil
			})
			return err
		}},
		{"count an attempt", func() error {
			_, _, err := s.UpdateFront(ctx, 1, func(st *daemon.State) error {
				st.Pending[0].Attempts++
				return nil
			})
			return err
		}},
		{"look", func() error { _, _, err := s.LoadFront(ctx, 1); return err }},
	} {
		before := s.Stats()
		if err := tt.do(); err != nil {
			t.Fatal(err)
		}
		after := s.Stats()
		want := int64(1)
		if tt.name == "look" {
			want = 0
		}
		if got := after.Syncs - before.Syncs; got != want || after.Snapshots != before.Snapshots {
			t.Errorf("%s: %d fsyncs, %d snapshots; want %d and none", tt.name, got, after.Snapshots-before.Snapshots, want)
		}
	}
}

// WriteFileAtomic replaces a file whole, with the mode asked for, and
// leaves no temporary file behind, also when it fails.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := statefile.WriteFileAtomic(path, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if err != nil || string(b) != "new\n" || fi.Mode().Perm() != 0o600 {
		t.Errorf("after the write: %q, %v, mode %v", b, err, fi.Mode().Perm())
	}
	if err := statefile.WriteFileAtomic(filepath.Join(dir, "missing", "token"), []byte("x"), 0o600); err == nil {
		t.Error("a write into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left in the directory: %v", entries)
	}
}
