package statefile

import (
	"fmt"
	"strconv"

	"github.com/r2sync/r2sync/daemon"
)

// LegacySource is the source name under which a state file from before
// format 3 keeps its cursor once read: r2sync mirrored only Twitter then,
// and its state held one cursor, last_id, a tweet id (and 0 for none).
// The Twitter source's cursor is the id of the tweet it stands after, so
// the id carries over unchanged; a mirror of that state must name its
// Twitter source this way.
const LegacySource = "twitter"

// parseLegacyID reads an id of a state file from before format 3: a
// positive tweet id written as a decimal string.
func parseLegacyID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a post id", s)
	}
	if id <= 0 {
		return 0, fmt.Errorf("must be positive (got %d)", id)
	}
	return id, nil
}

// legacyHead turns the head of a format-1 file or a format-2 journal into
// today's, applying the rules of that format: last_id is not negative and
// is 0 until the state is initialized, and every id is a tweet id. The
// cursor of an initialized state goes to LegacySource ("" for last_id 0,
// before every tweet); each claim of `r2sync post` gets its tweet id as
// its cursor.
func legacyHead(initialized bool, lastID int64, posted []daemon.PostRef, mirrored int64, lm *daemon.Delivered) (head, error) {
	switch {
	case lastID < 0:
		return head{}, fmt.Errorf("last_id: must not be negative (got %d)", lastID)
	case !initialized && lastID != 0:
		return head{}, fmt.Errorf("last_id: set (%d) on a state that was never initialized", lastID)
	}
	h := head{Initialized: initialized, Mirrored: mirrored, LastMirrored: lm}
	if initialized {
		cursor := ""
		if lastID > 0 {
			cursor = strconv.FormatInt(lastID, 10)
		}
		h.Cursors = map[string]string{LegacySource: cursor}
	}
	if lm != nil {
		if _, err := parseLegacyID(lm.PostID); err != nil {
			return head{}, fmt.Errorf("last_mirrored.post_id: %w", err)
		}
	}
	for i, p := range posted {
		if p.Source != "" || p.Cursor != "" {
			return head{}, fmt.Errorf("posted[%d]: only an id belongs here before format 3", i)
		}
		if _, err := parseLegacyID(p.ID); err != nil {
			return head{}, fmt.Errorf("posted[%d].id: %w", i, err)
		}
		h.Posted = append(h.Posted, daemon.PostRef{Source: LegacySource, ID: p.ID, Cursor: p.ID})
	}
	return h, validateHead(h)
}
