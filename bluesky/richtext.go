package bluesky

import (
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Facet feature types of app.bsky.richtext.facet.
const (
	featureLink    = "app.bsky.richtext.facet#link"
	featureTag     = "app.bsky.richtext.facet#tag"
	featureMention = "app.bsky.richtext.facet#mention"
)

// Facet is an app.bsky.richtext.facet: features of a byte range of the
// text.
type Facet struct {
	Index    ByteSlice `json:"index"`
	Features []Feature `json:"features"`
}

// ByteSlice is a range of UTF-8 bytes, end exclusive.
type ByteSlice struct {
	ByteStart int `json:"byteStart"`
	ByteEnd   int `json:"byteEnd"`
}

// UnmarshalJSON reads a byte slice whose offsets may be anything: an
// offset that is no integer becomes -1, so that the facet is ignored
// instead of failing the whole record.
func (b *ByteSlice) UnmarshalJSON(data []byte) error {
	var raw struct {
		ByteStart, ByteEnd json.RawMessage
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil // not an object: leave the zero range, which is empty
	}
	offset := func(m json.RawMessage) int {
		n, err := strconv.Atoi(string(m))
		if err != nil {
			return -1
		}
		return n
	}
	b.ByteStart, b.ByteEnd = offset(raw.ByteStart), offset(raw.ByteEnd)
	return nil
}

// Feature is one feature of a facet; Type says which fields are set.
type Feature struct {
	Type string `json:"$type"`
	URI  string `json:"uri,omitempty"` // #link
	Tag  string `json:"tag,omitempty"` // #tag
	DID  string `json:"did,omitempty"` // #mention
}

// applyLinks returns text with the byte range of every link facet
// replaced by the facet's full uri: apps show a shortened link text
// (example.com/long…) and keep the whole URL only in the facet. Facets
// outside the text, overlapping an earlier one, splitting a UTF-8
// character or with an unusable uri are ignored.
func applyLinks(text string, facets []Facet) string {
	type link struct {
		start, end int
		uri        string
	}
	var links []link
	for _, f := range facets {
		s, e := f.Index.ByteStart, f.Index.ByteEnd
		if s < 0 || e > len(text) || s >= e || !boundary(text, s) || !boundary(text, e) {
			continue
		}
		for _, ft := range f.Features {
			if ft.Type == featureLink && usableURI(ft.URI) {
				links = append(links, link{s, e, ft.URI})
				break
			}
		}
	}
	if len(links) == 0 {
		return text
	}
	sort.SliceStable(links, func(i, j int) bool { return links[i].start < links[j].start })
	var b strings.Builder
	b.Grow(len(text))
	at := 0
	for _, l := range links {
		if l.start < at {
			continue // overlaps the previous link
		}
		b.WriteString(text[at:l.start])
		b.WriteString(l.uri)
		at = l.end
	}
	b.WriteString(text[at:])
	return b.String()
}

// boundary reports whether byte offset i of s starts a character (or is
// the end).
func boundary(s string, i int) bool {
	return i == len(s) || utf8.RuneStart(s[i])
}

// usableURI reports whether a facet's uri may stand in the text: a
// bounded, valid, single-line string.
func usableURI(u string) bool {
	if u == "" || len(u) > 2048 || !utf8.ValidString(u) {
		return false
	}
	return !strings.ContainsAny(u, "\x00\r\n\t ")
}

// hashtags returns the tags of tag facets and the record's own tags,
// without '#', each once.
func hashtags(facets []Facet, extra []string) []string {
	var tags []string
	seen := map[string]bool{}
	add := func(t string) {
		t = strings.TrimPrefix(t, "#")
		if t == "" || len(t) > 640 || seen[t] {
			return
		}
		seen[t] = true
		tags = append(tags, t)
	}
	for _, f := range facets {
		for _, ft := range f.Features {
			if ft.Type == featureTag {
				add(ft.Tag)
			}
		}
	}
	for _, t := range extra {
		add(t)
	}
	return tags
}

// urlPattern finds links to mark up when posting; trailing punctuation
// is trimmed afterwards.
var urlPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// linkFacets returns a link facet for every http(s) URL in text, with
// UTF-8 byte offsets as the lexicon requires (not runes, not UTF-16).
func linkFacets(text string) []Facet {
	var facets []Facet
	for _, m := range urlPattern.FindAllStringIndex(text, -1) {
		s, e := m[0], m[1]
		for e > s && strings.IndexByte(".,;:!?)]}'", text[e-1]) >= 0 {
			// A closing parenthesis that belongs to the URL stays.
			if text[e-1] == ')' && strings.Count(text[s:e], "(") >= strings.Count(text[s:e], ")") {
				break
			}
			e--
		}
		if e-s <= len("https://") {
			continue
		}
		facets = append(facets, Facet{
			Index:    ByteSlice{ByteStart: s, ByteEnd: e},
			Features: []Feature{{Type: featureLink, URI: text[s:e]}},
		})
	}
	return facets
}
