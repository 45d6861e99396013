package renren

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/renren/renrentest"
)

// repeatReader yields prefix, then pattern over and over, n bytes in all:
// a hostile server's never-ending stanza.
type repeatReader struct {
	prefix, pattern string
	n, off          int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	i := 0
	for i < len(p) && r.off < r.n {
		var c byte
		if r.off < int64(len(r.prefix)) {
			c = r.prefix[r.off]
		} else {
			c = r.pattern[(r.off-int64(len(r.prefix)))%int64(len(r.pattern))]
		}
		p[i] = c
		i++
		r.off++
	}
	return i, nil
}

// endlessCases are the never-ending things a server can send after login.
var endlessCases = []struct {
	name, prefix, pattern string
	want                  string // in the session's error
}{
	{"attribute value", "<message a='", "a", "server sent a stanza over 1 MiB"},
	{"element name", "<message", "a", "server sent a stanza over 1 MiB"},
	{"attributes", "<message", " a=''", "server sent a stanza with over 64 attributes on one element"},
	{"attribute names", "<message ", "a", "server sent a stanza over 1 MiB"},
	{"body text", "<message><body>", "a&amp;", "server sent a stanza over 1 MiB"},
	{"child elements", "<message>", "<x/>", "server sent a stanza over 1 MiB"},
	{"nesting", "<message>", "<x>", "server sent a stanza nested over 256 elements deep"},
	{"comment between stanzas", "<!--", "a", "server sent a stanza over 1 MiB"},
	{"whitespace between stanzas", "", " ", "server sent a stanza over 1 MiB"},
}

const endlessBytes = 50 << 20

// TestHostileEndlessStanza has the server send, after login, 50 MB of one
// stanza that never ends. The session must drop the connection with a
// clear error once the stanza passes 1 MiB; gosrc.io/xmpp's own transport
// buffered all of it.
func TestHostileEndlessStanza(t *testing.T) {
	for _, tt := range endlessCases {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, renrentest.Options{})
			opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
			opts.Logger = zap.NewNop()
			s := dial(t, opts)
			sent := make(chan error, 1)
			go func() {
				_, err := srv.SendRaw(&repeatReader{prefix: tt.prefix, pattern: tt.pattern, n: endlessBytes})
				sent <- err
			}()
			select {
			case <-s.Done():
			case <-time.After(20 * time.Second):
				t.Fatal("session still up after 20 s of an endless stanza")
			}
			if err := s.Err(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Err() = %v, want %q", err, tt.want)
			}
			// The client hung up long before the 50 MB were through.
			if err := <-sent; err == nil {
				t.Error("the server wrote all 50 MB: the client read them")
			}
		})
	}
}

const rssChildEnv = "R2SYNC_RENREN_RSS_CHILD"

// TestHostileStanzaPeakRSS measures, in a fresh process for each case, the
// peak RSS (VmHWM) while a server sends 50 MB of one endless stanza, and
// checks that it stays near the RSS before. The subprocess is this test
// binary running this test with rssChildEnv set.
func TestHostileStanzaPeakRSS(t *testing.T) {
	if name := os.Getenv(rssChildEnv); name != "" {
		rssChild(t, name)
		return
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc/self/status")
	}
	// The race detector's shadow memory triples what a byte costs.
	maxGrowthKiB := 8 << 10
	if raceEnabled {
		maxGrowthKiB = 24 << 10
	}
	re := regexp.MustCompile(`rss_before_kib=(\d+) peak_kib=(\d+) err="(.*)"`)
	for _, tt := range endlessCases {
		switch tt.name {
		case "attribute value", "element name", "attributes", "child elements":
		default:
			continue // the others cost the same; a child process each is slow
		}
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHostileStanzaPeakRSS$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), rssChildEnv+"="+tt.name)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			m := re.FindSubmatch(out)
			if m == nil {
				t.Fatalf("child printed no measurement:\n%s", out)
			}
			before, _ := strconv.Atoi(string(m[1]))
			peak, _ := strconv.Atoi(string(m[2]))
			t.Logf("50 MB endless %s: RSS %d KiB before, peak %d KiB (+%d KiB), race detector %v",
				tt.name, before, peak, peak-before, raceEnabled)
			if got := string(m[3]); !strings.Contains(got, tt.want) {
				t.Errorf("session error %q, want %q", got, tt.want)
			}
			if peak-before > maxGrowthKiB {
				t.Errorf("peak RSS grew by %d KiB, want at most %d KiB", peak-before, maxGrowthKiB)
			}
			if !raceEnabled && peak > 50<<10 {
				t.Errorf("peak RSS %d KiB, want at most 50 MiB", peak)
			}
		})
	}
}

// rssChild runs one endless case and prints the RSS before and the peak.
func rssChild(t *testing.T, name string) {
	var prefix, pattern string
	for _, c := range endlessCases {
		if c.name == name {
			prefix, pattern = c.prefix, c.pattern
		}
	}
	srv := newServer(t, renrentest.Options{})
	opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
	opts.Logger = zap.NewNop()
	s := dial(t, opts)
	runtime.GC()
	debug.FreeOSMemory()
	before := procStatusKiB(t, "VmRSS")
	// "5" resets the peak (VmHWM) to the current RSS (Linux 4.0+).
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("reset VmHWM: %v; the peak includes the start-up", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = srv.SendRaw(&repeatReader{prefix: prefix, pattern: pattern, n: endlessBytes})
	}()
	<-done // the client hung up, or read all 50 MB
	select {
	case <-s.Done():
	case <-time.After(time.Second):
	}
	fmt.Printf("rss_before_kib=%d peak_kib=%d err=%q\n", before, procStatusKiB(t, "VmHWM"), fmt.Sprint(s.Err()))
}

func procStatusKiB(t *testing.T, key string) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", key)
	return 0
}

// TestHostileLongErrorText: encoding/xml quotes a bad entity or element
// name whole in its error, so a server could put half a megabyte into
// every log line about the lost session. The text is cut.
func TestHostileLongErrorText(t *testing.T) {
	for _, send := range []string{
		"<message><body>&" + strings.Repeat("b", 500<<10) + ";</body></message>",
		"<message></" + strings.Repeat("b", 500<<10) + ">",
	} {
		srv := newServer(t, renrentest.Options{})
		opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
		opts.Logger = zap.NewNop()
		s := dial(t, opts)
		if _, err := srv.SendRaw(strings.NewReader(send)); err != nil {
			t.Fatal(err)
		}
		<-s.Done()
		if msg := s.Err().Error(); len(msg) > 300 || !strings.Contains(msg, "bytes)") {
			t.Errorf("Err() has %d bytes: %.100q…, want it cut", len(msg), msg)
		} else {
			t.Logf("Err() = %s", msg)
		}
	}
}
