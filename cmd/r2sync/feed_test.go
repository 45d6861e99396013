package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren"
)

func feedLine(t *testing.T, id, text string) []byte {
	t.Helper()
	ev := renren.FeedEvent{
		Received: time.Date(2010, 5, 1, 12, 0, 0, 0, time.UTC),
		From:     "feed.talk.renren.com@feed.talk.renren.com",
		ID:       id,
		Feed: renren.FeedNode{Name: "xfeed", Attrs: []renren.FeedAttr{{Name: "type", Value: "status"}},
			Children: []renren.FeedNode{{Name: "title", Children: []renren.FeedNode{{Text: text}}}}},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func feedConfig(t *testing.T, feedLog string) string {
	t.Helper()
	text := "[renren]\njid = \"123456\"\npassword_file = \"/nonexistent/secret\"\n"
	if feedLog != "" {
		text += "feed_log = \"" + feedLog + "\"\n"
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFeedCommand(t *testing.T) {
	t.Setenv("TZ", "UTC")
	dir := t.TempDir()
	log := filepath.Join(dir, "feed.jsonl")
	content := append(append(feedLine(t, "1", "你的好友更新了状态"), `{"torn`+"\n"...), feedLine(t, "2", "second\nline")...)
	if err := os.WriteFile(log, content, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"feed", "--config", feedConfig(t, log)}, &stdout, &stderr, nil)
	want := "2010-05-01 12:00:00 type=status | title: 你的好友更新了状态\n2010-05-01 12:00:00 type=status | title: second line\n"
	if code != 0 || stdout.String() != want {
		t.Errorf("exit %d, stdout\n%s\nwant\n%s", code, stdout.String(), want)
	}
	if !strings.Contains(stderr.String(), "feed log line 2: not a feed event") {
		t.Errorf("stderr %q does not report the torn line", stderr.String())
	}

	t.Run("not configured", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"feed", "--config", feedConfig(t, "")}, &stdout, &stderr, nil)
		if code != exitConfig || !strings.Contains(stderr.String(), "renren.feed_log is not set") {
			t.Errorf("exit %d, stderr %q", code, stderr.String())
		}
	})
	t.Run("no events yet", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"feed", "--config", feedConfig(t, filepath.Join(dir, "none.jsonl"))}, &stdout, &stderr, nil)
		if code != 0 || !strings.Contains(stderr.String(), "does not exist yet") {
			t.Errorf("exit %d, stderr %q", code, stderr.String())
		}
	})
}

// TestFeedFollow follows a log that does not exist yet, is written in
// pieces, and is then replaced, as a log rotation would.
func TestFeedFollow(t *testing.T) {
	t.Setenv("TZ", "UTC")
	log := filepath.Join(t.TempDir(), "feed.jsonl")
	var stdout, stderr syncBuffer
	e := &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }, now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- printFeed(ctx, e, log, true, 5*time.Millisecond) }()

	wait := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(stdout.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in %q", want, stdout.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	line := feedLine(t, "1", "first")
	if err := os.WriteFile(log, line[:10], 0o600); err != nil { // half a line
		t.Fatal(err)
	}
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(line[10:]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wait("title: first")
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(log, feedLine(t, "2", "after rotation"), 0o600); err != nil {
		t.Fatal(err)
	}
	wait("title: after rotation")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("printFeed = %v", err)
	}
	if n := strings.Count(stdout.String(), "\n"); n != 2 || stderr.String() != "" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}
