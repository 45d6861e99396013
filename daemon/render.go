package daemon

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// Ellipsis ends a status that was cut to fit.
const Ellipsis = "…"

// RenderTimeout bounds one render of the status template, at start-up on
// a sample post and for every real post, so that a template that loops
// cannot hang start-up or wedge the poller.
const RenderTimeout = time.Second

// MaxRenderBytes bounds a template's output; a render that writes more
// stops with an error instead of filling memory.
const MaxRenderBytes = 256 << 10

// errSlow and errLong are the two bounds a render can hit; errBusy
// refuses a render while one that hit errSlow still runs.
var (
	errSlow = errors.New("template takes too long")
	errLong = fmt.Errorf("template output exceeds %d KiB", MaxRenderBytes>>10)
	errBusy = errors.New("an earlier render of the template is still running past its time limit")
)

// Renderer turns a post into status text: the template, the sink's
// cleaning when it has one (see Sanitizer), then truncation to a number
// of user-perceived characters. It knows neither the source nor the sink.
// It is safe for concurrent use.
type Renderer struct {
	tmpl      *template.Template
	maxLength int
	timeout   time.Duration
	// overrun is set while a render that ran out of time still runs:
	// text/template cannot be cancelled, so its goroutine runs on until
	// the template ends by itself. Meanwhile every render fails at once,
	// so that at most one goroutine is ever lost to a runaway template.
	overrun atomic.Bool
}

// TemplateData is what a status template sees.
type TemplateData struct {
	Text      string
	URL       string
	ID        string
	Author    string
	CreatedAt time.Time
	// ScreenName is Author under the name templates written for Twitter
	// use.
	ScreenName string
}

// NewRenderer parses the status template and tries it once on a sample
// post, so that a template naming an unknown field fails here and not on
// the first post, and one that takes over RenderTimeout on the sample is
// refused. maxLength counts grapheme clusters; 0 means no limit.
func NewRenderer(tmpl string, maxLength int) (*Renderer, error) {
	return newRenderer(tmpl, maxLength, RenderTimeout)
}

func newRenderer(tmpl string, maxLength int, timeout time.Duration) (*Renderer, error) {
	t, err := template.New("status").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, err
	}
	if maxLength < 0 {
		return nil, fmt.Errorf("max length must not be negative (got %d)", maxLength)
	}
	r := &Renderer{tmpl: t, maxLength: maxLength, timeout: timeout}
	_, err = r.execute(TemplateData{Text: "sample", URL: "https://example.org/@r2sync/1", ID: "1", Author: "r2sync", ScreenName: "r2sync"})
	if errors.Is(err, errSlow) {
		return nil, fmt.Errorf("template takes over %s on a sample post", timeout)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Render returns the status text for p: the template's output, cleaned
// by clean (the sink's Sanitize, nil for none) so that what the sink
// drops does not count toward the length, then truncated.
func (r *Renderer) Render(p Post, clean func(string) string) (string, error) {
	s, err := r.execute(TemplateData{
		Text:       p.Text,
		URL:        p.URL,
		ID:         p.ID,
		Author:     p.Author,
		ScreenName: p.Author,
		CreatedAt:  p.CreatedAt,
	})
	if errors.Is(err, errSlow) {
		return "", fmt.Errorf("render post %s: template takes over %s", p.ID, r.timeout)
	}
	if err != nil {
		return "", fmt.Errorf("render post %s: %w", p.ID, err)
	}
	if clean != nil {
		s = clean(s)
	}
	return Truncate(s, r.maxLength), nil
}

// execute runs the template on d within r.timeout and MaxRenderBytes.
func (r *Renderer) execute(d TemplateData) (string, error) {
	if r.overrun.Load() {
		return "", errBusy
	}
	type result struct {
		text string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		w := &cappedWriter{max: MaxRenderBytes}
		err := r.tmpl.Execute(w, d)
		done <- result{w.b.String(), err}
	}()
	t := time.NewTimer(r.timeout)
	defer t.Stop()
	select {
	case res := <-done:
		return res.text, res.err
	case <-t.C:
		r.overrun.Store(true)
		go func() {
			<-done
			r.overrun.Store(false)
		}()
		return "", errSlow
	}
}

// cappedWriter collects at most max bytes and then fails, which stops
// text/template's Execute.
type cappedWriter struct {
	b   strings.Builder
	max int
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, errLong
	}
	return w.b.Write(p)
}

// SanitizeXML removes what XML 1.0 cannot carry: C0 controls other than
// tab, newline and carriage return, U+FFFE, U+FFFF, surrogates and invalid
// UTF-8 (which becomes U+FFFD). One such byte in a stanza would end the
// XMPP stream. It is the XMPP sink's rule, kept here until renren owns it;
// the Renderer applies it only through a sink's Sanitizer.
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
