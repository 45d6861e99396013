package shard_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/shard"
)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("mirror-%d", i)
	}
	return out
}

// The assignment is a contract between releases: a change would move
// running mirrors. These values must never change.
func TestGolden(t *testing.T) {
	if got, want := shard.Score("alice", 0), uint64(0xa0d729f0aba23976); got != want {
		t.Errorf("Score(alice, 0) = %#x, want %#x", got, want)
	}
	golden := []struct {
		name string
		n    int
		want int
	}{
		{"alice", 2, 0}, {"alice", 3, 0}, {"alice", 4, 3},
		{"bob", 2, 0}, {"bob", 3, 0}, {"bob", 4, 0},
		{"carol", 4, 3}, {"mirror-1", 2, 1}, {"mirror-1", 3, 2}, {"mirror-1", 4, 2},
	}
	for _, g := range golden {
		if got := shard.Of(g.name, g.n); got != g.want {
			t.Errorf("Of(%q, %d) = %d, want %d", g.name, g.n, got, g.want)
		}
	}
}

func TestEveryMirrorOnExactlyOneShard(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 7} {
		for _, name := range names(2000) {
			owners := 0
			for i := range n {
				if (shard.Shard{Index: i, Count: n}).Owns(name) {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("%d shards: %q owned by %d", n, name, owners)
			}
		}
	}
}

// Going from N to N+1 shards moves about 1/(N+1) of the mirrors, and
// only to the new shard.
func TestGrowMovesAboutOneInNPlusOne(t *testing.T) {
	const total = 10000
	ns := names(total)
	for n := 1; n <= 8; n++ {
		moved := 0
		perShard := make([]int, n+1)
		for _, name := range ns {
			was, now := shard.Of(name, n), shard.Of(name, n+1)
			perShard[now]++
			if was != now {
				moved++
				if now != n {
					t.Fatalf("%d→%d: %q moved from %d to %d, not to the new shard", n, n+1, name, was, now)
				}
			}
		}
		want := float64(total) / float64(n+1)
		if f := float64(moved); f < 0.85*want || f > 1.15*want {
			t.Errorf("%d→%d shards moved %d of %d, want about %.0f (±15%%)", n, n+1, moved, total, want)
		}
		for i, c := range perShard {
			if f := float64(c); f < 0.85*want || f > 1.15*want {
				t.Errorf("%d shards: shard %d has %d of %d, want about %.0f", n+1, i, c, total, want)
			}
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		spec    string
		count   int
		want    shard.Shard
		wantErr string
	}{
		{spec: "0/1", want: shard.Shard{0, 1}},
		{spec: "2/4", want: shard.Shard{2, 4}},
		{spec: "r2sync-3/4", want: shard.Shard{3, 4}},
		{spec: "r2sync-3", count: 4, want: shard.Shard{3, 4}},
		{spec: "my-app-r2sync-0", count: 2, want: shard.Shard{0, 2}},
		{spec: "1/3", count: 3, want: shard.Shard{1, 3}},
		{spec: "", wantErr: "empty shard"},
		{spec: "r2sync-3", wantErr: "no shard count"},
		{spec: "4/4", wantErr: "index 4 is not below the count 4"},
		{spec: "1/0", wantErr: "count after / must be"},
		{spec: "1/x", wantErr: "count after / must be"},
		{spec: "-1/3", wantErr: "want I/N"},
		{spec: "a/3", wantErr: "want I/N"},
		{spec: "r2sync-/3", wantErr: "want I/N"},
		{spec: "+1/3", wantErr: "want I/N"},
		{spec: "1/3", count: 4, wantErr: "disagrees"},
		{spec: "1/5000", wantErr: "count must be from 1 to 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := shard.Parse(tt.spec, tt.count)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q, %d) = %v, %v; want error containing %q", tt.spec, tt.count, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q, %d) = %v, %v; want %v", tt.spec, tt.count, got, err, tt.want)
			}
			if back, err := shard.Parse(got.String(), 0); err != nil || back != got {
				t.Errorf("Parse(%q) = %v, %v; want %v back", got.String(), back, err, got)
			}
		})
	}
}
