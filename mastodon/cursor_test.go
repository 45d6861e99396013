package mastodon

import "testing"

func TestCompareCursors(t *testing.T) {
	s := &Source{}
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "1", -1},
		{"999", "1000", -1},
		{"109348677773283527", "109348677773283527", 0},
		{"109348677773283528", "109348677773283527", 1},
		{"99999999999999999", "109348677773283527", -1},
	} {
		got, err := s.CompareCursors(tc.a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("CompareCursors(%q, %q) = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
	}
	for _, bad := range []string{"abc", "-1", "01", "1.5", " 1", "123456789012345678901", "1e9", "at://x"} {
		if _, err := s.CompareCursors(bad, "1"); err == nil {
			t.Errorf("CompareCursors(%q) accepted it", bad)
		}
		if _, err := s.CompareCursors("1", bad); err == nil {
			t.Errorf("CompareCursors(1, %q) accepted it", bad)
		}
	}
}
