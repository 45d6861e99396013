// Package serverproc holds what the test servers that start a real XMPP
// server (prosodytest, ejabberdtest) share: the CI rule for a missing
// server and reading the server's log.
package serverproc

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// InCI reports whether the tests run under CI, where skipping is not
// allowed. CI=true is what GitHub Actions, GitLab CI and .ci/run set; "1"
// and "yes" are accepted too.
func InCI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// SkipOrFatal skips the test when the server is missing, or fails it
// under CI. name prefixes the message ("prosodytest"); ciHint and
// installHint say what to install.
func SkipOrFatal(tb testing.TB, name, ciHint, installHint string, err error) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("%s: %v; %s", name, err, ciHint)
	}
	tb.Skipf("%s: %v; install it to run this integration test (%s); under CI=true this is a failure", name, err, installHint)
}

// ReadFrom returns the bytes of path from offset off on, or nil.
func ReadFrom(path string, off int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() <= off {
		return nil
	}
	buf := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(buf, off)
	return buf[:n]
}

// TailLines returns the last n lines of path, ending in a newline, or
// the error reading it in parentheses.
func TailLines(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s := strings.Join(lines, "")
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}
