package ejabberdtest

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestStartStop starts ejabberd, checks that it serves TLS under our CA
// on both c2s ports and that registering worked (a duplicate is refused),
// then stops it and checks that no process of it, and no epmd, is left.
func TestStartStop(t *testing.T) {
	epmdBefore := epmds()
	s := Start(t, Options{Users: map[string]string{"123456": "pw"}})
	pid := s.PID()
	for _, addr := range []string{s.DirectTLSAddr()} {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: s.CAPool(), ServerName: s.Domain()})
		if err != nil {
			t.Fatalf("TLS to %s: %v", addr, err)
		}
		c.Close()
	}
	if err := s.register("123456", "pw"); err == nil {
		t.Error("registering the same user twice succeeded: the first register did not happen")
	}
	s.Stop()
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("pid %d still exists after Stop", pid)
	}
	if s.PID() != 0 {
		t.Error("PID() != 0 after Stop")
	}
	if after := epmds(); len(after) > len(epmdBefore) {
		t.Errorf("epmd processes before %v, after %v: the VM started one", epmdBefore, after)
	}
}

// epmds lists the PIDs of running epmd processes.
func epmds() []string {
	var out []string
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		if b, err := os.ReadFile(c); err == nil && strings.TrimSpace(string(b)) == "epmd" {
			out = append(out, filepath.Base(filepath.Dir(c)))
		}
	}
	return out
}

func TestRenderConfigQuotes(t *testing.T) {
	cfg := renderConfig(configParams{Domain: "a\"b\nc: d", CertFile: "/x/\"y", CAFile: "/z"})
	if !strings.Contains(cfg, `hosts: ["a\"b\nc: d"]`) || !strings.Contains(cfg, `certfiles: ["/x/\"y"]`) {
		t.Errorf("strings not quoted:\n%s", cfg)
	}
}
