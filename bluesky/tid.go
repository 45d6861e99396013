package bluesky

import (
	"fmt"
	"strings"
	"time"
)

// tidAlphabet is base32-sortable: the byte order of two TIDs is their
// order in time, so cursors compare as strings.
const tidAlphabet = "234567abcdefghijklmnopqrstuvwxyz"

// tidLen is the length of every TID: 64 bits in 5-bit characters.
const tidLen = 13

// validTID reports whether s is a TID: 13 characters of tidAlphabet, the
// first one leaving the top bit zero.
func validTID(s string) bool {
	if len(s) != tidLen {
		return false
	}
	if strings.IndexByte(tidAlphabet[:16], s[0]) < 0 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if strings.IndexByte(tidAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// NewTID returns the TID of time t (microseconds) and a 10-bit clock id.
func NewTID(t time.Time, clockID uint) string {
	return tidOf(uint64(t.UnixMicro()), clockID)
}

// tidOf encodes microseconds and a clock id.
func tidOf(us uint64, clockID uint) string {
	v := (us&(1<<53-1))<<10 | uint64(clockID&0x3ff)
	var b [tidLen]byte
	for i := tidLen - 1; i >= 0; i-- {
		b[i] = tidAlphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// TIDTime returns the time a TID encodes.
func TIDTime(tid string) (time.Time, error) {
	if !validTID(tid) {
		return time.Time{}, fmt.Errorf("not a TID: %q", shorten(tid))
	}
	var v uint64
	for i := 0; i < tidLen; i++ {
		v = v<<5 | uint64(strings.IndexByte(tidAlphabet, tid[i]))
	}
	return time.UnixMicro(int64(v >> 10)), nil
}

// CompareCursors implements daemon.CursorOrder. Cursors are record keys
// (TIDs) and "", which is before every post.
func (c *Client) CompareCursors(a, b string) (int, error) {
	for _, s := range []string{a, b} {
		if s != "" && !validTID(s) {
			return 0, fmt.Errorf("cursor %q is not a bluesky record key (TID)", shorten(s))
		}
	}
	return strings.Compare(a, b), nil
}

// shorten cuts s for an error message.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
