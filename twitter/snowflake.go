package twitter

import (
	"time"

	"go.uber.org/zap"
)

// Snowflake ids, which X has issued since November 2010, carry their
// creation time: the bits above the low 22 count milliseconds since
// snowflakeEpoch.
const (
	snowflakeEpoch = 1288834974657 // ms since the Unix epoch
	snowflakeShift = 22
	// futureMargin is how far ahead of our clock an id may be: X's own
	// clocks and ours differ by seconds, and a clock off by more than
	// minutes already fails OAuth (code 135).
	futureMargin = time.Hour
)

// snowflakeTime is the creation time an id encodes, if it is a
// snowflake. Ids from before 2010, and the small sequential ids of
// v1.1-compatible servers (GNU social, Friendica), decode to a time
// shortly after snowflakeEpoch: in the past, hence harmless.
func snowflakeTime(id int64) time.Time {
	return time.UnixMilli(id>>snowflakeShift + snowflakeEpoch)
}

// idFromFuture reports whether id encodes a creation time more than
// futureMargin after now. Such an id cannot have been issued yet; used
// as the cursor (since_id) it would hide every real post for years, as
// 2^63-1 (which decodes to 2080) would for good.
func idFromFuture(id int64, now time.Time) bool {
	return id>>snowflakeShift+snowflakeEpoch > now.Add(futureMargin).UnixMilli()
}

// plausibleID reports whether a post id from the server may be mirrored
// and become the cursor: positive and not from the future. It warns
// about one that is not.
func (c *core) plausibleID(id int64) bool {
	if id <= 0 {
		c.log.Warn("skipping tweet without id", zap.Int64("id", id))
		return false
	}
	if idFromFuture(id, c.now()) {
		c.log.Warn("skipping tweet whose id is from the future; it would stop the mirror if taken as the cursor (check the system clock if real tweets are skipped)",
			zap.Int64("id", id), zap.Time("id_time", snowflakeTime(id)))
		return false
	}
	return true
}
