package daemon_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// A mirror started on the state file of an earlier release (see
// statefile/testdata/README.md) mirrors nothing it had taken into
// account, delivers every status that was pending, in order, and skips
// the post `r2sync post` had claimed: the upgrade repeats and loses
// nothing.
func TestMirrorResumesEarlierReleases(t *testing.T) {
	for _, tt := range []struct {
		fixture string
		pending []string
	}{
		{"release-49e1950", []string{"[r2] Tom & Jerry <3 https://example.com/?a=1&b=2", "[r2] 同步到人人网 🎉👨‍👩‍👧", "[r2] the third one"}},
		{"issue8-189af96", []string{"[r2] 同步到人人网 🎉👨‍👩‍👧", "[r2] the third one"}},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			files, _ := filepath.Glob(filepath.Join("statefile", "testdata", tt.fixture, "state.json*"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			store := statefile.New(filepath.Join(dir, "state.json"))
			defer store.Close()

			// The account's timeline: what the old release saw, then new
			// posts, one of them made by `r2sync post` (claimed in the state).
			src := &fakeSource{}
			for _, id := range []int64{1858000000000000100, 1858000000000000200, 1858000000000000300, 1858000000000000325, 1858000000000000350} {
				src.add(post(id, "seen before the upgrade"))
			}
			src.add(post(1858000000000000375, "new"), post(1858000000000000400, "posted by r2sync post"), post(1858000000000000425, "newer"))
			sink := &fakeSink{}
			obs := newRecObserver()
			m := mirrorWith(t, daemon.Config{Source: src, SourceName: statefile.LegacySource, Sink: sink, Store: store, Observer: obs})

			if n, err := m.PollOnce(ctx); err != nil || n != 2 {
				t.Fatalf("PollOnce = %d, %v; want the two new posts queued", n, err)
			}
			if n, err := m.DeliverOnce(ctx); err != nil || n != len(tt.pending)+2 {
				t.Fatalf("DeliverOnce = %d, %v", n, err)
			}
			want := append(slices.Clone(tt.pending), "new", "newer")
			if got := sink.got(); !slices.Equal(got, want) {
				t.Errorf("statuses %q, want %q", got, want)
			}
			if obs.skipped["posted by r2sync post"] != 1 {
				t.Errorf("skips %v, want the claimed post skipped", obs.skipped)
			}
			st, err := store.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c, _ := st.Cursor(statefile.LegacySource); c != "1858000000000000425" || len(st.Pending) != 0 || len(st.Posted) != 0 {
				t.Errorf("state after resuming: %+v", st)
			}
		})
	}
}
