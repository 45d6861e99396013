package renren

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"unicode/utf8"

	"gosrc.io/xmpp/stanza"

	"github.com/r2sync/r2sync/daemon"
)

func TestSanitizeXMLOnTheWire(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"ascii", "hello", "hello"},
		{"markup is left to the encoder", "<b>&amp;</b>", "<b>&amp;</b>"},
		{"tab newline carriage return kept", "a\tb\nc\rd", "a\tb\nc\rd"},
		{"c0 controls dropped", "a\x00b\x01c\x08d\x0be\x0cf\x1fg", "abcdefg"},
		{"del and c1 kept (legal in xml 1.0)", "a\x7fb\u0085c", "a\x7fb\u0085c"},
		{"noncharacters fffe ffff dropped", "a\uFFFEb\uFFFFc", "abc"},
		{"real replacement character kept", "a\uFFFDb", "a\uFFFDb"},
		{"invalid utf-8 marked", "a\xffb\xc3c", "a\uFFFDb\uFFFDc"},
		{"encoded surrogate marked", "a\xed\xa0\x80b", "a\uFFFD\uFFFD\uFFFDb"},
		{"astral plane kept", "🚀𠀀", "🚀𠀀"},
		{"cjk kept", "人人网校内", "人人网校内"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := daemon.SanitizeXML(tt.in); got != tt.want {
				t.Errorf("daemon.SanitizeXML(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzXMLText checks, for daemon.SanitizeXML as renren uses it, that whatever a tweet contains, the status that goes
// on the wire is well-formed XML whose text is exactly the cleaned input.
func FuzzXMLText(f *testing.F) {
	for _, s := range []string{"", "hello", "a\x00b", "\uFFFE", "\xff\xfe", "</status></presence>", "\r\n", "]]>", "🚀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := daemon.SanitizeXML(in)
		if !utf8.ValidString(out) {
			t.Fatalf("daemon.SanitizeXML(%q) = %q: invalid utf-8", in, out)
		}
		if again := daemon.SanitizeXML(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}

		p := stanza.NewPresence(stanza.Attrs{})
		p.Status = out
		raw, err := xml.Marshal(p)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back struct {
			XMLName xml.Name
			Status  *string    `xml:"status"`
			Extra   []xml.Name `xml:",any"`
		}
		if err := xml.Unmarshal(raw, &back); err != nil {
			t.Fatalf("status %q gives malformed xml %q: %v", out, raw, err)
		}
		got := ""
		if back.Status != nil {
			got = *back.Status
		}
		if back.XMLName.Local != "presence" || len(back.Extra) != 0 || got != out {
			t.Fatalf("round trip of %q via %q = %q (extra %v)", out, raw, got, back.Extra)
		}
	})
}

// TestFeedMessageDecoding checks the <xfeed/> registration against the
// library's own stanza parser: the message decodes, its body stays empty
// although <xfeed> holds a <body>, and the payload is an xfeed.
func TestFeedMessageDecoding(t *testing.T) {
	registerExtensions()
	const stream = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>` +
		`<message from='feed.talk.renren.com@feed.talk.renren.com' to='123456@talk.xiaonei.com/r2sync'><body/>` +
		`<xfeed type='status' fid='1'><actor id='2'>人人小秘书</actor><body>leaked?</body>` +
		`<message>nested</message></xfeed></message>` +
		`<presence from='1@talk.xiaonei.com'/>`
	dec := xml.NewDecoder(strings.NewReader(stream))
	if _, err := stanza.InitStream(dec); err != nil {
		t.Fatal(err)
	}
	p, err := stanza.NextPacket(dec)
	if err != nil {
		t.Fatalf("NextPacket: %v", err)
	}
	m, ok := p.(stanza.Message)
	if !ok {
		t.Fatalf("got %T, want stanza.Message", p)
	}
	if m.Body != "" {
		t.Errorf("Body = %q, want empty", m.Body)
	}
	if m.From != feedJID {
		t.Errorf("From = %q", m.From)
	}
	var f *xfeed
	for _, e := range m.Extensions {
		if x, ok := e.(*xfeed); ok {
			f = x
		}
	}
	if f == nil || f.Type() != "status" || !bytes.Contains(f.Inner, []byte("人人小秘书")) {
		t.Fatalf("extensions = %#v, want the xfeed", m.Extensions)
	}
	// The stream is still in step: the next stanza decodes.
	if p, err := stanza.NextPacket(dec); err != nil {
		t.Fatalf("stanza after the feed: %v", err)
	} else if _, ok := p.(stanza.Presence); !ok {
		t.Fatalf("stanza after the feed = %T, want stanza.Presence", p)
	}
}
