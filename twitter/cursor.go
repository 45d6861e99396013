package twitter

import (
	"cmp"
	"fmt"
	"strconv"
)

// A cursor of this package is the decimal id of the tweet it stands
// after, "" before every tweet. Tweet ids grow with time (X's snowflakes
// since 2010, the small sequential ids of v1.1-compatible servers), so
// cursors compare as numbers, never as strings: "999" < "1000", and a
// 19-digit snowflake is past a 10-digit id of 2009.

// parseCursor reads a cursor: 0 for "". Only the canonical decimal form
// is one, as cursorOf writes it.
func parseCursor(cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(cursor, 10, 64)
	if err != nil || id < 0 || strconv.FormatInt(id, 10) != cursor {
		return 0, fmt.Errorf("cursor %q is not a tweet id", cursor)
	}
	return id, nil
}

// cursorOf is the cursor after tweet id: the id itself ("" for 0).
func cursorOf(id int64) string {
	if id <= 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// CompareCursors implements daemon.CursorOrder: by tweet id, as numbers.
func (c *core) CompareCursors(a, b string) (int, error) {
	x, err := parseCursor(a)
	if err != nil {
		return 0, err
	}
	y, err := parseCursor(b)
	if err != nil {
		return 0, err
	}
	return cmp.Compare(x, y), nil
}
