package bluesky

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func link(start, end int, uri string) Facet {
	return Facet{Index: ByteSlice{start, end}, Features: []Feature{{Type: featureLink, URI: uri}}}
}

func TestApplyLinks(t *testing.T) {
	cjk := "看这个 🎉 example.com/a… 和 example.org/b…"
	s1 := strings.Index(cjk, "example.com/a…")
	s2 := strings.Index(cjk, "example.org/b…")
	tests := []struct {
		name   string
		text   string
		facets []Facet
		want   string
	}{
		{"no facets", "hello", nil, "hello"},
		{"shortened link", "see example.com/long/pa…", []Facet{link(4, len("see example.com/long/pa…"), "https://example.com/long/path?q=1")}, "see https://example.com/long/path?q=1"},
		{"cjk and emoji before two links", cjk,
			[]Facet{link(s2, s2+len("example.org/b…"), "https://example.org/b/full"), link(s1, s1+len("example.com/a…"), "https://example.com/a/full")},
			"看这个 🎉 https://example.com/a/full 和 https://example.org/b/full"},
		{"end past text ignored", "abc", []Facet{link(1, 99, "https://x.example")}, "abc"},
		{"negative start ignored", "abc", []Facet{link(-1, 2, "https://x.example")}, "abc"},
		{"empty range ignored", "abc", []Facet{link(2, 2, "https://x.example")}, "abc"},
		{"reversed range ignored", "abc", []Facet{link(2, 1, "https://x.example")}, "abc"},
		{"inside a character ignored", "看abc", []Facet{link(1, 4, "https://x.example")}, "看abc"},
		{"overlap keeps the first", "abcdef", []Facet{link(0, 3, "https://one.example"), link(2, 5, "https://two.example")}, "https://one.exampledef"},
		{"uri with newline ignored", "abc", []Facet{link(0, 3, "https://x.example/\nfake")}, "abc"},
		{"tag facet left as text", "#go now", []Facet{{Index: ByteSlice{0, 3}, Features: []Feature{{Type: featureTag, Tag: "go"}}}}, "#go now"},
		{"utf-16 offsets would be wrong", "é link", []Facet{link(3, 7, "https://l.example")}, "é https://l.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := applyLinks(tt.text, tt.facets); got != tt.want {
				t.Errorf("applyLinks = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHashtags(t *testing.T) {
	f := []Facet{
		{Features: []Feature{{Type: featureTag, Tag: "golang"}}},
		{Features: []Feature{{Type: featureLink, URI: "https://x"}, {Type: featureTag, Tag: "xmpp"}}},
		{Features: []Feature{{Type: featureTag, Tag: "golang"}}},
	}
	got := hashtags(f, []string{"extra", "#xmpp"})
	want := []string{"golang", "xmpp", "extra"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("hashtags = %v, want %v", got, want)
	}
}

func TestLinkFacets(t *testing.T) {
	text := "日本語 🎌 https://example.com/a, and (https://example.org/b_(c)) end."
	fs := linkFacets(text)
	if len(fs) != 2 {
		t.Fatalf("got %d facets, want 2: %+v", len(fs), fs)
	}
	for i, want := range []string{"https://example.com/a", "https://example.org/b_(c)"} {
		f := fs[i]
		if got := text[f.Index.ByteStart:f.Index.ByteEnd]; got != want || f.Features[0].URI != want || f.Features[0].Type != featureLink {
			t.Errorf("facet %d covers %q (uri %q), want %q", i, got, f.Features[0].URI, want)
		}
	}
	if got := applyLinks(text, fs); got != text {
		t.Errorf("applying our own facets changed the text: %q", got)
	}
}

// FuzzApplyLinks: any facets on any text never panic and give valid
// UTF-8 for valid input.
func FuzzApplyLinks(f *testing.F) {
	f.Add("看这个 🎉 example.com/a…", 11, 28, 0, 3, "https://example.com/a")
	f.Add("abc", -5, 99, 2, 1, "")
	f.Fuzz(func(t *testing.T, text string, s1, e1, s2, e2 int, uri string) {
		out := applyLinks(text, []Facet{link(s1, e1, uri), link(s2, e2, "https://b.example")})
		if utf8.ValidString(text) && utf8.ValidString(uri) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q: %q", text, out)
		}
		linkFacets(text)
	})
}
