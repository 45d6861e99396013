package bluesky

import (
	"testing"
	"time"
)

func TestTID(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 2, 3, 456789000, time.UTC)
	a := NewTID(at, 7)
	if !validTID(a) {
		t.Fatalf("NewTID gave %q, not a TID", a)
	}
	if got, err := TIDTime(a); err != nil || !got.Equal(at) {
		t.Errorf("TIDTime(%q) = %v, %v; want %v", a, got, err, at)
	}
	b := NewTID(at.Add(time.Microsecond), 0)
	c := &Client{}
	if n, err := c.CompareCursors(a, b); err != nil || n >= 0 {
		t.Errorf("CompareCursors(earlier, later) = %d, %v", n, err)
	}
	if n, err := c.CompareCursors("", a); err != nil || n >= 0 {
		t.Errorf(`CompareCursors("", tid) = %d, %v`, n, err)
	}
	if n, err := c.CompareCursors(a, a); err != nil || n != 0 {
		t.Errorf("CompareCursors(a, a) = %d, %v", n, err)
	}
	// A real record key from the network.
	if !validTID("3l3qo2vutsw2b") {
		t.Error("3l3qo2vutsw2b refused")
	}
	for _, bad := range []string{"123", "3l3qo2vutsw2", "3l3qo2vutsw2bb", "zl3qo2vutsw2b", "3L3QO2VUTSW2B", "3l3qo2vutsw21", "1700000000000000000", "self"} {
		if _, err := c.CompareCursors(bad, a); err == nil {
			t.Errorf("CompareCursors(%q) accepted a non-TID", bad)
		}
	}
}
