package twittertest

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRenderText(t *testing.T) {
	a := URL{Short: "https://t.co/AAAAAAAAAA", Expanded: "https://example.com/a?x=1&y=2"}
	b := URL{Short: "https://t.co/BBBBBBBBBB", Expanded: "https://example.org/"}
	tests := []struct {
		name      string
		text      string
		urls      []URL
		limit     int
		want      string
		wantShort []string // entity urls in order
		truncated bool
	}{
		{name: "plain", text: "hello", want: "hello"},
		{name: "escapes only amp lt gt", text: `a & b <3 > "q" 'x'`, want: `a &amp; b &lt;3 &gt; "q" 'x'`},
		{name: "already escaped text is escaped again", text: "&amp;", want: "&amp;amp;"},
		{name: "link replaced", text: "see https://example.com/a?x=1&y=2 now", urls: []URL{a}, want: "see https://t.co/AAAAAAAAAA now", wantShort: []string{a.Short}},
		{name: "links in text order", text: "https://example.org/ & https://example.com/a?x=1&y=2", urls: []URL{a, b}, want: "https://t.co/BBBBBBBBBB &amp; https://t.co/AAAAAAAAAA", wantShort: []string{b.Short, a.Short}},
		{name: "link not in text", text: "nothing here", urls: []URL{a}, want: "nothing here"},
		{name: "same link twice", text: "https://example.org/ https://example.org/", urls: []URL{b, {Short: "https://t.co/CCCCCCCCCC", Expanded: b.Expanded}}, want: "https://t.co/BBBBBBBBBB https://t.co/CCCCCCCCCC", wantShort: []string{b.Short, "https://t.co/CCCCCCCCCC"}},
		{name: "truncated", text: strings.Repeat("é", 150), limit: 140, want: strings.Repeat("é", 139) + "…", truncated: true},
		{name: "truncation keeps links whole", text: strings.Repeat("x", 130) + " https://example.org/", urls: []URL{b}, limit: 140, want: strings.Repeat("x", 130) + " …", truncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ents, truncated := renderText(layout(tt.text, tt.urls), tt.limit)
			if got != tt.want {
				t.Errorf("text = %q, want %q", got, tt.want)
			}
			if truncated != tt.truncated {
				t.Errorf("truncated = %v, want %v", truncated, tt.truncated)
			}
			if len(ents) != len(tt.wantShort) {
				t.Fatalf("%d entities, want %d", len(ents), len(tt.wantShort))
			}
			runes := []rune(got)
			for i, e := range ents {
				if e.URL != tt.wantShort[i] {
					t.Errorf("entity %d = %s, want %s", i, e.URL, tt.wantShort[i])
				}
				// Indices count code points of the served (escaped) text.
				if s := string(runes[e.Indices[0]:e.Indices[1]]); s != e.URL {
					t.Errorf("entity %d indices %v select %q", i, e.Indices, s)
				}
			}
			if tt.limit > 0 && utf8.RuneCountInString(got) > tt.limit+4*strings.Count(got, "&") {
				t.Errorf("text longer than limit: %d", utf8.RuneCountInString(got))
			}
		})
	}
}

func TestDisplayURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://example.com/a":                          "example.com/a",
		"http://www.example.com/":                        "example.com/",
		"https://example.com/a/very/long/path/that/goes": "example.com/a/very/long/p…",
	} {
		if got := displayURL(in); got != want {
			t.Errorf("displayURL(%q) = %q, want %q", in, got, want)
		}
	}
}
