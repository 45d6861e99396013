package renrentest

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// XML namespaces the emulated server speaks.
const (
	nsStream  = "http://etherx.jabber.org/streams"
	nsClient  = "jabber:client"
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsStreams = "urn:ietf:params:xml:ns:xmpp-streams"
	nsPing    = "urn:xmpp:ping"
)

// maxStanzaBytes bounds what one top-level element may take, so that a
// client cannot make the server buffer without limit.
const maxStanzaBytes = 1 << 20

// errStreamEnd reports that the client closed its stream with </stream:stream>.
var errStreamEnd = errors.New("client closed the stream")

// streamError is a condition that ends the stream with <stream:error/>.
// violation, when set, is recorded as a protocol violation by the client.
type streamError struct {
	condition string
	violation string
}

func (e *streamError) Error() string {
	if e.violation != "" {
		return e.condition + ": " + e.violation
	}
	return e.condition
}

// element is one decoded XML element with everything inside it.
type element struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []element  `xml:",any"`
}

// is reports whether e is the element local in namespace space.
func (e *element) is(space, local string) bool {
	return e.XMLName.Space == space && e.XMLName.Local == local
}

// attr returns the value of the unqualified attribute local, or "".
func (e *element) attr(local string) string {
	for _, a := range e.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// child returns the first child element local in namespace space, or nil.
func (e *element) child(space, local string) *element {
	for i := range e.Children {
		if e.Children[i].is(space, local) {
			return &e.Children[i]
		}
	}
	return nil
}

// describe names e for violation messages, e.g. "<auth xmlns='…sasl'>".
func (e *element) describe() string {
	return fmt.Sprintf("<%s xmlns='%s'>", e.XMLName.Local, e.XMLName.Space)
}

// limitReader fails once the budget of the current stanza is spent, and
// remembers whether the transport underneath failed, which tells a client
// that hung up apart from one that sent malformed XML.
type limitReader struct {
	r       io.Reader
	left    int64
	readErr error
}

var errTooLarge = errors.New("stanza too large")

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if err != nil {
		l.readErr = err
	}
	return n, err
}

// reader decodes one XMPP stream. restart begins a new stream on the same
// transport, as RFC 6120 requires after SASL success.
type reader struct {
	lim *limitReader
	buf *bufio.Reader
	dec *xml.Decoder
}

func newReader(r io.Reader) *reader {
	lim := &limitReader{r: r, left: maxStanzaBytes}
	rd := &reader{lim: lim, buf: bufio.NewReader(lim)}
	rd.restart()
	return rd
}

// restart discards the XML parser state. The bufio.Reader is kept (it is an
// io.ByteReader, so the decoder reads from it without its own buffer) and
// no byte already received is lost.
func (r *reader) restart() {
	r.dec = xml.NewDecoder(r.buf)
	r.dec.Strict = true
}

// buffered reports how many received bytes are not parsed yet.
func (r *reader) buffered() int { return r.buf.Buffered() }

// openStream reads a stream header and returns its start tag.
func (r *reader) openStream() (xml.StartElement, error) {
	r.lim.left = maxStanzaBytes
	first := true
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return xml.StartElement{}, r.classify(err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if !first || t.Target != "xml" {
				return xml.StartElement{}, restricted("processing instruction")
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return xml.StartElement{}, restricted("text before the stream header")
			}
		case xml.StartElement:
			if t.Name.Space != nsStream || t.Name.Local != "stream" {
				return xml.StartElement{}, &streamError{condition: "invalid-namespace",
					violation: fmt.Sprintf("stream opened with <%s xmlns='%s'>", t.Name.Local, t.Name.Space)}
			}
			return t, nil
		case xml.EndElement:
			// The decoder rejects an end tag without a start tag; not reached.
			return xml.StartElement{}, restricted("end tag before the stream header")
		default: // comments and directives (DTDs) are forbidden in XMPP
			return xml.StartElement{}, restricted(fmt.Sprintf("%T", tok))
		}
		first = false
	}
}

// next returns the next top-level element of the stream, errStreamEnd at
// </stream:stream>, a *streamError for input the server refuses, or the
// transport's error.
func (r *reader) next() (*element, error) {
	r.lim.left = maxStanzaBytes
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return nil, r.classify(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			el := new(element)
			if err := r.dec.DecodeElement(el, &t); err != nil {
				return nil, r.classify(err)
			}
			return el, nil
		case xml.EndElement:
			// Strict decoding guarantees that this closes the stream.
			return nil, errStreamEnd
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 { // whitespace keepalives are fine
				return nil, restricted("text between stanzas")
			}
		default:
			return nil, restricted(fmt.Sprintf("%T", tok))
		}
	}
}

// classify turns a decoding error into a transport error (the client hung
// up: not its fault) or a stream error that records a violation.
func (r *reader) classify(err error) error {
	switch {
	case errors.Is(err, errTooLarge) || errors.Is(r.lim.readErr, errTooLarge):
		return &streamError{condition: "policy-violation",
			violation: fmt.Sprintf("stanza larger than %d bytes", maxStanzaBytes)}
	case r.lim.readErr != nil:
		return r.lim.readErr
	}
	return &streamError{condition: "not-well-formed", violation: "malformed xml: " + err.Error()}
}

func restricted(what string) *streamError {
	return &streamError{condition: "restricted-xml", violation: "restricted xml: " + what}
}

// esc escapes s for use in XML text and in attribute values quoted with '.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // writes to a strings.Builder never fail
	return b.String()
}
