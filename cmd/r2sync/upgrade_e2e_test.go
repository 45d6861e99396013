package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// TestRunResumesEarlierReleaseState starts `r2sync run` on a state file
// as an earlier release wrote it (daemon/statefile/testdata) and a
// timeline that holds every tweet that release saw: the statuses it had
// queued go out first, in order, then only the tweets after its cursor,
// without the one `r2sync post` had claimed. Nothing is re-mirrored and
// no pending status is lost.
func TestRunResumesEarlierReleaseState(t *testing.T) {
	for _, tt := range []struct {
		fixture string
		pending []string
	}{
		{"release-49e1950", []string{"[r2] Tom & Jerry <3 https://example.com/?a=1&b=2", "[r2] 同步到人人网 🎉👨‍👩‍👧", "[r2] the third one"}},
		{"issue8-189af96", []string{"[r2] 同步到人人网 🎉👨‍👩‍👧", "[r2] the third one"}},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			w := newWorld(t, "v1.1", "[sync]\ntemplate = \"[r2] {{.Text}}\"\n")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := os.MkdirAll(filepath.Dir(w.state), 0o700); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join("..", "..", "daemon", "statefile", "testdata", tt.fixture, "state.json*"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(filepath.Dir(w.state), filepath.Base(f)), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range []int64{1858000000000000100, 1858000000000000200, 1858000000000000300, 1858000000000000325, 1858000000000000350} {
				w.server.AddTweet(twittertest.Tweet{ID: id, Text: "seen before the upgrade"})
			}
			w.server.AddTweet(twittertest.Tweet{ID: 1858000000000000375, Text: "new"})
			w.server.AddTweet(twittertest.Tweet{ID: 1858000000000000400, Text: "posted by r2sync post"})
			w.server.AddTweet(twittertest.Tweet{ID: 1858000000000000425, Text: "newer"})

			d := w.start()
			want := append(slices.Clone(tt.pending), "[r2] new", "[r2] newer")
			if got := w.statuses(ctx, len(want)); !slices.Equal(got, want) {
				t.Fatalf("statuses\n got %q\nwant %q", got, want)
			}
			// A sentinel proves nothing else was queued before it.
			w.server.AddTweet(twittertest.Tweet{Text: "sentinel"})
			checkOnce(t, w.statuses(ctx, len(want)+1), append(want, "[r2] sentinel"))
			d.stop(t)
			st := w.readState()
			if len(st.Pending) != 0 || len(st.Posted) != 0 {
				t.Errorf("state after the run: %+v", st)
			}
		})
	}
}
