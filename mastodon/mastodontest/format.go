package mastodontest

import (
	"html"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Mastodon's formatter (TextFormatter) turns the text of a local status
// into HTML: paragraphs split at blank lines into <p>, line breaks
// <br />, URLs into links whose visible text hides the scheme and cuts
// the URL after 30 characters with "invisible" and "ellipsis" spans,
// hashtags and mentions into links with Mastodon's classes. Text is
// HTML-escaped ("&", "<", ">", quotes).

var (
	tokenRe   = regexp.MustCompile(`https?://[^\s<>"]+|#[\p{L}\p{N}_]+|@[A-Za-z0-9_]+(?:@[A-Za-z0-9.\-]+)?`)
	trailPunc = ".,;:!?)"
)

// format renders text as a status's content, and lists its tags and
// mentions (of accounts the server knows).
func (s *Server) format(text string) (content string, tags []Tag, mentions []Mention) {
	var b strings.Builder
	paras := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n")
	for _, p := range paras {
		if strings.TrimSpace(p) == "" {
			continue
		}
		b.WriteString("<p>")
		for i, line := range strings.Split(p, "\n") {
			if i > 0 {
				b.WriteString("<br />")
			}
			s.formatLine(&b, line, &tags, &mentions)
		}
		b.WriteString("</p>")
	}
	return b.String(), tags, mentions
}

func (s *Server) formatLine(b *strings.Builder, line string, tags *[]Tag, mentions *[]Mention) {
	last := 0
	for _, m := range tokenRe.FindAllStringIndex(line, -1) {
		tok := line[m[0]:m[1]]
		end := m[1]
		if strings.HasPrefix(tok, "http") {
			trimmed := strings.TrimRight(tok, trailPunc)
			end = m[0] + len(trimmed)
			tok = trimmed
		}
		b.WriteString(html.EscapeString(line[last:m[0]]))
		switch tok[0] {
		case '#':
			name := tok[1:]
			u := s.url + "/tags/" + strings.ToLower(name)
			*tags = append(*tags, Tag{Name: strings.ToLower(name), URL: u})
			b.WriteString(`<a href="` + html.EscapeString(u) + `" class="mention hashtag" rel="tag">#<span>` + html.EscapeString(name) + `</span></a>`)
		case '@':
			user := tok[1:]
			acc := s.accountByUsername(user)
			u := s.url + "/@" + user
			if acc != nil {
				u = acc.URL
				*mentions = append(*mentions, Mention{ID: acc.ID, Username: acc.Username, URL: acc.URL, Acct: acc.Acct})
			}
			b.WriteString(`<span class="h-card" translate="no"><a href="` + html.EscapeString(u) + `" class="u-url mention">@<span>` + html.EscapeString(user) + `</span></a></span>`)
		default:
			b.WriteString(linkHTML(tok))
		}
		last = end
	}
	b.WriteString(html.EscapeString(line[last:]))
}

// linkHTML is Mastodon's markup of a URL: the scheme (and "www.") in an
// invisible span, the first 30 characters of the rest visible, and what
// is left invisible after an ellipsis span.
func linkHTML(u string) string {
	prefix := ""
	rest := u
	for _, p := range []string{"https://www.", "http://www.", "https://", "http://"} {
		if strings.HasPrefix(u, p) {
			prefix, rest = p, u[len(p):]
			break
		}
	}
	display, tail := rest, ""
	if utf8.RuneCountInString(rest) > 30 {
		n := 0
		for i := range rest {
			if n == 30 {
				display, tail = rest[:i], rest[i:]
				break
			}
			n++
		}
	}
	var b strings.Builder
	b.WriteString(`<a href="` + html.EscapeString(u) + `" target="_blank" rel="nofollow noopener" translate="no">`)
	b.WriteString(`<span class="invisible">` + html.EscapeString(prefix) + `</span>`)
	if tail != "" {
		b.WriteString(`<span class="ellipsis">` + html.EscapeString(display) + `</span>`)
		b.WriteString(`<span class="invisible">` + html.EscapeString(tail) + `</span>`)
	} else {
		b.WriteString(`<span class="">` + html.EscapeString(display) + `</span>`)
	}
	b.WriteString(`</a>`)
	return b.String()
}
