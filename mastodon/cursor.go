package mastodon

import (
	"cmp"
	"fmt"
	"strings"
)

// A cursor of this package is the id of the status it stands after, ""
// before every status. Mastodon's ids are decimal strings of 64-bit
// snowflake-like numbers (a millisecond time in the high bits), so they
// grow with time and compare as numbers: by length, then byte by byte,
// never as plain strings ("999" < "1000"). Only the canonical form (no
// sign, no leading zero) is a cursor, so that equal places have equal
// cursors.

// maxIDLen bounds an id: a uint64 has 20 digits.
const maxIDLen = 20

// checkID reports whether id is a status id in canonical form.
func checkID(id string) error {
	if id == "" || len(id) > maxIDLen || (id[0] == '0' && len(id) > 1) || strings.TrimLeft(id, "0123456789") != "" {
		return fmt.Errorf("cursor %q is not a mastodon status id", shortID(id))
	}
	return nil
}

// compareIDs compares two ids checked by checkID, or "" (before all).
func compareIDs(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// CompareCursors implements daemon.CursorOrder.
func (s *Source) CompareCursors(a, b string) (int, error) {
	for _, c := range []string{a, b} {
		if c != "" {
			if err := checkID(c); err != nil {
				return 0, err
			}
		}
	}
	return compareIDs(a, b), nil
}

// shortID cuts a foreign id for an error message.
func shortID(id string) string {
	if len(id) > 40 {
		return id[:40] + "…"
	}
	return id
}
