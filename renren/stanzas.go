package renren

import (
	"encoding/xml"
	"time"

	"gosrc.io/xmpp/stanza"
)

// nsPing is XEP-0199 XMPP Ping.
const nsPing = "urn:xmpp:ping"

// feedJID sends Renren's news-feed notifications.
const feedJID = "feed.talk.renren.com@feed.talk.renren.com"

// xfeed is Renren's news-feed payload, a <message/> child, as received:
// its name, attributes and raw content, and its place in the stream. It
// must be registered: gosrc.io/xmpp walks unknown message children token
// by token, so a <body> nested in <xfeed> would otherwise become the
// message body.
type xfeed struct {
	XMLName  xml.Name
	Attrs    []xml.Attr
	Inner    []byte
	Received time.Time
	seq      *feedSeq // the session's, or nil for a decoder of no session
	ticket   uint64
}

// UnmarshalXML decodes the element and takes a ticket from the session
// the decoder belongs to. The library decodes stanzas one after another
// on one goroutine but hands each to the router on a goroutine of its
// own; the ticket restores the stream's order (see feedSeq).
func (x *xfeed) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Attrs []xml.Attr `xml:",any,attr"`
		Inner []byte     `xml:",innerxml"`
	}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	x.XMLName, x.Attrs, x.Inner, x.Received = start.Name, raw.Attrs, raw.Inner, time.Now()
	if seq := feedSeqOf(d); seq != nil {
		x.seq, x.ticket = seq, seq.take()
	}
	return nil
}

// Type returns the type attribute, which Renren's payloads carried.
func (x *xfeed) Type() string {
	for _, a := range x.Attrs {
		if a.Name.Space == "" && a.Name.Local == "type" {
			return a.Value
		}
	}
	return ""
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
