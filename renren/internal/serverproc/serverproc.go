// Package serverproc holds what the test servers that start a real XMPP
// server (prosodytest, ejabberdtest) share: the CI rule for a missing
// server and reading the server's log.
package serverproc

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
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

// Ready says how WaitReady waits for a server it started.
type Ready struct {
	Name   string          // the server, in errors: "prosody"
	Done   <-chan struct{} // closed once the process has exited
	Exited func() error    // the process's exit error, valid after Done
	// Timeout bounds the whole wait; Backoff is the first pause between
	// probes, doubled up to MaxBackoff.
	Timeout, Backoff, MaxBackoff time.Duration
	// Probe checks once, giving up at deadline; final reports an error
	// that waiting will not mend (a certificate that does not verify).
	Probe func(deadline time.Time) (err error, final bool)
}

// WaitReady probes until the server answers, the process exits, a probe
// fails for good, or the timeout passes.
func WaitReady(r Ready) error {
	deadline := time.Now().Add(r.Timeout)
	backoff := r.Backoff
	exited := func() error { return fmt.Errorf("%s exited during startup: %v", r.Name, r.Exited()) }
	for {
		select {
		case <-r.Done:
			return exited()
		default:
		}
		err, final := r.Probe(deadline)
		if err == nil || final {
			return err
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%s not ready within %v: %w", r.Name, r.Timeout, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-r.Done:
			t.Stop()
			return exited()
		case <-t.C:
		}
		backoff = min(backoff*2, r.MaxBackoff)
	}
}
