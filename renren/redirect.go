package renren

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// XML namespaces of the stream layer (RFC 6120).
const (
	nsStream  = "http://etherx.jabber.org/streams"
	nsStreams = "urn:ietf:params:xml:ns:xmpp-streams"
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
)

// maxRedirects bounds how many <see-other-host/> redirects one Dial
// follows, so that two servers naming each other cannot loop.
const maxRedirects = 3

// errLoginStreamError marks a login that the server answered with a
// <stream:error/> after SASL, which gosrc.io/xmpp reports only as a
// decoding error, and whose content the tail no longer holds.
var errLoginStreamError = errors.New("server answered the login with a stream error")

// loginStreamError reports whether err, from a failed Connect, shows that
// the server sent a <stream:error/> during the library's part of the
// login (binding).
func loginStreamError(err error) bool {
	msg := err.Error()
	// Connect's own error: the features decoder met <stream:error>.
	// The library's read loop after a failed login: the first child of
	// <stream:error> is in the streams namespace, which it does not know.
	return strings.Contains(msg, "but have <error>") || strings.Contains(msg, "namespace "+nsStreams)
}

// tailBytes is how much of the stream the transport keeps: a
// <stream:error/> with a <see-other-host/> and its text fits many times.
const tailBytes = 4 << 10

// tailBuffer keeps the last tailBytes read from the server.
// gosrc.io/xmpp decodes a <stream:error/> into the condition's name alone
// and drops a <see-other-host/>'s host; the transport reads it back from
// here. Copying each read's last bytes costs nothing next to decoding.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) write(p []byte) {
	if len(p) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(p) >= tailBytes {
		b.buf = append(b.buf[:0], p[len(p)-tailBytes:]...)
		return
	}
	if keep := tailBytes - len(p); len(b.buf) > keep {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-keep:]...)
	}
	b.buf = append(b.buf, p...)
}

func (b *tailBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

// streamErrorFromTail finds the last <stream:error/> in what the server
// sent last and decodes it, or returns nil. Markup inside text is
// escaped and a CDATA section ends before the error, so the last start
// tag of that name is the error itself.
func streamErrorFromTail(tail []byte) *StreamError {
	i := bytes.LastIndex(tail, []byte("<stream:error"))
	for _, q := range []string{"'", `"`} {
		i = max(i, bytes.LastIndex(tail, []byte("<error xmlns="+q+nsStream+q)))
	}
	if i < 0 {
		return nil
	}
	doc := io.MultiReader(strings.NewReader("<stream:stream xmlns:stream='"+nsStream+"' xmlns='jabber:client'>"), bytes.NewReader(tail[i:]))
	dec := xml.NewDecoder(doc)
	if _, err := nextStart(dec); err != nil {
		return nil
	}
	el, err := nextStart(dec)
	if err != nil || el.Name.Space != nsStream || el.Name.Local != "error" {
		return nil
	}
	se, err := decodeStreamError(dec, el)
	if err != nil {
		return nil
	}
	return se
}

// streamError returns the stream error the server sent last, if the tail
// still holds it.
func (t *transport) streamError() *StreamError { return streamErrorFromTail(t.tail.bytes()) }

func nextStart(dec *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

// decodeStreamError reads the rest of a <stream:error/>.
func decodeStreamError(dec *xml.Decoder, start xml.StartElement) (*StreamError, error) {
	var raw struct {
		Children []struct {
			XMLName xml.Name
			Text    string `xml:",chardata"`
		} `xml:",any"`
	}
	if err := dec.DecodeElement(&raw, &start); err != nil {
		return nil, fmt.Errorf("decode stream error: %w", err)
	}
	se := &StreamError{Condition: "undefined-condition"}
	for _, c := range raw.Children {
		if c.XMLName.Space != nsStreams || c.XMLName.Local == "text" {
			continue
		}
		// Both go into errors and logs: keep them to what they can be.
		if lib, ok := libStreamError(errors.New("stream error: " + c.XMLName.Local)); ok {
			se.Condition = lib.Condition
		}
		if se.Condition == "see-other-host" {
			se.Host = strings.TrimSpace(c.Text)
			if len(se.Host) > 300 {
				se.Host = se.Host[:300]
			}
		}
		break
	}
	return se, nil
}

// redirectAddress turns the content of a <see-other-host/> ("host",
// "host:port", "[v6]:port" or "[v6]") into an address to dial; the port
// defaults to 5222.
func redirectAddress(target string) (string, bool) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(target, "["), "]"), "5222"
	}
	if !validHost(host) {
		return "", false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", false
	}
	return net.JoinHostPort(host, port), true
}
