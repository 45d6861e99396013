package renren

import (
	"encoding/xml"

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
