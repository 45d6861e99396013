package statefile_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// copyFixture copies the state files of testdata/name into a new
// directory and returns the path of its state.json.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join("testdata", name, "state.json*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("fixture %s: %v", name, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "state.json")
}

// The state files of earlier releases, as they wrote them (see
// testdata/README.md), load with every field, their cursor under
// statefile.LegacySource; the first write migrates them to format 3 and
// loses nothing.
func TestLoadsEarlierReleases(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 15, 0, 0, time.UTC)
	pending := []daemon.Status{
		{PostID: "1858000000000000300", Text: "[r2] Tom & Jerry <3 https://example.com/?a=1&b=2", QueuedAt: at.Add(time.Hour)},
		{PostID: "1858000000000000325", Text: "[r2] 同步到人人网 🎉👨‍👩‍👧", QueuedAt: at.Add(2 * time.Hour)},
		{PostID: "1858000000000000350", Text: "[r2] the third one", QueuedAt: at.Add(3 * time.Hour)},
	}
	base := daemon.State{
		Initialized: true,
		Cursors:     map[string]string{statefile.LegacySource: "1858000000000000350"},
		Posted:      []daemon.PostRef{{Source: statefile.LegacySource, ID: "1858000000000000400", Cursor: "1858000000000000400"}},
	}
	format1 := base
	format1.Pending = pending
	format1.Mirrored = 2
	format1.LastMirrored = &daemon.Delivered{PostID: "1858000000000000200", At: at}
	format2 := base
	format2.Pending = []daemon.Status{pending[1], pending[2]}
	format2.Pending[0].Attempts = 1
	format2.Mirrored = 3
	format2.LastMirrored = &daemon.Delivered{PostID: "1858000000000000300", At: at.Add(5 * time.Hour)}

	for _, tt := range []struct {
		fixture string
		want    daemon.State
	}{
		{"release-49e1950", format1},
		{"issue8-189af96", format2},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			path := copyFixture(t, tt.fixture)
			s := statefile.New(path)
			defer s.Close()
			same(t, "as loaded", mustLoad(t, s), tt.want)
			// The front window of a delivery, as the mirror reads it.
			st, n, err := s.LoadFront(context.Background(), 1)
			if err != nil || n != len(tt.want.Pending) || len(st.Pending) != 1 || st.Pending[0] != tt.want.Pending[0] {
				t.Fatalf("LoadFront = %+v, %d, %v", st, n, err)
			}

			// A delivery, the mirror's first write after the upgrade.
			mustUpdate(t, s, func(st *daemon.State) error {
				st.Pending = st.Pending[1:]
				st.Mirrored++
				return nil
			})
			want := tt.want
			want.Pending, want.Mirrored = tt.want.Pending[1:], tt.want.Mirrored+1
			same(t, "after the first write, read back", mustLoad(t, statefile.New(path)), want)
			raw, err := os.ReadFile(path)
			if err != nil || !strings.Contains(string(raw), `"format": 3`) {
				t.Errorf("state.json not in format 3: %s, %v", raw, err)
			}
			journals, _ := filepath.Glob(path + ".journal.*")
			if len(journals) != 1 || strings.HasSuffix(journals[0], ".journal.1") && tt.fixture == "issue8-189af96" {
				t.Errorf("journals after the migration: %q, want one of a new generation", journals)
			}
			// And the next write is an append to the new journal.
			before := s.Stats()
			mustUpdate(t, s, func(st *daemon.State) error { st.Mirrored++; return nil })
			if after := s.Stats(); after.Appends != before.Appends+1 || after.Snapshots != before.Snapshots {
				t.Errorf("second write: %+v after %+v, want one append", after, before)
			}
		})
	}
}
