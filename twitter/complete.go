package twitter

import (
	"sync"
	"time"
)

// burstAge and burstTweets bound when a short v1.1 page proves the end of
// the timeline. user_timeline applies count before it removes deleted
// tweets, so a page can be short and yet not reach the cursor, but only
// when pageSize tweets or more were created after the cursor. Less than
// burstAge after a complete poll, every tweet past its cursor was created
// since, and X lets an account post at most 2,400 a day in half-hour
// slices, about 50 per half hour: far fewer than pageSize. A page of at
// most burstTweets then ends the poll in one request. A longer page (a
// server without X's limits), an older or unknown cursor (the first poll
// of a run, after a failed poll, a long poll interval) keep paging back
// to an empty page.
const (
	burstAge    = 10 * time.Minute
	burstTweets = 50
)

// completion remembers the last poll that was proved complete: the
// cursor it left the mirror at, and when it began.
type completion struct {
	mu     sync.Mutex
	cursor int64
	at     time.Time
}

// recent reports whether a poll from since may take a short page for the
// end: the last complete poll left the cursor at since less than
// burstAge before now.
func (c *completion) recent(since int64, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.at.IsZero() && c.cursor == since && now.Sub(c.at) < burstAge
}

// record notes a complete poll that began at began and ends at cursor.
func (c *completion) record(cursor int64, began time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cursor, c.at = cursor, began
}
