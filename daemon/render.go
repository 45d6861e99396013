package daemon

import (
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// Ellipsis ends a status that was cut to fit.
const Ellipsis = "…"

// Renderer turns a post into status text: template, XML 1.0 sanitising,
// then truncation to a number of user-perceived characters.
type Renderer struct {
	tmpl      *template.Template
	maxLength int
}

// TemplateData is what a status template sees.
type TemplateData struct {
	Text       string
	URL        string
	ID         int64
	ScreenName string
	CreatedAt  time.Time
}

// NewRenderer parses the status template and tries it once on a sample
// post, so that a template naming an unknown field fails here and not on
// the first tweet. maxLength counts grapheme clusters; 0 means no limit.
func NewRenderer(tmpl string, maxLength int) (*Renderer, error) {
	t, err := template.New("status").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, err
	}
	if maxLength < 0 {
		return nil, fmt.Errorf("max length must not be negative (got %d)", maxLength)
	}
	if err := t.Execute(io.Discard, TemplateData{Text: "sample", URL: "https://twitter.com/r2sync/status/1", ID: 1, ScreenName: "r2sync"}); err != nil {
		return nil, err
	}
	return &Renderer{tmpl: t, maxLength: maxLength}, nil
}

// Render returns the status text for p.
func (r *Renderer) Render(p Post) (string, error) {
	var b strings.Builder
	err := r.tmpl.Execute(&b, TemplateData{
		Text:       p.Text,
		URL:        p.URL,
		ID:         p.ID,
		ScreenName: p.ScreenName,
		CreatedAt:  p.CreatedAt,
	})
	if err != nil {
		return "", fmt.Errorf("render post %d: %w", p.ID, err)
	}
	return Truncate(SanitizeXML(b.String()), r.maxLength), nil
}

// SanitizeXML removes what XML 1.0 cannot carry: C0 controls other than
// tab, newline and carriage return, U+FFFE, U+FFFF, surrogates and invalid
// UTF-8 (which becomes U+FFFD). One such byte in a stanza would end the XMPP stream.
func SanitizeXML(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !xmlChar(r) }) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if xmlChar(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// xmlChar reports whether r matches the Char production of XML 1.0.
func xmlChar(r rune) bool {
	switch {
	case r == 0x09 || r == 0x0A || r == 0x0D:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// Truncate cuts s to at most max grapheme clusters, ending with Ellipsis
// when it cut anything. A cluster (a flag, a ZWJ emoji, a letter with
// combining marks) is never split. max <= 0 means no limit.
func Truncate(s string, max int) string {
	// Every cluster has at least one byte, so a short string always fits.
	if max <= 0 || len(s) <= max || uniseg.GraphemeClusterCount(s) <= max {
		return s
	}
	return truncateAt(s, max)
}

// truncateAt keeps max-1 clusters of s and appends Ellipsis.
func truncateAt(s string, max int) string {
	if max == 1 {
		return Ellipsis
	}
	g := uniseg.NewGraphemes(s)
	end := 0
	for i := 0; i < max-1 && g.Next(); i++ {
		_, end = g.Positions()
	}
	return strings.TrimRight(s[:end], " \t\n\r") + Ellipsis
}
