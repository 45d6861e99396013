package daemon_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// slowLoop takes about half a second of CPU: long past the 50ms bound the
// tests set, short enough that the goroutine text/template leaves running
// does not burden the rest of the suite.
const slowLoop = "{{range 5000}}{{range 5000}}{{end}}{{end}}"

// A template that loops on the sample post is refused at start-up, in
// bounded time, instead of hanging it.
func TestNewRendererTimeBound(t *testing.T) {
	_, err := daemon.NewRendererTimeout(slowLoop, 140, 50*time.Millisecond)
	if err == nil || err.Error() != "template takes over 50ms on a sample post" {
		t.Fatalf("NewRenderer of a looping template = %v", err)
	}
}

// A template fast on the sample but slow on real posts fails each such
// render in bounded time; while the runaway render still runs, others
// fail at once rather than pile up goroutines.
func TestRenderTimeBound(t *testing.T) {
	r, err := daemon.NewRendererTimeout(`{{if eq .ScreenName "r2sync"}}{{.Text}}{{else}}`+slowLoop+`{{end}}`, 140, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	slow := daemon.Post{ID: "7", Text: "x", Author: "alice"}
	if _, err := r.Render(slow, nil); err == nil || err.Error() != "render post 7: template takes over 50ms" {
		t.Fatalf("Render = %v", err)
	}
	fast := daemon.Post{ID: "8", Text: "fast", Author: "r2sync"}
	if _, err := r.Render(fast, nil); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("Render during the runaway = %v, want it refused", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := r.Render(fast, nil)
		if err == nil {
			if got != "fast" {
				t.Errorf("Render = %q", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("renders still refused after the runaway should have ended: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The poller skips a post whose render runs away, with reason "render"
// and an error line, and goes on.
func TestPollSkipsRunawayRender(t *testing.T) {
	ctx := context.Background()
	r, err := daemon.NewRendererTimeout(`{{if eq .Text "loop"}}`+slowLoop+`{{else}}{{.Text}}{{end}}`, 140, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{}
	sink := &fakeSink{}
	obs := newRecObserver()
	log, logged := logs()
	store := statefile.New(t.TempDir() + "/state.json")
	defer store.Close()
	m := mirrorWith(t, daemon.Config{Source: src, Sink: sink, Store: store, Renderer: r, Observer: obs, Logger: log})
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	src.add(post(1, "loop"))
	if n, err := m.PollOnce(ctx); err != nil || n != 0 {
		t.Fatalf("PollOnce = %d, %v", n, err)
	}
	if obs.skipped["render"] != 1 {
		t.Errorf("skips %v", obs.skipped)
	}
	lines := logged.FilterMessage("post skipped").All()
	if len(lines) != 1 || lines[0].Level.String() != "error" || lines[0].ContextMap()["reason"] != "render" {
		t.Errorf("skip lines %v", lines)
	}
	if st, _ := store.Load(ctx); cursorOf(st) != "1" {
		t.Errorf("cursor %q, want past the skipped post", cursorOf(st))
	}
}

// A template that writes without end stops at MaxRenderBytes.
func TestRenderOutputBound(t *testing.T) {
	_, err := daemon.NewRenderer("{{range 100000000}}{{$.Text}}{{end}}", 0)
	if err == nil || !strings.Contains(err.Error(), "template output exceeds 256 KiB") {
		t.Fatalf("NewRenderer of an endless writer = %v", err)
	}
}
