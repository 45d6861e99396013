package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// countingSink counts statuses and checks their order without keeping them.
type countingSink struct {
	mu   sync.Mutex
	n    int
	last int
	bad  bool
}

func (c *countingSink) SetStatus(_ context.Context, text string) error {
	i, _ := strconv.Atoi(strings.TrimPrefix(strings.Fields(text)[0], "#"))
	c.mu.Lock()
	c.bad = c.bad || i != c.last+1
	c.n, c.last = c.n+1, i
	c.mu.Unlock()
	return nil
}

// procStatus reads a line like "VmHWM:  1234 kB" from /proc/self/status.
func procStatus(key string) string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// The case: a format-1 state file with N pending statuses (100k
// took 17.6 MB and, rewritten per delivery, about 35 hours). Draining must
// write O(N) bytes in all. R2SYNC_DRAIN_N sets N (default 10,000); run
// alone (-run TestDrainLinear) for meaningful RSS numbers.
func TestDrainLinear(t *testing.T) {
	n := 10_000
	if s := os.Getenv("R2SYNC_DRAIN_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			t.Fatalf("R2SYNC_DRAIN_N=%q: want a positive number", s)
		}
	}
	path := t.TempDir() + "/state.json"
	// A state file in format 1, as r2sync wrote it before the journal.
	type format1Status struct {
		PostID   int64     `json:"post_id,string"`
		Text     string    `json:"text"`
		QueuedAt time.Time `json:"queued_at"`
	}
	type format1 struct {
		Initialized bool            `json:"initialized"`
		LastID      int64           `json:"last_id,string"`
		Pending     []format1Status `json:"pending"`
		Mirrored    int64           `json:"mirrored"`
	}
	old := format1{Initialized: true, LastID: int64(n), Mirrored: 1}
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		old.Pending = append(old.Pending, format1Status{PostID: int64(i), Text: "#" + strconv.Itoa(i) + " " + strings.Repeat("同步到人人网 ", 8), QueuedAt: at})
	}
	b, err := json.MarshalIndent(old, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	queue := int64(len(b))
	old, b = format1{}, nil
	debug.FreeOSMemory()

	store := statefile.New(path)
	defer store.Close()
	sink := &countingSink{}
	m := mirrorWith(t, daemon.Config{Source: &fakeSource{}, Sink: sink, Store: store})
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM
	start := time.Now()
	if os.Getenv("R2SYNC_DRAIN_SPLIT") != "" {
		// Load (and migrate) first, to see the drain's own peak.
		if _, _, err := store.UpdateFront(context.Background(), 0, func(*daemon.State) error { return nil }); err != nil {
			t.Fatal(err)
		}
		t.Logf("loaded and migrated in %s: peak RSS %s", time.Since(start).Round(time.Millisecond), procStatus("VmHWM"))
		debug.FreeOSMemory()
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	}
	got, err := m.DeliverOnce(context.Background())
	took := time.Since(start)
	if err != nil || got != n || sink.n != n || sink.bad {
		t.Fatalf("DeliverOnce = %d, %v; sink saw %d (out of order: %t)", got, err, sink.n, sink.bad)
	}
	st := store.Stats()
	t.Logf("drained %d from a %.1f MB format-1 file in %s (%.0f/s): %.1f MB written (%.0f B per delivery, %.2f× the file), %d fsyncs (%.3f per delivery), %d snapshots; peak RSS during the drain %s, RSS now %s",
		n, float64(queue)/1e6, took.Round(time.Millisecond), float64(n)/took.Seconds(), float64(st.BytesWritten)/1e6,
		float64(st.BytesWritten)/float64(n), float64(st.BytesWritten)/float64(queue), st.Syncs, float64(st.Syncs)/float64(n), st.Snapshots,
		procStatus("VmHWM"), procStatus("VmRSS"))
	if st.BytesWritten > 10*queue {
		t.Errorf("draining wrote %d bytes for a %d-byte queue, want < 10×", st.BytesWritten, queue)
	}
	if reread, err := statefile.New(path).Load(context.Background()); err != nil || len(reread.Pending) != 0 || reread.Mirrored != int64(n+1) {
		t.Errorf("after the drain: %d pending, mirrored %d, %v", len(reread.Pending), reread.Mirrored, err)
	}
}
