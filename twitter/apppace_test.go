package twitter_test

import (
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter"
)

func TestAppInterval(t *testing.T) {
	tests := []struct {
		mirrors   int
		interval  time.Duration
		want      time.Duration
		stretched bool
	}{
		// 1,000 × 15 reads = 15,000 > 9,000: 1,000 × 900 s / 9,000 = 100 s.
		{1000, time.Minute, 100 * time.Second, true},
		// 150 × 60 = 9,000: exactly the budget, kept.
		{150, 15 * time.Second, 15 * time.Second, false},
		// 151 at 15 s: 9,060 > 9,000; 151 × 900 / 9,000 = 15.1 s, to 16 s.
		{151, 15 * time.Second, 16 * time.Second, true},
		{1, time.Second, time.Second, false},
		{100, time.Minute, time.Minute, false},
		{1000, 5 * time.Minute, 5 * time.Minute, false},
		{10000, time.Minute, 1000 * time.Second, true},
		{0, time.Minute, time.Minute, false},
		{-3, time.Minute, time.Minute, false},
		// A zero interval (not configured) is stretched like any other.
		{9000, 0, 15 * time.Minute, true},
	}
	for _, tt := range tests {
		got, stretched := twitter.AppInterval(tt.mirrors, tt.interval)
		if got != tt.want || stretched != tt.stretched {
			t.Errorf("AppInterval(%d, %s) = %s, %v; want %s, %v", tt.mirrors, tt.interval, got, stretched, tt.want, tt.stretched)
		}
		if tt.mirrors > 0 && got > 0 {
			if reads := float64(tt.mirrors) * float64(twitter.AppWindow) / float64(got); reads > 0.9*twitter.AppReadsPerWindow && stretched {
				t.Errorf("AppInterval(%d, %s) = %s: %.0f reads per window, over 9/10 of the budget", tt.mirrors, tt.interval, got, reads)
			}
		}
	}
}
