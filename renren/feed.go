package renren

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap/zapcore"
)

// Bounds on one <xfeed/> beyond the stanza limits of the transport.
const (
	maxFeedNodes = 10000
	maxFeedDepth = 64
)

// FeedEvent is one Renren news-feed notification: the <xfeed/> child of a
// <message/> from feed.talk.renren.com@feed.talk.renren.com. Renren never
// published the format, so nothing of it is interpreted or dropped: Feed
// holds every attribute and child in order, and XML the element's content
// byte for byte as received (CDATA sections and character references
// included). It is one JSON object per line in Options.FeedLog.
type FeedEvent struct {
	// Received is when the session decoded the message.
	Received time.Time `json:"received"`
	// From, To and ID are the message's attributes.
	From string `json:"from"`
	To   string `json:"to,omitempty"`
	ID   string `json:"id,omitempty"`
	// Feed is the <xfeed/> element.
	Feed FeedNode `json:"xfeed"`
	// XML is the content of <xfeed/> as the server sent it.
	XML string `json:"xml"`
}

// FeedNode is an element, a run of text, a comment or a processing
// instruction inside an <xfeed/>. Exactly one of Name, Text, Comment and
// PI is set. Text is the character data with references resolved; CDATA
// sections and plain text next to each other make one Text.
type FeedNode struct {
	Name     string     `json:"name,omitempty"` // element: local name
	Space    string     `json:"ns,omitempty"`   // element: namespace, or the prefix if undeclared
	Attrs    []FeedAttr `json:"attrs,omitempty"`
	Children []FeedNode `json:"children,omitempty"`
	Text     string     `json:"text,omitempty"`
	Comment  *string    `json:"comment,omitempty"` // a pointer: a comment may be empty
	PI       string     `json:"pi,omitempty"`      // "target instruction"
}

// FeedAttr is one attribute, namespace declarations included.
type FeedAttr struct {
	Name  string `json:"name"`
	Space string `json:"ns,omitempty"`
	Value string `json:"value"`
}

// Attr returns the value of the attribute local without a namespace.
func (n *FeedNode) Attr(local string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Space == "" && a.Name == local {
			return a.Value, true
		}
	}
	return "", false
}

// parseFeed builds the node of an <xfeed/> from its start tag's name and
// attributes and its raw content. Anything encoding/xml refuses, more than
// maxFeedNodes nodes or nesting deeper than maxFeedDepth is an error: the
// event is skipped.
func parseFeed(name xml.Name, attrs []xml.Attr, inner []byte) (FeedNode, error) {
	root := FeedNode{Name: name.Local, Space: name.Space, Attrs: feedAttrs(attrs)}
	if !utf8.Valid(inner) {
		return FeedNode{}, errors.New("xfeed: not UTF-8")
	}
	// The content is a fragment: wrap it so that the decoder sees one
	// document, and make sure nothing closes the wrapper early.
	const open, end = "<r2sync-xfeed>", "</r2sync-xfeed>"
	dec := xml.NewDecoder(io.MultiReader(strings.NewReader(open), bytes.NewReader(inner), strings.NewReader(end)))
	if _, err := dec.Token(); err != nil {
		return FeedNode{}, fmt.Errorf("xfeed: %w", err)
	}
	nodes := 0
	stack := []*FeedNode{&root}
	for {
		tok, err := dec.Token()
		if err != nil {
			return FeedNode{}, fmt.Errorf("xfeed: %w", shorten(err))
		}
		cur := stack[len(stack)-1]
		if _, ok := tok.(xml.EndElement); !ok {
			if nodes++; nodes > maxFeedNodes {
				return FeedNode{}, fmt.Errorf("xfeed: more than %d nodes", maxFeedNodes)
			}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxFeedDepth {
				return FeedNode{}, fmt.Errorf("xfeed: nested deeper than %d", maxFeedDepth)
			}
			cur.Children = append(cur.Children, FeedNode{Name: t.Name.Local, Space: t.Name.Space, Attrs: feedAttrs(t.Attr)})
			stack = append(stack, &cur.Children[len(cur.Children)-1])
		case xml.EndElement:
			if len(stack) == 1 {
				if t.Name.Local != "r2sync-xfeed" {
					return FeedNode{}, errors.New("xfeed: unbalanced content")
				}
				if _, err := dec.Token(); err != io.EOF {
					return FeedNode{}, errors.New("xfeed: unbalanced content")
				}
				return root, nil
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if k := len(cur.Children); k > 0 && cur.Children[k-1].Name == "" && cur.Children[k-1].Text != "" {
				cur.Children[k-1].Text += string(t) // text and CDATA side by side
				nodes--
			} else if len(t) > 0 {
				cur.Children = append(cur.Children, FeedNode{Text: string(t)})
			}
		case xml.Comment:
			c := string(t)
			cur.Children = append(cur.Children, FeedNode{Comment: &c})
		case xml.ProcInst:
			cur.Children = append(cur.Children, FeedNode{PI: strings.TrimSpace(t.Target + " " + string(t.Inst))})
		case xml.Directive:
			return FeedNode{}, errors.New("xfeed: directive")
		}
	}
}

func feedAttrs(attrs []xml.Attr) []FeedAttr {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]FeedAttr, len(attrs))
	for i, a := range attrs {
		out[i] = FeedAttr{Name: a.Name.Local, Space: a.Name.Space, Value: a.Value}
	}
	return out
}

// Line renders the event for a person, on one line: when, the <xfeed/>
// attributes, then each piece of text under the path of elements it is
// in, e.g. "2010-05-01 12:00:00 type=status fid=9 | actor: 人人小秘书 |
// title: 你的好友更新了状态".
func (e FeedEvent) Line() string {
	var b strings.Builder
	b.WriteString(e.Received.Local().Format("2006-01-02 15:04:05"))
	writeAttrs(&b, e.Feed.Attrs)
	n := b.Len()
	writeTexts(&b, e.Feed.Children, "")
	if b.Len() == n && len(e.Feed.Attrs) == 0 {
		b.WriteString(" (empty)")
	}
	return b.String()
}

func writeAttrs(b *strings.Builder, attrs []FeedAttr) {
	for _, a := range attrs {
		if a.Space == "xmlns" || a.Name == "xmlns" && a.Space == "" {
			continue
		}
		fmt.Fprintf(b, " %s=%s", a.Name, oneLine(a.Value))
	}
}

func writeTexts(b *strings.Builder, nodes []FeedNode, path string) {
	for _, n := range nodes {
		switch {
		case n.Name != "":
			p := n.Name
			if path != "" {
				p = path + "/" + n.Name
			}
			if len(n.Attrs) > 0 {
				b.WriteString(" | " + p)
				writeAttrs(b, n.Attrs)
			}
			writeTexts(b, n.Children, p)
		case strings.TrimSpace(n.Text) != "":
			b.WriteString(" | ")
			if path != "" {
				b.WriteString(path + ": ")
			}
			b.WriteString(oneLine(n.Text))
		}
	}
}

// oneLine folds runs of white space (newlines included) into one space and
// drops control characters, so that a feed cannot forge lines of output.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			space = true
			continue
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == 0x2028 || r == 0x2029:
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// MarshalLogObject logs an element with its attributes and, to a few
// levels, its children, for the info line of each feed event.
func (n FeedNode) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	return n.marshalLog(enc, 0)
}

func (n FeedNode) marshalLog(enc zapcore.ObjectEncoder, depth int) error {
	switch {
	case n.Name != "":
		enc.AddString("name", n.Name)
		for _, a := range n.Attrs {
			enc.AddString("@"+a.Name, a.Value)
		}
		if len(n.Children) > 0 && depth < 4 {
			return enc.AddArray("children", zapcore.ArrayMarshalerFunc(func(ae zapcore.ArrayEncoder) error {
				for i, c := range n.Children {
					if i == 32 {
						ae.AppendString(fmt.Sprintf("… %d more", len(n.Children)-i))
						break
					}
					if c.Name == "" && strings.TrimSpace(c.Text) == "" && c.Comment == nil && c.PI == "" {
						continue // white space between elements
					}
					if err := ae.AppendObject(zapcore.ObjectMarshalerFunc(func(oe zapcore.ObjectEncoder) error {
						return c.marshalLog(oe, depth+1)
					})); err != nil {
						return err
					}
				}
				return nil
			}))
		}
	case n.Comment != nil:
		enc.AddString("comment", *n.Comment)
	case n.PI != "":
		enc.AddString("pi", n.PI)
	default:
		enc.AddString("text", n.Text)
	}
	return nil
}
