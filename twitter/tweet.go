package twitter

import (
	"html"
	"strings"
)

// expansion replaces one t.co link with the URL it stands for.
type expansion struct {
	short, long string
}

// links collects the t.co replacements of one text, each short link
// once: both APIs list a link more than once (v1.1 in entities and in
// each media entity, v2 once per attachment).
type links struct {
	seen map[string]bool
	ex   []expansion
}

func (l *links) add(short, long string) {
	if short == "" || long == "" || l.seen[short] {
		return
	}
	if l.seen == nil {
		l.seen = make(map[string]bool)
	}
	l.seen[short] = true
	l.ex = append(l.ex, expansion{short: short, long: long})
}

// expand replaces the collected links in text; see expandText.
func (l *links) expand(text string) string { return expandText(text, l.ex) }

// expandText replaces each t.co link in text, which is HTML-escaped the way
// the API serves full_text, and unescapes the rest. Expanded URLs are
// inserted verbatim rather than unescaped with the text, so that a query
// string such as "?a=1&lt=2" survives.
func expandText(text string, ex []expansion) string {
	var b strings.Builder
	for {
		at, best := -1, -1
		for i, e := range ex {
			if e.short == "" {
				continue // would match everywhere and never advance
			}
			j := strings.Index(text, e.short)
			if j < 0 {
				continue
			}
			// Leftmost match wins; at the same spot the longer link does.
			if at < 0 || j < at || (j == at && len(e.short) > len(ex[best].short)) {
				at, best = j, i
			}
		}
		if at < 0 {
			b.WriteString(html.UnescapeString(text))
			return b.String()
		}
		b.WriteString(html.UnescapeString(text[:at]))
		b.WriteString(ex[best].long)
		text = text[at+len(ex[best].short):]
	}
}
