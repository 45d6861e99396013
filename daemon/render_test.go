package daemon_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/r2sync/r2sync/daemon"
)

func TestRender(t *testing.T) {
	post := daemon.Post{
		ID: "1700000000000000123", Text: "hello & <world>", URL: "https://twitter.com/alice/status/1700000000000000123",
		Author: "alice", CreatedAt: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC),
	}
	tests := []struct {
		name     string
		template string
		max      int
		text     string
		want     string
	}{
		{name: "plain", template: "{{.Text}}", max: 140, want: "hello & <world>"},
		{name: "fields", template: "[r2] {{.Text}} {{.URL}} {{.ID}} @{{.ScreenName}} {{.CreatedAt.Format \"2006-01-02\"}}", max: 0,
			want: "[r2] hello & <world> https://twitter.com/alice/status/1700000000000000123 1700000000000000123 @alice 2026-11-23"},
		{name: "author", template: "{{.Author}}: {{.Text}}", max: 0, want: "alice: hello & <world>"},
		{name: "truncate ascii", template: "{{.Text}}", max: 8, want: "hello &…"},
		{name: "truncate trims space before ellipsis", template: "{{.Text}}", max: 7, want: "hello…"},
		{name: "exact fit", template: "{{.Text}}", max: 15, want: "hello & <world>"},
		{name: "cjk", template: "{{.Text}}", max: 3, text: "你好世界", want: "你好…"},
		{name: "zwj family is one character", template: "{{.Text}}", max: 2, text: "👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦", want: "👨‍👩‍👧‍👦…"},
		{name: "flags", template: "{{.Text}}", max: 2, text: "🇨🇳🇯🇵🇺🇸", want: "🇨🇳…"},
		{name: "combining marks stay", template: "{{.Text}}", max: 2, text: "e\u0301e\u0301e\u0301", want: "e\u0301…"},
		{name: "max one", template: "{{.Text}}", max: 1, text: "abc", want: "…"},
		{name: "controls removed", template: "{{.Text}}", max: 0, text: "a\x00b\x08c\x1bd\tе\n", want: "abcd\tе\n"},
		{name: "nonchars removed", template: "{{.Text}}", max: 0, text: "a\uFFFEb\uFFFFc", want: "abc"},
		{name: "controls do not count toward length", template: "{{.Text}}", max: 3, text: "\x00\x00\x00abc", want: "abc"},
		{name: "injection stays text", template: "{{.Text}}", max: 0, text: "</status></presence><presence type='unavailable'/>]]>",
			want: "</status></presence><presence type='unavailable'/>]]>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := daemon.NewRenderer(tt.template, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			p := post
			if tt.text != "" {
				p.Text = tt.text
			}
			// The XMPP sink's cleaning, as the mirror applies it.
			got, err := r.Render(p, daemon.SanitizeXML)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
		})
	}
}

// The renderer knows no sink: without a sink's cleaning every character
// stays, and the length counts them all.
func TestRenderWithoutSanitizer(t *testing.T) {
	r, err := daemon.NewRenderer("{{.Text}}", 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Render(daemon.Post{Text: "a\x00b"}, nil)
	if err != nil || got != "a\x00b" {
		t.Errorf("Render = %q, %v; want the text untouched", got, err)
	}
	got, _ = r.Render(daemon.Post{Text: "\x00\x00\x00abc"}, nil)
	if got != "\x00\x00…" {
		t.Errorf("Render = %q; want the controls counted", got)
	}
}

func TestNewRendererErrors(t *testing.T) {
	if _, err := daemon.NewRenderer("{{.Text", 10); err == nil {
		t.Error("unterminated template accepted")
	}
	if _, err := daemon.NewRenderer("{{.Text}}", -1); err == nil {
		t.Error("negative max length accepted")
	}
	if _, err := daemon.NewRenderer("{{.Nope}}", 10); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("unknown field: err = %v, want one naming Nope", err)
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{"", "hello", "a\x00b", "👨‍👩‍👧‍👦🇨🇳e\u0301", "\uFFFE\uFFFF", "\xed\xa0\x80", "</status>]]>", strings.Repeat("你", 300)} {
		f.Add(s, 140)
	}
	f.Fuzz(func(t *testing.T, text string, max int) {
		max = max % 300
		if max < 0 {
			max = -max
		}
		r, err := daemon.NewRenderer("{{.Text}}", max)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Render(daemon.Post{Text: text}, daemon.SanitizeXML)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q", got)
		}
		if daemon.SanitizeXML(got) != got {
			t.Fatalf("output %q still has characters XML 1.0 forbids", got)
		}
		if n := uniseg.GraphemeClusterCount(got); max > 0 && n > max {
			t.Fatalf("%d clusters, max %d: %q", n, max, got)
		}
		clean := daemon.SanitizeXML(text)
		if max == 0 || uniseg.GraphemeClusterCount(clean) <= max {
			if got != clean {
				t.Fatalf("fitting text changed: %q -> %q", clean, got)
			}
		} else if !strings.HasSuffix(got, daemon.Ellipsis) {
			t.Fatalf("cut text %q lacks the ellipsis", got)
		}
	})
}

func BenchmarkRender(b *testing.B) {
	r, err := daemon.NewRenderer("[r2] {{.Text}} {{.URL}}", 140)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		text string
	}{
		{"ascii-short", "Reading about XMPP presence: https://xmpp.org/rfcs/rfc6121.html"},
		{"cjk-280-truncated", strings.Repeat("同步到人人网", 47)},
		{"emoji-zwj", strings.Repeat("👨‍👩‍👧‍👦🇨🇳", 40)},
		{"controls", strings.Repeat("a\x00b\x1b", 70)},
	} {
		p := daemon.Post{ID: "1700000000000000123", Text: bc.text, URL: "https://twitter.com/alice/status/1700000000000000123"}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Render(p, daemon.SanitizeXML); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := daemon.NewBackoff(time.Second, 8*time.Second)
	for i, ceil := range []time.Duration{1, 2, 4, 8, 8, 8} {
		ceil *= time.Second
		if d := b.Next(); d < ceil/2 || d > ceil {
			t.Errorf("step %d: %s, want in [%s, %s]", i, d, ceil/2, ceil)
		}
	}
	b.Reset()
	if d := b.Next(); d > time.Second {
		t.Errorf("after reset: %s, want ≤ 1s", d)
	}
}
