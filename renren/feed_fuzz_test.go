package renren

import (
	"encoding/json"
	"encoding/xml"
	"reflect"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/renren/renrentest"
)

// FuzzParseFeed feeds arbitrary content to the <xfeed/> parser: it must
// never panic and must stay within its bounds; what it accepts survives
// the JSON of the feed log unchanged; and, where no name has a namespace
// prefix, writing the tree back as XML and parsing that again gives the
// same tree: nothing was lost.
func FuzzParseFeed(f *testing.F) {
	for _, s := range renrentest.FeedSamples {
		f.Add(innerXMLOf(s))
	}
	for _, s := range []string{"", "text only", "<a/><b/>", "</r2sync-xfeed><x>", "<![CDATA[x]]>&amp;<!--c--><?pi x?>",
		"<a xmlns='u' b='1'><c xmlns=''/></a>", "\r\n\t", "<a>&#0;</a>", strings.Repeat("<a>", 70) + strings.Repeat("</a>", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, inner string) {
		root, err := parseFeed(xml.Name{Local: "xfeed"}, nil, []byte(inner))
		if err != nil {
			if len(err.Error()) > maxErrorText+40 {
				t.Fatalf("error text of %d bytes", len(err.Error()))
			}
			return
		}
		if n := countNodes(root.Children, 1); n > maxFeedNodes {
			t.Fatalf("%d nodes", n)
		}
		b, err := json.Marshal(root)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back FeedNode
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		if !reflect.DeepEqual(back, root) {
			t.Fatalf("JSON round trip changed the tree:\n%+v\n%+v", root, back)
		}
		if strings.Contains(inner, ":") {
			return // prefixes: names are resolved, not kept
		}
		var w strings.Builder
		renderNodes(&w, root.Children)
		again, err := parseFeed(xml.Name{Local: "xfeed"}, nil, []byte(w.String()))
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", w.String(), inner, err)
		}
		if !reflect.DeepEqual(again.Children, root.Children) {
			t.Fatalf("tree lost something:\nin   %q\nout  %q\n%+v\n%+v", inner, w.String(), root.Children, again.Children)
		}
	})
}

func innerXMLOf(el string) string {
	open, end := strings.Index(el, ">"), strings.LastIndex(el, "</")
	if strings.HasSuffix(el, "/>") && strings.Count(el, "<") == 1 || end < open {
		return ""
	}
	return el[open+1 : end]
}

func countNodes(ns []FeedNode, depth int) int {
	n := 0
	for _, c := range ns {
		n += 1 + countNodes(c.Children, depth+1)
	}
	return n
}

// renderNodes writes a tree back as XML.
func renderNodes(w *strings.Builder, ns []FeedNode) {
	for _, n := range ns {
		switch {
		case n.Name != "":
			w.WriteString("<" + n.Name)
			for _, a := range n.Attrs {
				w.WriteString(" " + a.Name + "=\"")
				_ = xml.EscapeText(w, []byte(a.Value))
				w.WriteString("\"")
			}
			w.WriteString(">")
			renderNodes(w, n.Children)
			w.WriteString("</" + n.Name + ">")
		case n.Comment != nil:
			w.WriteString("<!--" + *n.Comment + "-->")
		case n.PI != "":
			w.WriteString("<?" + n.PI + "?>")
		default:
			_ = xml.EscapeText(w, []byte(n.Text))
		}
	}
}
