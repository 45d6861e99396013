package twitter

import (
	"testing"
	"time"
)

// A short page ends a poll only right after a complete poll that left
// the cursor where this one starts.
func TestCompletionRecent(t *testing.T) {
	var c completion
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	if c.recent(0, t0) || c.recent(5, t0) {
		t.Fatal("recent before any complete poll")
	}
	c.record(5, t0)
	for _, tt := range []struct {
		since int64
		now   time.Time
		want  bool
	}{
		{5, t0.Add(time.Second), true},
		{5, t0.Add(burstAge - time.Millisecond), true},
		{5, t0.Add(burstAge), false},
		{4, t0.Add(time.Second), false}, // the mirror is elsewhere (a failed save, another run)
		{6, t0.Add(time.Second), false},
	} {
		if got := c.recent(tt.since, tt.now); got != tt.want {
			t.Errorf("recent(%d, +%v) = %v, want %v", tt.since, tt.now.Sub(t0), got, tt.want)
		}
	}
}
