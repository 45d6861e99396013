package renren

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
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

// maxProbeBytes bounds what a probe reads from a server.
const maxProbeBytes = 64 << 10

// errLoginStreamError marks a login that the server answered with a
// <stream:error/> instead of stream features. gosrc.io/xmpp reports that
// only as a decoding error and drops the error's content.
var errLoginStreamError = errors.New("server answered the login with a stream error")

// loginStreamError reports whether err, from a failed Connect, shows that
// the server sent a <stream:error/> during the login.
func loginStreamError(err error) bool {
	msg := err.Error()
	// Connect's own error: the features decoder met <stream:error>.
	// The library's read loop after a failed login: the first child of
	// <stream:error> is in the streams namespace, which it does not know.
	return strings.Contains(msg, "but have <error>") || strings.Contains(msg, "namespace "+nsStreams)
}

// probeStreamError opens a stream to addr as Dial does, with STARTTLS
// under the same certificate checks when the server offers it, and returns
// the <stream:error/> the server answers with, or nil when the server
// offers its features instead. It never authenticates: nothing secret is
// sent. gosrc.io/xmpp drops the host a <see-other-host/> names; this is how
// Dial learns it.
func probeStreamError(ctx context.Context, cfg config, addr string) (*StreamError, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", addr, err)
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var rw io.ReadWriter = nc
	secure := false
	for {
		// cfg.domain passed validHost: it holds no quote or markup.
		header := fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' xmlns:stream='%s' version='1.0'>", cfg.domain, nsStream)
		if _, err := io.WriteString(rw, header); err != nil {
			return nil, fmt.Errorf("probe %s: %w", addr, err)
		}
		dec := xml.NewDecoder(io.LimitReader(rw, maxProbeBytes))
		if _, err := nextStart(dec); err != nil { // <stream:stream>
			return nil, fmt.Errorf("probe %s: %w", addr, err)
		}
		el, err := nextStart(dec)
		if err != nil {
			return nil, fmt.Errorf("probe %s: %w", addr, err)
		}
		switch {
		case el.Name.Space == nsStream && el.Name.Local == "error":
			return decodeStreamError(dec, el)
		case el.Name.Space == nsStream && el.Name.Local == "features":
			var f struct {
				StartTLS *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
			}
			if err := dec.DecodeElement(&f, &el); err != nil {
				return nil, fmt.Errorf("probe %s: %w", addr, err)
			}
			if secure || f.StartTLS == nil {
				_, _ = io.WriteString(rw, "</stream:stream>")
				return nil, nil
			}
		default:
			return nil, fmt.Errorf("probe %s: unexpected <%s/>", addr, el.Name.Local)
		}
		if _, err := io.WriteString(rw, "<starttls xmlns='"+nsTLS+"'/>"); err != nil {
			return nil, fmt.Errorf("probe %s: %w", addr, err)
		}
		if el, err = nextStart(dec); err != nil || el.Name.Space != nsTLS || el.Name.Local != "proceed" {
			return nil, fmt.Errorf("probe %s: starttls refused", addr)
		}
		tc := tls.Client(nc, cfg.tlsConfig(func(error) {}))
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("probe %s: tls: %w", addr, err)
		}
		rw, secure = tc, true
	}
}

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
		se.Condition = c.XMLName.Local
		if c.XMLName.Local == "see-other-host" {
			se.Host = strings.TrimSpace(c.Text)
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
