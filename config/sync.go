package config

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// maxTags bounds skip_tags and only_tags: each post is compared with
// every tag, and a list longer than this is a mistake, not a filter.
const maxTags = 1000

// filterProblems checks the [sync] keys that choose what is mirrored;
// sc names the keys.
func (s Sync) filterProblems(sc scope) []string {
	var probs []string
	addf := func(key, format string, a ...any) {
		probs = append(probs, sc.key(key)+": "+fmt.Sprintf(format, a...))
	}
	for _, k := range []struct {
		key  string
		tags []string
	}{{"sync.skip_tags", s.SkipTags}, {"sync.only_tags", s.OnlyTags}} {
		if len(k.tags) > maxTags {
			addf(k.key, "at most %d tags (got %d)", maxTags, len(k.tags))
			continue
		}
		for i, t := range k.tags {
			if p := tagProblem(t); p != "" {
				// sc names the list (top level or the mirror's); the
				// index follows.
				probs = append(probs, fmt.Sprintf("%s[%d]: %s (got %q)", sc.key(k.key), i, p, t))
			}
		}
	}
	for _, k := range []struct{ key, pattern string }{{"sync.skip_pattern", s.SkipPattern}, {"sync.only_pattern", s.OnlyPattern}} {
		if _, err := CompilePattern(k.pattern); err != nil {
			addf(k.key, "%v", err)
		}
	}
	if d := s.SkipOlderThan.Duration; d < 0 {
		addf("sync.skip_older_than", "must be \"0s\" (no limit) or a positive duration such as \"8h\" (got %q)", d)
	}
	if s.MaxPerHour < 0 {
		addf("sync.max_per_hour", "must be 0 (no cap) or more (got %d)", s.MaxPerHour)
	}
	return probs
}

// tagProblem says what is wrong with a tag of skip_tags or only_tags,
// or "". A tag is written without '#' (one leading '#' is allowed) and is
// one word: with a space or a second '#' it could never match.
func tagProblem(t string) string {
	w := strings.TrimPrefix(t, "#")
	if w == "" {
		return "must be a hashtag such as \"noxp\""
	}
	if strings.IndexFunc(w, func(r rune) bool { return r == '#' || unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return "must be one word, without spaces or a second '#'"
	}
	return ""
}

// CompilePattern compiles a skip_pattern or only_pattern: nil for "",
// else the RE2 expression, or an error that quotes the pattern and RE2's
// complaint.
func CompilePattern(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("not a valid RE2 pattern %q: %w", p, err)
	}
	return re, nil
}
