package daemon_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

var filterNow = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func TestFilterCheck(t *testing.T) {
	re := regexp.MustCompile
	fresh := filterNow.Add(-time.Minute)
	tests := []struct {
		name   string
		f      daemon.Filter
		p      daemon.Post
		reason string
		key    string // Verdict.Key=Value, when reason is set
		value  string
		text   string // the text the template sees, when mirrored
	}{
		{name: "zero filter mirrors", p: daemon.Post{Text: "hello"}, text: "hello"},
		{name: "source skip as given", p: daemon.Post{Text: "x", Skip: "content_warning"}, reason: "content_warning"},
		{name: "source skip beats everything", f: daemon.Filter{IncludeReposts: true}, p: daemon.Post{Text: "x", Repost: true, Skip: "visibility"}, reason: "visibility"},
		{name: "private", p: daemon.Post{Text: "x", Visibility: "private"}, reason: "visibility", key: "visibility", value: "private"},
		{name: "direct", p: daemon.Post{Text: "x", Visibility: "direct"}, reason: "visibility", key: "visibility", value: "direct"},
		{name: "followers even with every include", f: daemon.Filter{IncludeReplies: true, IncludeReposts: true}, p: daemon.Post{Text: "x", Visibility: "Followers"}, reason: "visibility", key: "visibility", value: "Followers"},
		{name: "unlisted passes", p: daemon.Post{Text: "x", Visibility: "unlisted"}, text: "x"},
		{name: "repost", p: daemon.Post{Text: "RT @a: x", Repost: true}, reason: "repost"},
		{name: "repost included", f: daemon.Filter{IncludeReposts: true}, p: daemon.Post{Text: "RT @a: x", Repost: true}, text: "RT @a: x"},
		{name: "reply", p: daemon.Post{Text: "@a x", Reply: true}, reason: "reply"},
		{name: "reply included", f: daemon.Filter{IncludeReplies: true}, p: daemon.Post{Text: "@a x", Reply: true}, text: "@a x"},

		{name: "skip_tags from entities", f: daemon.Filter{SkipTags: []string{"noxp"}}, p: daemon.Post{Text: "hi", Hashtags: []string{"NoXP"}}, reason: "skip_tags", key: "tag", value: "noxp"},
		{name: "skip_tags from text, any case", f: daemon.Filter{SkipTags: []string{"nomirror", "NOXP"}}, p: daemon.Post{Text: "hi #NoXp there"}, reason: "skip_tags", key: "tag", value: "NOXP"},
		{name: "skip_tags written with #", f: daemon.Filter{SkipTags: []string{"#noxp"}}, p: daemon.Post{Text: "hi #noxp"}, reason: "skip_tags", key: "tag", value: "noxp"},
		{name: "skip_tags at the very end", f: daemon.Filter{SkipTags: []string{"noxp"}}, p: daemon.Post{Text: "last word #noxp"}, reason: "skip_tags", key: "tag", value: "noxp"},
		{name: "skip_tags at the very start", f: daemon.Filter{SkipTags: []string{"noxp"}}, p: daemon.Post{Text: "#noxp first"}, reason: "skip_tags", key: "tag", value: "noxp"},
		{name: "skip_tags CJK", f: daemon.Filter{SkipTags: []string{"不同步"}}, p: daemon.Post{Text: "今天 #不同步"}, reason: "skip_tags", key: "tag", value: "不同步"},
		{name: "# glued to a CJK letter is no tag", f: daemon.Filter{SkipTags: []string{"不同步"}}, p: daemon.Post{Text: "今天#不同步"}, text: "今天#不同步"},
		{name: "CJK tag ended by punctuation", f: daemon.Filter{SkipTags: []string{"不同步"}}, p: daemon.Post{Text: "今天 #不同步。好"}, reason: "skip_tags", key: "tag", value: "不同步"},
		{name: "tag ended by an emoji", f: daemon.Filter{SkipTags: []string{"noxp"}}, p: daemon.Post{Text: "party #noxp🎉"}, reason: "skip_tags", key: "tag", value: "noxp"},
		{name: "emoji tag from entities", f: daemon.Filter{SkipTags: []string{"🎉"}}, p: daemon.Post{Text: "party", Hashtags: []string{"🎉"}}, reason: "skip_tags", key: "tag", value: "🎉"},
		{name: "emoji is not a text tag", f: daemon.Filter{SkipTags: []string{"🎉"}}, p: daemon.Post{Text: "party #🎉"}, text: "party #🎉"},
		{name: "longer tag is another tag", f: daemon.Filter{SkipTags: []string{"noxp"}}, p: daemon.Post{Text: "#noxpath here"}, text: "#noxpath here"},
		{name: "# after a letter is no tag", f: daemon.Filter{SkipTags: []string{"noxp"}}, p: daemon.Post{Text: "C#noxp"}, text: "C#noxp"},
		{name: "# after a digit is no tag", f: daemon.Filter{SkipTags: []string{"noxp"}}, p: daemon.Post{Text: "1#noxp"}, text: "1#noxp"},
		{name: "entities win over the text", f: daemon.Filter{SkipTags: []string{"noxp"}}, p: daemon.Post{Text: "see https://x.org/#noxp", Hashtags: []string{"other"}}, text: "see https://x.org/#noxp"},
		{name: "combining mark stays in the tag", f: daemon.Filter{SkipTags: []string{"cafe\u0301"}}, p: daemon.Post{Text: "at the #cafe\u0301 now"}, reason: "skip_tags", key: "tag", value: "cafe\u0301"},

		{name: "only_tags without tags", f: daemon.Filter{OnlyTags: []string{"xp"}}, p: daemon.Post{Text: "no tags at all"}, reason: "only_tags"},
		{name: "only_tags other tag", f: daemon.Filter{OnlyTags: []string{"xp"}}, p: daemon.Post{Text: "#go is fun"}, reason: "only_tags"},
		{name: "only_tags match", f: daemon.Filter{OnlyTags: []string{"xp", "同步"}}, p: daemon.Post{Text: "mirror me #同步"}, text: "mirror me #同步"},
		{name: "only_tags match from entities", f: daemon.Filter{OnlyTags: []string{"XP"}}, p: daemon.Post{Text: "mirror", Hashtags: []string{"xp"}}, text: "mirror"},
		{name: "skip beats only", f: daemon.Filter{SkipTags: []string{"noxp"}, OnlyTags: []string{"xp"}}, p: daemon.Post{Text: "#xp but #noxp"}, reason: "skip_tags", key: "tag", value: "noxp"},

		{name: "strip_tags at the end", f: daemon.Filter{OnlyTags: []string{"xp"}, StripTags: true}, p: daemon.Post{Text: "hello world #XP"}, text: "hello world"},
		{name: "strip_tags at the start", f: daemon.Filter{OnlyTags: []string{"xp"}, StripTags: true}, p: daemon.Post{Text: "#xp hello"}, text: "hello"},
		{name: "strip_tags in the middle", f: daemon.Filter{OnlyTags: []string{"xp"}, StripTags: true}, p: daemon.Post{Text: "a #xp b"}, text: "a b"},
		{name: "strip_tags twice and CJK", f: daemon.Filter{OnlyTags: []string{"xp", "同步"}, StripTags: true}, p: daemon.Post{Text: "#同步 你好 #xp #xp"}, text: "你好"},
		{name: "strip_tags keeps other tags", f: daemon.Filter{OnlyTags: []string{"xp"}, StripTags: true}, p: daemon.Post{Text: "#go rocks #xp"}, text: "#go rocks"},
		{name: "strip_tags keeps lines", f: daemon.Filter{OnlyTags: []string{"xp"}, StripTags: true}, p: daemon.Post{Text: "line one #xp\n#xp line two"}, text: "line one\nline two"},
		{name: "strip_tags off keeps tags", f: daemon.Filter{OnlyTags: []string{"xp"}}, p: daemon.Post{Text: "hello #xp"}, text: "hello #xp"},

		{name: "skip_pattern", f: daemon.Filter{SkipPattern: re(`(?i)\bspoiler\b`)}, p: daemon.Post{Text: "big SPOILER ahead"}, reason: "skip_pattern", key: "pattern", value: `(?i)\bspoiler\b`},
		{name: "skip_pattern no match", f: daemon.Filter{SkipPattern: re(`spoiler`)}, p: daemon.Post{Text: "fine"}, text: "fine"},
		{name: "only_pattern no match", f: daemon.Filter{OnlyPattern: re(`^\[xp\]`)}, p: daemon.Post{Text: "plain"}, reason: "only_pattern", key: "pattern", value: `^\[xp\]`},
		{name: "only_pattern match", f: daemon.Filter{OnlyPattern: re(`^\[xp\]`)}, p: daemon.Post{Text: "[xp] go"}, text: "[xp] go"},
		{name: "pattern sees expanded text", f: daemon.Filter{SkipPattern: re(`example\.org/private`)}, p: daemon.Post{Text: "see https://example.org/private/1 & more"}, reason: "skip_pattern", key: "pattern", value: `example\.org/private`},
		{name: "skip_pattern beats only_pattern", f: daemon.Filter{SkipPattern: re(`b`), OnlyPattern: re(`a`)}, p: daemon.Post{Text: "a b"}, reason: "skip_pattern", key: "pattern", value: "b"},
		{name: "skip_tags beat only_pattern", f: daemon.Filter{SkipTags: []string{"noxp"}, OnlyPattern: re(`a`)}, p: daemon.Post{Text: "a #noxp"}, reason: "skip_tags", key: "tag", value: "noxp"},
		{name: "skip_pattern beats only_tags", f: daemon.Filter{SkipPattern: re(`secret`), OnlyTags: []string{"xp"}}, p: daemon.Post{Text: "secret #xp"}, reason: "skip_pattern", key: "pattern", value: "secret"},
		{name: "only_tags and only_pattern both needed", f: daemon.Filter{OnlyTags: []string{"xp"}, OnlyPattern: re(`go`)}, p: daemon.Post{Text: "rust #xp"}, reason: "only_pattern", key: "pattern", value: "go"},
		{name: "only_tags and only_pattern both met", f: daemon.Filter{OnlyTags: []string{"xp"}, OnlyPattern: re(`go`), StripTags: true}, p: daemon.Post{Text: "go #xp"}, text: "go"},
		{name: "pattern sees the tag before strip", f: daemon.Filter{OnlyTags: []string{"xp"}, OnlyPattern: re(`#xp$`), StripTags: true}, p: daemon.Post{Text: "go #xp"}, text: "go"},

		{name: "older than", f: daemon.Filter{SkipOlderThan: 8 * time.Hour}, p: daemon.Post{Text: "old", CreatedAt: filterNow.Add(-9 * time.Hour)}, reason: "skip_older_than", key: "age", value: "9h0m0s"},
		{name: "younger than", f: daemon.Filter{SkipOlderThan: 8 * time.Hour}, p: daemon.Post{Text: "new", CreatedAt: filterNow.Add(-7 * time.Hour)}, text: "new"},
		{name: "no creation time passes", f: daemon.Filter{SkipOlderThan: time.Second}, p: daemon.Post{Text: "when?"}, text: "when?"},
		{name: "older than beats tags", f: daemon.Filter{SkipOlderThan: time.Hour, SkipTags: []string{"noxp"}}, p: daemon.Post{Text: "#noxp", CreatedAt: filterNow.Add(-2 * time.Hour)}, reason: "skip_older_than", key: "age", value: "2h0m0s"},
		{name: "everything set, all pass", f: daemon.Filter{SkipOlderThan: time.Hour, SkipTags: []string{"noxp"}, OnlyTags: []string{"xp"}, StripTags: true, SkipPattern: re(`secret`), OnlyPattern: re(`go`)},
			p: daemon.Post{Text: "go go #xp", CreatedAt: fresh, Visibility: "public"}, text: "go go"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, v := tt.f.Check(tt.p, filterNow)
			if v.Reason != tt.reason || v.Key != tt.key || v.Value != tt.value {
				t.Fatalf("verdict %+v; want reason %q %s=%q", v, tt.reason, tt.key, tt.value)
			}
			if tt.reason == "" && got.Text != tt.text {
				t.Fatalf("text %q; want %q", got.Text, tt.text)
			}
			if tt.reason != "" && got.Text != tt.p.Text {
				t.Fatalf("a skipped post's text changed to %q", got.Text)
			}
		})
	}
}

// TestPollSkipsWithReasonAndDetail checks that the mirror logs each skip
// with its reason and trigger, counts it by reason, moves the cursor past
// it, and renders the stripped text.
func TestPollSkipsWithReasonAndDetail(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{}
	store := statefile.New(t.TempDir() + "/state.json")
	sink := &fakeSink{}
	obs := newRecObserver()
	log, logged := logs()
	r, err := daemon.NewRenderer("[r2] {{.Text}}", 140)
	if err != nil {
		t.Fatal(err)
	}
	m := daemon.NewMirror(daemon.Config{Source: src, Sink: sink, Store: store, Renderer: r, Observer: obs, Logger: log,
		Filter: daemon.Filter{SkipTags: []string{"noxp"}, OnlyTags: []string{"xp"}, StripTags: true, SkipPattern: regexp.MustCompile(`secret`)}})
	if _, err := m.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	src.add(post(1, "one #xp #noxp"), post(2, "two #xp"), post(3, "a secret #xp"), post(4, "four"),
		daemon.Post{ID: "5", Cursor: "5", Text: "dm #xp", Visibility: "direct"}, daemon.Post{ID: "6", Cursor: "6", Text: "cw #xp", Skip: "content_warning"})
	if n, err := m.PollOnce(ctx); err != nil || n != 1 {
		t.Fatalf("PollOnce queued %d, %v; want 1", n, err)
	}
	if _, err := m.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sink.got(); len(got) != 1 || got[0] != "[r2] two" {
		t.Fatalf("statuses %q; want [\"[r2] two\"]", got)
	}
	want := map[string]int{"skip_tags": 1, "skip_pattern": 1, "only_tags": 1, "visibility": 1, "content_warning": 1}
	for k, n := range want {
		if obs.skipped[k] != n {
			t.Errorf("skipped[%s] = %d; want %d (all: %v)", k, obs.skipped[k], n, obs.skipped)
		}
	}
	st, err := store.Load(ctx)
	if err != nil || cursorOf(st) != "6" {
		t.Fatalf("cursor %q, %v; want 6", cursorOf(st), err)
	}
	e := logged.FilterMessage("post skipped").FilterField(zap.String("post_id", "1")).All()
	if len(e) != 1 || e[0].ContextMap()["reason"] != "skip_tags" || e[0].ContextMap()["tag"] != "noxp" {
		t.Fatalf("log of post 1: %v; want reason=skip_tags tag=noxp", e)
	}
	e = logged.FilterMessage("post skipped").FilterField(zap.String("post_id", "3")).All()
	if len(e) != 1 || e[0].ContextMap()["pattern"] != "secret" {
		t.Fatalf("log of post 3: %v; want pattern=secret", e)
	}
}

// BenchmarkFilterCheck is the filter's cost per post with every key set,
// on a tweet-sized text: it runs on the path from timeline to presence.
func BenchmarkFilterCheck(b *testing.B) {
	f := daemon.Filter{SkipTags: []string{"noxp", "nomirror"}, OnlyTags: []string{"xp", "同步"}, StripTags: true,
		SkipPattern: regexp.MustCompile(`(?i)\bspoiler\b`), OnlyPattern: regexp.MustCompile(`^[^!]`), SkipOlderThan: time.Hour}
	p := daemon.Post{Text: "reading https://xmpp.org/rfcs/rfc6121.html today with friends, more to come #go #xp", CreatedAt: filterNow.Add(-time.Minute)}
	for b.Loop() {
		if _, v := f.Check(p, filterNow); v.Reason != "" {
			b.Fatal(v)
		}
	}
}
