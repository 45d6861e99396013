package renren

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/renren/renrentest"
)

// numberedFeed returns sample i of a mixed feed, numbered n='i'.
func numberedFeed(i int) string {
	s := renrentest.FeedSamples[i%len(renrentest.FeedSamples)]
	return strings.Replace(s, "<xfeed", fmt.Sprintf("<xfeed n='%d'", i), 1)
}

// checkNumbered checks that evs carry n = from, from+1, ... in order.
func checkNumbered(t *testing.T, evs []FeedEvent, from int) {
	t.Helper()
	for i, ev := range evs {
		if n, _ := ev.Feed.Attr("n"); n != strconv.Itoa(from+i) {
			t.Fatalf("event %d has n=%q, want %d: out of order or lost", i, n, from+i)
		}
	}
}

// TestFeedUnderLoad sends 1,000 mixed feed events while statuses keep
// going out: every event is in the feed log, in the server's order, and
// every status is confirmed and recorded, in order.
func TestFeedUnderLoad(t *testing.T) {
	const events, statuses = 1000, 25
	srv := newServer(t, renrentest.Options{})
	path := filepath.Join(t.TempDir(), "feed.jsonl")
	opts := clientOptions(t, srv, testUser)
	opts.FeedLog = path
	opts.Logger = zap.NewNop() // 1,000 info lines would drown the test log
	c := NewConn(opts)
	startConn(t, c)
	waitReady(t, c)
	ctx := testContext(t)

	start := time.Now()
	sent := make(chan error, 1)
	go func() {
		for i := range events {
			if _, err := srv.SendFeed(numberedFeed(i)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for i := range statuses {
		if err := c.SetStatus(ctx, fmt.Sprintf("tweet %d", i)); err != nil {
			t.Fatalf("SetStatus %d: %v", i, err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1,000 events in the feed log", func() bool { return feedLines(path) >= events })
	t.Logf("%d events and %d statuses in %v", events, statuses, time.Since(start).Round(time.Millisecond))
	evs := readFeedLog(t, path)
	if len(evs) != events {
		t.Fatalf("%d events in the log, want %d", len(evs), events)
	}
	checkNumbered(t, evs, 0)
	got := srv.Statuses()
	if len(got) != statuses {
		t.Fatalf("%d statuses recorded, want %d", len(got), statuses)
	}
	for i, st := range got {
		if st.Text != fmt.Sprintf("tweet %d", i) {
			t.Errorf("status %d = %q", i, st.Text)
		}
	}
}

// feedChildEnv makes the test binary a feed-logging r2sync session for
// TestFeedLogSurvivesKill.
const feedChildEnv = "R2SYNC_FEED_CHILD"

// TestFeedLogChild is the child process of TestFeedLogSurvivesKill: a
// Conn with a feed log, run until it is killed.
func TestFeedLogChild(t *testing.T) {
	spec := os.Getenv(feedChildEnv)
	if spec == "" {
		t.Skip("run by TestFeedLogSurvivesKill")
	}
	addr, rest, _ := strings.Cut(spec, " ")
	caFile, feedLog, _ := strings.Cut(rest, " ")
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := renrentestCA(t)
	pool.AppendCertsFromPEM(pem)
	c := NewConn(Options{JID: testUser, Password: testPassword, Address: addr, RootCAs: pool, FeedLog: feedLog,
		PingInterval: time.Hour, DialTimeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = c.Run(ctx) // until SIGKILL
}

// TestFeedLogSurvivesKill runs a session in a child process, kills it
// with SIGKILL in the middle of a stream of feed events, starts it again
// and sends more: what was on disk at the kill is there after, intact and
// in order, nothing is truncated, and every event of the second session
// follows it.
func TestFeedLogSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	srv := newServer(t, renrentest.Options{})
	dir := t.TempDir()
	caFile, path := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "feed.jsonl")
	if err := os.WriteFile(caFile, srv.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFeedLogChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), feedChildEnv+"="+srv.Addr()+" "+caFile+" "+path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	logins := func(n int) {
		t.Helper()
		if err := srv.Wait(testContext(t), "a login", func() bool {
			return len(srv.LoginLog()) >= n && len(srv.Presences()) >= n // bound, initial presence sent
		}); err != nil {
			t.Fatal(err)
		}
	}

	child := start()
	logins(1)
	const first, second = 600, 400
	for i := range first / 3 {
		if _, err := srv.SendFeed(numberedFeed(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the feed log to fill", func() bool { return feedLines(path) >= first/3 })
	// The rest streams in while the child dies.
	sending := make(chan int, 1)
	go func() {
		i := first / 3
		for ; i < first; i++ {
			if _, err := srv.SendFeed(numberedFeed(i)); err != nil {
				break // the child is gone
			}
		}
		sending <- i
	}()
	waitFor(t, "more events on disk", func() bool { return feedLines(path) > first/3+20 })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	sentBefore := <-sending
	before, _ := os.ReadFile(path)
	onDisk := readFeedLog(t, path)
	checkNumbered(t, onDisk, 0)
	t.Logf("killed with %d events on disk; the server had written %d to the socket (the rest were in flight: XMPP without XEP-0198 acknowledges nothing)", len(onDisk), sentBefore)

	child = start()
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	logins(2)
	for i := range second {
		if _, err := srv.SendFeed(numberedFeed(first + i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the second session's events", func() bool { return feedLines(path) >= len(onDisk)+second })
	after, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(after), string(before)) {
		t.Fatal("the restart changed what was on disk")
	}
	evs := readFeedLog(t, path)
	if len(evs) != len(onDisk)+second {
		t.Fatalf("%d events, want %d", len(evs), len(onDisk)+second)
	}
	checkNumbered(t, evs[:len(onDisk)], 0)
	checkNumbered(t, evs[len(onDisk):], first)
	sc := bufio.NewScanner(strings.NewReader(string(after)))
	sc.Buffer(nil, maxFeedLine)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "{") || !strings.HasSuffix(sc.Text(), "}") {
			t.Errorf("torn line %q", sc.Text())
		}
	}
}
