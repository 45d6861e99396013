package renren

import (
	"encoding/xml"
	"strings"
	"unicode/utf8"

	"gosrc.io/xmpp/stanza"
)

// nsPing is XEP-0199 XMPP Ping.
const nsPing = "urn:xmpp:ping"

// feedJID sends Renren's news-feed notifications.
const feedJID = "feed.talk.renren.com@feed.talk.renren.com"

// xfeed is Renren's news-feed payload, a <message/> child. Its format was
// never published; it is kept as raw XML and only counted. It must be
// registered: gosrc.io/xmpp walks unknown message children token by token,
// so a <body> nested in <xfeed> would otherwise become the message body.
type xfeed struct {
	XMLName xml.Name
	Type    string `xml:"type,attr"`
	Inner   []byte `xml:",innerxml"`
}

// registerExtensions maps <xfeed/> in gosrc.io/xmpp's type registry. The
// registry is the library's global; mapping is idempotent and locked, so
// every Dial does it instead of an init side effect. Renren sent <xfeed/>
// without its own namespace, so it inherits jabber:client; the empty
// namespace covers a server that undeclares the default.
func registerExtensions() {
	for _, space := range []string{stanza.NSClient, ""} {
		stanza.TypeRegistry.MapExtension(stanza.PKTMessage, xml.Name{Space: space, Local: "xfeed"}, xfeed{})
	}
}

// ping is the XEP-0199 payload of an <iq type='get'/>.
type ping struct {
	XMLName xml.Name `xml:"urn:xmpp:ping ping"`
}

// Namespace implements stanza.IQPayload.
func (*ping) Namespace() string { return nsPing }

// GetSet implements stanza.IQPayload.
func (*ping) GetSet() *stanza.ResultSet { return nil }

// xmlText returns s without what XML 1.0 cannot carry: invalid UTF-8 and
// the characters outside the XML Char production (most C0 controls,
// U+FFFE, U+FFFF). One of them would make the server drop the stream;
// encoding/xml would turn them into U+FFFD, which is noise in a status.
func xmlText(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !xmlChar(r, n) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if xmlChar(r, n) {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// xmlChar reports whether the rune r, decoded from n bytes, is an XML 1.0
// Char. A RuneError of width 1 is an invalid byte, not a real U+FFFD.
func xmlChar(r rune, n int) bool {
	switch {
	case r == utf8.RuneError && n == 1:
		return false
	case r == 0x9 || r == 0xA || r == 0xD:
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
