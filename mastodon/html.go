package mastodon

import (
	"strings"

	"golang.org/x/net/html"
)

// plainText turns a status's HTML content into the plain text of a
// status, the way Mastodon's own plain-text rendering reads: paragraphs
// are separated by a blank line and <br> is a line break. A link becomes
// its full href, because Mastodon shortens the visible text of long URLs
// by hiding parts of them in "invisible" and "ellipsis" spans; a hashtag
// or mention link keeps its visible text (#tag, @user), which is what the
// user typed. The tokenizer unescapes entities exactly once, so "&amp;lt;"
// stays "&lt;".
func plainText(content string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(content))
	var (
		inLink    bool // inside a link whose href replaced its text
		linkDepth int  // nested <a> inside that link
		pendingNL bool // a block ended; separate it from what follows
	)
	newline := func(s string) {
		if b.Len() > 0 {
			b.WriteString(s)
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			// io.EOF, or malformed input: what was read is the text.
			return strings.TrimSpace(b.String())
		case html.TextToken:
			if inLink {
				continue
			}
			if pendingNL {
				newline("\n\n")
				pendingNL = false
			}
			b.Write(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "br":
				if !inLink {
					if pendingNL {
						newline("\n\n")
						pendingNL = false
					}
					b.WriteByte('\n')
				}
			case "p", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol":
				if b.Len() > 0 {
					pendingNL = true
				}
			case "a":
				if inLink {
					linkDepth++
					continue
				}
				if tt == html.SelfClosingTagToken {
					continue
				}
				href, keepText := linkAttrs(z, hasAttr)
				if keepText || href == "" {
					continue
				}
				if pendingNL {
					newline("\n\n")
					pendingNL = false
				}
				b.WriteString(href)
				inLink, linkDepth = true, 0
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "a":
				if inLink {
					if linkDepth > 0 {
						linkDepth--
					} else {
						inLink = false
					}
				}
			case "p", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol":
				if b.Len() > 0 {
					pendingNL = true
				}
			}
		}
	}
}

// linkAttrs reads an <a>'s attributes: its href, and whether it is a
// hashtag or mention link, whose visible text is kept instead.
func linkAttrs(z *html.Tokenizer, more bool) (href string, keepText bool) {
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		switch string(k) {
		case "href":
			href = string(v)
		case "class":
			for _, c := range strings.Fields(string(v)) {
				if c == "mention" || c == "hashtag" {
					keepText = true
				}
			}
		case "rel":
			for _, r := range strings.Fields(string(v)) {
				if r == "tag" {
					keepText = true
				}
			}
		}
	}
	return href, keepText
}
