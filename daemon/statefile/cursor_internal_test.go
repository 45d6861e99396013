package statefile

import (
	"strconv"

	"github.com/r2sync/r2sync/daemon"
)

// at returns the cursors of a state whose one source stands after post n.
func at(n int64) map[string]string {
	return map[string]string{"src": strconv.FormatInt(n, 10)}
}

// last is the post the one source of st stands after.
func last(st daemon.State) int64 {
	n, _ := strconv.ParseInt(st.Cursors["src"], 10, 64)
	return n
}
