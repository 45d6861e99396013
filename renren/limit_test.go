package renren

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"gosrc.io/xmpp/stanza"
)

const testHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='talk.xiaonei.com' id='1' version='1.0'>"

func TestScanner(t *testing.T) {
	big := strings.Repeat("a", 300)
	tests := []struct {
		name string
		in   string
		want string // error text; "" for none
	}{
		{"stanzas under the limit", testHeader + "<message><body>" + big[:100] + "</body></message><iq type='result' id='1'/>", ""},
		{"many small stanzas add up to more", testHeader + strings.Repeat("<iq type='result' id='1'/>", 100), ""},
		{"whitespace keepalives between stanzas", testHeader + strings.Repeat(" <a/>", 100), ""},
		{"one stanza over", testHeader + "<message><body>" + big + "</body></message>", "server sent a stanza over 256 bytes"},
		{"attribute value over", testHeader + "<message a='" + big, "server sent a stanza over 256 bytes"},
		{"'>' inside an attribute value does not end the tag", testHeader + "<message a='>" + big + "'/>", "server sent a stanza over 256 bytes"},
		{"an end tag inside a comment ends nothing", testHeader + "<message><!-- </message> -->" + big, "server sent a stanza over 256 bytes"},
		{"an end tag inside CDATA ends nothing", testHeader + "<message><![CDATA[</message>]]>" + big, "server sent a stanza over 256 bytes"},
		{"comment between stanzas", testHeader + "<!--" + big, "server sent a stanza over 256 bytes"},
		{"processing instruction", testHeader + "<?pi " + big, "server sent a stanza over 256 bytes"},
		{"stream header over", "<stream:stream a='" + big, "server sent a stream header over 256 bytes"},
		{"nesting", testHeader + "<m><a><a><a><a>", "server sent a stanza nested over 4 elements deep"},
		{"nesting up to the limit", testHeader + "<m><a><a><a></a></a></a></m>", ""},
		{"attributes", testHeader + "<m" + strings.Repeat("'' ", maxAttributes+1), "server sent a stanza with over 64 attributes on one element"},
		{"doctype", testHeader + "<!DOCTYPE x>", "server sent a document type declaration (<!...>), which XMPP forbids"},
		{"stream close resets", testHeader + "</stream:stream>" + testHeader, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scanner{max: 256, maxDepth: 4}
			_, err := s.scan([]byte(tt.in))
			if tt.want == "" {
				if err != nil {
					t.Errorf("scan = %v, want no error", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("scan = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLimiterFailsTheRead(t *testing.T) {
	in := testHeader + "<message a='" + strings.Repeat("a", 1000)
	l := newLimiter(strings.NewReader(in), 256, 4)
	dec := xml.NewDecoder(l)
	var err error
	for err == nil {
		_, err = dec.Token()
	}
	var le *limitError
	if !errors.As(err, &le) || le.Error() != "server sent a stanza over 256 bytes" {
		t.Fatalf("decoder error = %v, want the limit", err)
	}
	if _, err := l.Read(make([]byte, 10)); !errors.As(err, &le) {
		t.Errorf("Read after the limit = %v, want the same error", err)
	}
}

// fuzzSeeds are the hostile cases and the ordinary streams the fuzz
// targets start from.
var fuzzSeeds = []string{
	testHeader + "<message a='" + strings.Repeat("a", 300),
	testHeader + "<message" + strings.Repeat("a", 300),
	testHeader + "<message><body>&foo;</body></message>",
	testHeader + "<message><body>\xff\xfe</body></message>",
	testHeader + "<message a='>' b=\"'<\"><![CDATA[</message>]]><!-- </message> --></message>",
	testHeader + "<?pi ?> <a/><b></b><c x='1'/>",
	testHeader + "<!DOCTYPE x [<!ENTITY a 'b'>]><a>&a;</a>",
	testHeader + "<m><a><a><a><a><a></a></a></a></a></a></m>",
	testHeader + "<m" + strings.Repeat(" a=''", 70) + "/>",
	testHeader + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>",
	testHeader + "<iq type='result' id='1' to='123456@talk.xiaonei.com/r2sync'/><iq type='get' id='2'><ping xmlns='urn:xmpp:ping'/></iq>",
	testHeader + "<message from='feed.talk.renren.com@feed.talk.renren.com' to='123456@talk.xiaonei.com/r2sync' id='x'><body/>" +
		"<xfeed type='status' fid='1'><actor id='200000001'>人人小秘书</actor><body>今天 &amp; 心情</body></xfeed></message>",
	testHeader + "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>h:5222</see-other-host></stream:error></stream:stream>",
	testHeader + "</stream:stream>",
	"<stream:stream/>",
	testHeader + "<!-- - -- -->",
	testHeader + "<a><![CDATA[ ]] ]]></a>",
}

// decoderView parses b as gosrc.io/xmpp's decoder does and returns where
// encoding/xml finishes each top-level item (the stream header, each
// stanza with whatever came before it), where it stopped, and what the
// limiter would have to refuse.
type decoderView struct {
	boundaries []int64 // offsets after the stream header and after each top-level element
	stop       int64   // bytes consumed when the decoder ended
	failed     bool    // ended with an error, not io.EOF
	maxDepth   int
	maxAttrs   int
	directive  bool
}

func viewOf(b []byte) decoderView {
	dec := xml.NewDecoder(bytes.NewReader(b))
	var v decoderView
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			v.stop, v.failed = dec.InputOffset(), err != io.EOF
			return v
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			v.maxDepth = max(v.maxDepth, depth)
			v.maxAttrs = max(v.maxAttrs, len(tok.Attr))
			if depth == 1 {
				v.boundaries = append(v.boundaries, dec.InputOffset())
			}
		case xml.EndElement:
			depth--
			if depth <= 1 {
				v.boundaries = append(v.boundaries, dec.InputOffset())
			}
		case xml.Directive:
			v.directive = true
		}
	}
}

// FuzzLimiter checks the limiter against encoding/xml itself on any bytes.
// Safety: an item (the bytes from one boundary of the decoder's to the
// next, or to where it stopped) longer than the limit is refused within
// the limit, so the scanner never resets its count where the decoder does
// not. Liveness: a stream whose items all fit, with no directive and
// within the depth and attribute bounds, is not refused before the
// decoder stops.
func FuzzLimiter(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint16(64))
		f.Add([]byte(s), uint16(1024))
	}
	f.Fuzz(func(t *testing.T, b []byte, limit uint16) {
		max := 16 + int(limit)%2048
		const depth = 4
		s := scanner{max: max, maxDepth: depth}
		var fail int64 = -1 // index of the byte refused
		var serr error
		for i := range b { // byte by byte, as the worst chunking
			if _, serr = s.scan(b[i : i+1]); serr != nil {
				fail = int64(i)
				break
			}
		}
		v := viewOf(b)
		start, fits := int64(0), true
		for _, end := range append(v.boundaries, v.stop) {
			if end-start > int64(max) {
				fits = false
				if fail < 0 || fail > start+int64(max) {
					t.Fatalf("item [%d,%d) of %d bytes passes a %d-byte limit (scanner failed at %d: %v)",
						start, end, end-start, max, fail, serr)
				}
			}
			start = end
		}
		var le *limitError
		if errors.As(serr, &le) && (le.syntax && v.directive || (le.syntax || le.shape) && v.failed) {
			// A directive; or bytes encoding/xml refuses too, or an
			// element it never finished and so could not count.
			return
		}
		if fits && !v.directive && v.maxDepth <= depth+1 && v.maxAttrs <= maxAttributes && fail >= 0 && fail < v.stop-1 {
			t.Fatalf("scanner refused byte %d (%v) of a stream encoding/xml reads up to %d", fail, serr, v.stop)
		}
	})
}

// FuzzReadPath runs the bytes a server may send through the whole read
// path: the transport's decoder (limiter included) and gosrc.io/xmpp's
// stanza decoding, as Client.recv does. Nothing may panic or hang.
func FuzzReadPath(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	registerExtensions()
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := newTransport(context.Background(), transportConfig{})
		tr.maxStanza = 4 << 10
		dec := tr.newDecoder(bytes.NewReader(b))
		if _, err := stanza.InitStream(dec); err != nil {
			return
		}
		for range len(b) + 1 { // each packet takes at least a byte
			if _, err := stanza.NextPacket(dec); err != nil {
				return
			}
		}
		t.Fatal("more packets than bytes")
	})
}
