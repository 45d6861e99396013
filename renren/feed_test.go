package renren

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/r2sync/r2sync/renren/renrentest"
)

// innerXML returns what is between an element's start and end tags.
func innerXML(t *testing.T, el string) string {
	t.Helper()
	if strings.HasSuffix(el, "/>") && strings.Count(el, "<") == 1 {
		return ""
	}
	open := strings.Index(el, ">")
	end := strings.LastIndex(el, "</")
	if open < 0 || end < open {
		t.Fatalf("not an element: %q", el)
	}
	return el[open+1 : end]
}

// readFeedLog returns the events in the feed log at path; bad lines fail
// the test.
func readFeedLog(t *testing.T, path string) []FeedEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []FeedEvent
	err = ReadFeedLog(f, func(ev FeedEvent) error { evs = append(evs, ev); return nil },
		func(line int, err error) { t.Errorf("feed log line %d: %v", line, err) })
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// feedLines counts the complete lines of the feed log at path.
func feedLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// TestFeedEvents sends every shape of <xfeed/> renrentest knows, and
// three that must be skipped (another sender, no <xfeed/>, too deep):
// each good one is in the feed log, in order, with its content byte for
// byte and its tree, logged at info and counted.
func TestFeedEvents(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	path := filepath.Join(t.TempDir(), "feed.jsonl")
	core, logs := observer.New(zapcore.InfoLevel)
	opts := clientOptions(t, srv, testUser)
	opts.FeedLog, opts.Logger = path, zap.New(core)
	s := dial(t, opts)

	deep := strings.Repeat("<a>", maxFeedDepth+5) + strings.Repeat("</a>", maxFeedDepth+5)
	send := func(f func() (int, error)) {
		t.Helper()
		if n, err := f(); err != nil || n != 1 {
			t.Fatalf("send: %d sessions, %v", n, err)
		}
	}
	send(func() (int, error) {
		return srv.SendFeedFrom("200000009@talk.xiaonei.com/x", renrentest.FeedSamples[0])
	})
	for i, sample := range renrentest.FeedSamples {
		send(func() (int, error) { return srv.SendFeed(sample) })
		if i == 2 {
			send(func() (int, error) { return srv.SendFeed("") })
			send(func() (int, error) { return srv.SendFeed("<xfeed type='deep'>" + deep + "</xfeed>") })
		}
	}
	// A status confirmed by a ping proves that the server's messages sent
	// before it have been read; the log needs a moment more for its sync.
	if err := s.SetStatus(testContext(t), "after the feed"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the feed log", func() bool { return feedLines(path) == len(renrentest.FeedSamples) })

	evs := readFeedLog(t, path)
	for i, ev := range evs {
		if want := innerXML(t, renrentest.FeedSamples[i]); ev.XML != want {
			t.Errorf("event %d: XML %q, want %q", i, ev.XML, want)
		}
		if ev.From != feedJID || ev.Feed.Name != "xfeed" || ev.Received.IsZero() || ev.ID == "" {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	check := func(i int, what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("event %d: %s = %v, want %v", i, what, got, want)
		}
	}
	check(0, "type", must(evs[0].Feed.Attr("type")), "status")
	check(0, "body text", evs[0].Feed.Children[2].Children[0].Text, "今天天气不错 & 心情也不错")
	check(1, "nested school", evs[1].Feed.Children[0].Children[1].Attrs, []FeedAttr{{Name: "year", Value: "2008"}})
	check(2, "cdata title", evs[2].Feed.Children[0].Children[0].Text, "<b>我的新日志</b> & more")
	check(2, "text around cdata", evs[2].Feed.Children[1].Children[0].Text, "前半句 <i>中间</i> 后半句")
	check(3, "attributes only", len(evs[3].Feed.Attrs), 5)
	check(3, "no children", len(evs[3].Feed.Children), 0)
	check(4, "empty", fmt.Sprint(len(evs[4].Feed.Attrs), len(evs[4].Feed.Children)), "0 0")
	check(5, "namespace", evs[5].Feed.Children[0].Space, "http://renren.com/ns/share")
	check(5, "comment", *evs[5].Feed.Children[1].Comment, " server note ")
	check(5, "nested message", evs[5].Feed.Children[2].Name, "message")
	check(6, "references", strings.Contains(evs[6].Feed.Children[2].Text, "中文"), true)
	check(6, "line", evs[6].Line()[20:], "type=status fid=1006 | leading and trailing white space | and a line break 中文")

	if n, sk := s.FeedEvents(), s.skipped.Load(); n != int64(len(renrentest.FeedSamples)) || sk != 3 {
		t.Errorf("counted %d events and %d skipped, want %d and 3", n, sk, len(renrentest.FeedSamples))
	}
	if n := logs.FilterMessage("feed event").Len(); n != len(renrentest.FeedSamples) {
		t.Errorf("%d info lines for feed events", n)
	}
	for _, reason := range []string{"not from " + feedJID, "no <xfeed/>", "malformed"} {
		if logs.FilterField(zap.String("reason", reason)).Len() != 1 {
			t.Errorf("no log line for the skipped payload (%s)", reason)
		}
	}
	entry := logs.FilterMessage("feed event").All()[1]
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	buf, _ := enc.EncodeEntry(entry.Entry, entry.Context)
	if !strings.Contains(buf.String(), `"@year":"2008"`) || !strings.Contains(buf.String(), `"text":"清华大学"`) {
		t.Errorf("the info line lacks the event's fields: %s", buf)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("feed log mode %v (%v), want 0600", fi.Mode(), err)
	}

	// A second session appends: the log is never truncated.
	if err := s.Close(testContext(t)); err != nil {
		t.Fatal(err)
	}
	s = dial(t, opts)
	send(func() (int, error) { return srv.SendFeed(renrentest.FeedSamples[0]) })
	waitFor(t, "the appended event", func() bool { return feedLines(path) == len(renrentest.FeedSamples)+1 })
	if evs := readFeedLog(t, path); evs[len(evs)-1].Feed.Children[0].Children[0].Text != "人人小秘书" {
		t.Errorf("last event %+v", evs[len(evs)-1])
	}
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("missing")
	}
	return v
}

// TestFeedLogReopen starts on a log whose last line a crash cut short:
// the fragment stays, on a line of its own that readers skip, and new
// events follow on lines of their own.
func TestFeedLogReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feed.jsonl")
	good, _ := json.Marshal(FeedEvent{From: feedJID, Feed: FeedNode{Name: "xfeed"}})
	if err := os.WriteFile(path, append(append(good, '\n'), `{"from":"feed.ta`...), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := OpenFeedLog(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Append(&FeedEvent{ID: "new", Feed: FeedNode{Name: "xfeed"}})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Written() != 1 {
		t.Errorf("Written = %d", l.Written())
	}
	f, _ := os.Open(path)
	defer f.Close()
	var ids []string
	var bad []int
	err = ReadFeedLog(f, func(ev FeedEvent) error { ids = append(ids, ev.ID); return nil }, func(line int, _ error) { bad = append(bad, line) })
	if err != nil || fmt.Sprint(ids) != "[ new]" || fmt.Sprint(bad) != "[2]" {
		t.Errorf("read %q, bad lines %v, err %v", ids, bad, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
}

// TestFeedSeq hands events in out of order: they come out in ticket
// order, skipped ones leave no hole, and a ticket never handed in stops
// the line only until maxFeedPending others wait.
func TestFeedSeq(t *testing.T) {
	var out []string
	var gaps []uint64
	f := newFeedSeq(func(ev *FeedEvent) { out = append(out, ev.ID) }, func(n uint64) { gaps = append(gaps, n) })
	for range 5 {
		f.take()
	}
	f.done(2, &FeedEvent{ID: "2"})
	f.done(1, nil) // skipped
	f.done(4, &FeedEvent{ID: "4"})
	if len(out) != 0 {
		t.Fatalf("released %v before ticket 0", out)
	}
	f.done(0, &FeedEvent{ID: "0"})
	f.done(3, &FeedEvent{ID: "3"})
	if fmt.Sprint(out) != "[0 2 3 4]" {
		t.Fatalf("out = %v", out)
	}
	// Ticket 5 is lost; the ones after it wait, up to the bound.
	out = nil
	f.take()
	for i := range maxFeedPending + 1 {
		f.done(uint64(6+i), &FeedEvent{ID: fmt.Sprint(6 + i)})
	}
	if len(out) != maxFeedPending+1 || out[0] != "6" || fmt.Sprint(gaps) != "[1]" {
		t.Fatalf("after the gap: %d out (first %v), gaps %v", len(out), out[:1], gaps)
	}
	f.done(5, &FeedEvent{ID: "late"}) // given up on: dropped
	if out[len(out)-1] == "late" {
		t.Error("a ticket given up on was released")
	}
}
