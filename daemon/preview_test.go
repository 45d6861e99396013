package daemon_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// recentSource is a fakeSource that can list its newest posts.
type recentSource struct{ fakeSource }

func (r *recentSource) Recent(_ context.Context, n int) ([]daemon.Post, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]daemon.Post(nil), r.posts[max(0, len(r.posts)-n):]...), nil
}

// cleanSink is a fakeSink with a Sanitizer, as the XMPP sink has.
type cleanSink struct{ fakeSink }

func (*cleanSink) Sanitize(s string) string { return daemon.SanitizeXML(s) }

// TestPreviewShowsWhatTheDaemonSends: Preview's strings are exactly the
// statuses the same mirror then delivers (after it, the poll still finds
// every post new: Preview moved no cursor).
func TestPreviewShowsWhatTheDaemonSends(t *testing.T) {
	ctx := context.Background()
	src := &recentSource{}
	sink := &cleanSink{}
	path := filepath.Join(t.TempDir(), "state.json")
	r, err := daemon.NewRenderer("[r2] {{.Text}} {{.URL}}", 20)
	if err != nil {
		t.Fatal(err)
	}
	cfg := daemon.Config{Source: src, Sink: sink, Store: statefile.New(path), Renderer: r,
		Filter: daemon.Filter{SkipTags: []string{"noxp"}, OnlyTags: []string{"xp"}, StripTags: true}}
	m := daemon.NewMirror(cfg)
	if _, err := m.PollOnce(ctx); err != nil { // first start: nothing older
		t.Fatal(err)
	}
	posts := []daemon.Post{post(1, "too old"), post(2, "#xp a\x07b"), post(3, "#xp #noxp"), post(4, "no tag"),
		post(5, "#xp a long text that is cut to fit"), post(6, "#XP 同步🎉")}
	src.add(posts...)
	plan, err := daemon.NewMirror(cfg).Preview(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 5 || plan[0].Post.ID != "2" || plan[4].Post.ID != "6" {
		t.Fatalf("Preview returned %+v; want posts 2 to 6, oldest first", plan)
	}
	if plan[1].Reason != "skip_tags" || plan[1].Key != "tag" || plan[1].Value != "noxp" || plan[2].Reason != "only_tags" {
		t.Fatalf("skips %+v, %+v", plan[1], plan[2])
	}
	if n, err := m.PollOnce(ctx); err != nil || n != 3 {
		t.Fatalf("PollOnce = %d, %v; want 3", n, err)
	}
	if _, err := m.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range plan {
		if p.Reason == "" {
			want = append(want, p.Status)
		}
	}
	got := sink.got()
	if len(got) != 3 || len(want) != 3 {
		t.Fatalf("sent %q; previewed %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("status %d: sent %q, previewed %q", i, got[i], want[i])
		}
	}
	if got[0] != "[r2] ab " || got[1] != "[r2] a long text th…" {
		t.Errorf("statuses %q: want the sink's cleaning and truncation applied", got)
	}
}

func TestPreviewNeedsRecent(t *testing.T) {
	m := mirrorWith(t, daemon.Config{Source: &fakeSource{}, Sink: &fakeSink{}, Store: statefile.New(t.TempDir() + "/s.json")})
	if _, err := m.Preview(context.Background(), 3); !errors.Is(err, daemon.ErrNoRecent) {
		t.Fatalf("Preview = %v; want ErrNoRecent", err)
	}
}
