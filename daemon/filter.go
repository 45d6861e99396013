package daemon

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Skip reasons the Filter gives, named after the setting that caused the
// skip so that a log line, a metric and `r2sync status` point at the key
// to change. A source's own reasons (Post.Skip) are passed on as given.
const (
	SkipVisibility = "visibility"
	SkipRepost     = "repost"
	SkipReply      = "reply"
	SkipOlderThan  = "skip_older_than"
	SkipTags       = "skip_tags"
	SkipPattern    = "skip_pattern"
	OnlyTags       = "only_tags"
	OnlyPattern    = "only_pattern"
)

// privateVisibility lists the audiences a status, which every contact of
// the XMPP account sees, must never reach, whatever the source says.
var privateVisibility = map[string]bool{"private": true, "direct": true, "followers": true}

// Filter says which posts become statuses. The zero value mirrors every
// public post that is neither a reply nor a repost.
type Filter struct {
	IncludeReplies bool // replies to other accounts; replies to oneself always pass
	IncludeReposts bool
	// SkipTags: a post carrying any of these hashtags is skipped.
	// OnlyTags: when not empty, a post carrying none of them is skipped.
	// Tags match case-insensitively, with or without a leading '#'.
	SkipTags, OnlyTags []string
	// StripTags removes the SkipTags and OnlyTags found in the text (and
	// the space they leave) before the template sees it.
	StripTags bool
	// SkipPattern: a post whose text matches is skipped. OnlyPattern:
	// when set, a post whose text does not match is skipped. Both match
	// the source's resolved text, before the template.
	SkipPattern, OnlyPattern *regexp.Regexp
	// SkipOlderThan skips a post created longer ago than this when it is
	// first seen; 0 means no limit. A post without a time passes.
	SkipOlderThan time.Duration
}

// Verdict is the filter's answer for one post.
type Verdict struct {
	// Reason is why the post is skipped, or "" when it is mirrored.
	Reason string
	// Key and Value name what triggered Reason, logged as a field beside
	// it: "tag", "pattern", "age" or "visibility". Empty when there is
	// nothing more to say.
	Key, Value string
}

// Check returns the post as the template should see it (with StripTags,
// its text without the matched tags) and the verdict; now is when the
// post is seen. Skips are checked in a fixed order, so that a skip always
// beats an only, and the first that applies is the reason.
func (f Filter) Check(p Post, now time.Time) (Post, Verdict) {
	switch {
	case p.Skip != "":
		return p, Verdict{Reason: p.Skip}
	case privateVisibility[strings.ToLower(p.Visibility)]:
		return p, Verdict{Reason: SkipVisibility, Key: "visibility", Value: p.Visibility}
	case p.Repost && !f.IncludeReposts:
		return p, Verdict{Reason: SkipRepost}
	case p.Reply && !f.IncludeReplies:
		return p, Verdict{Reason: SkipReply}
	}
	if f.SkipOlderThan > 0 && !p.CreatedAt.IsZero() {
		if age := now.Sub(p.CreatedAt); age > f.SkipOlderThan {
			return p, Verdict{Reason: SkipOlderThan, Key: "age", Value: age.Truncate(time.Second).String()}
		}
	}
	var tags []string
	if len(f.SkipTags) > 0 || len(f.OnlyTags) > 0 {
		tags = PostTags(p)
	}
	if t, ok := firstTag(tags, f.SkipTags); ok {
		return p, Verdict{Reason: SkipTags, Key: "tag", Value: t}
	}
	if f.SkipPattern != nil && f.SkipPattern.MatchString(p.Text) {
		return p, Verdict{Reason: SkipPattern, Key: "pattern", Value: f.SkipPattern.String()}
	}
	if len(f.OnlyTags) > 0 {
		if _, ok := firstTag(tags, f.OnlyTags); !ok {
			return p, Verdict{Reason: OnlyTags}
		}
	}
	if f.OnlyPattern != nil && !f.OnlyPattern.MatchString(p.Text) {
		return p, Verdict{Reason: OnlyPattern, Key: "pattern", Value: f.OnlyPattern.String()}
	}
	if f.StripTags && (len(f.OnlyTags) > 0 || len(f.SkipTags) > 0) {
		p.Text = stripTags(p.Text, func(tag string) bool {
			_, ok := firstTag([]string{tag}, f.OnlyTags)
			if !ok {
				_, ok = firstTag([]string{tag}, f.SkipTags)
			}
			return ok
		})
	}
	return p, Verdict{}
}

// firstTag returns the first of want that tags holds, as want spells it.
func firstTag(tags, want []string) (string, bool) {
	for _, w := range want {
		w = strings.TrimPrefix(w, "#")
		for _, t := range tags {
			if strings.EqualFold(t, w) {
				return w, true
			}
		}
	}
	return "", false
}

// PostTags returns p's hashtags without '#': those the source reported,
// or, when it reported none, the #words of the text (see TextTags).
func PostTags(p Post) []string {
	if len(p.Hashtags) > 0 {
		return p.Hashtags
	}
	var tags []string
	forEachTag(p.Text, func(_, _ int, tag string) { tags = append(tags, tag) })
	return tags
}

// tagRune reports whether r continues a hashtag: letters (any script, so
// that #同步 is a tag), digits, marks (a combining accent is part of its
// letter) and '_'. An emoji or punctuation ends the tag.
func tagRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) || unicode.Is(unicode.M, r)
}

// forEachTag calls fn with the byte span [start, end) of every "#word"
// in s, '#' included, and the word. A '#' right after a letter or digit
// ("C#", "a#b") starts no tag.
func forEachTag(s string, fn func(start, end int, tag string)) {
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '#')
		if j < 0 {
			return
		}
		start := i + j
		i = start + 1
		if start > 0 {
			if r, _ := utf8.DecodeLastRuneInString(s[:start]); tagRune(r) {
				continue
			}
		}
		end := i
		for end < len(s) {
			r, n := utf8.DecodeRuneInString(s[end:])
			if !tagRune(r) {
				break
			}
			end += n
		}
		if end > i {
			fn(start, end, s[i:end])
			i = end
		}
	}
}

// stripTags removes from s each #tag that drop accepts, with the space it
// leaves: the blanks before it (or, at the start of a line, after it), so
// that "a #x b" becomes "a b" and "hi #x" becomes "hi".
func stripTags(s string, drop func(tag string) bool) string {
	type span struct{ start, end int }
	var cut []span
	forEachTag(s, func(start, end int, tag string) {
		if drop(tag) {
			cut = append(cut, span{start, end})
		}
	})
	if len(cut) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	prev := 0
	for _, c := range cut {
		head := s[prev:c.start]
		trimmed := strings.TrimRight(head, " \t")
		b.WriteString(trimmed)
		prev = c.end
		if len(trimmed) < len(head) {
			continue // the blanks before went with the tag
		}
		if out := b.String(); out == "" || strings.HasSuffix(out, "\n") {
			for prev < len(s) && (s[prev] == ' ' || s[prev] == '\t') {
				prev++
			}
		}
	}
	b.WriteString(s[prev:])
	return strings.TrimSpace(b.String())
}
