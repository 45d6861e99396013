package renren

import (
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.uber.org/zap"
	"gosrc.io/xmpp/stanza"
)

// XML namespaces of the login (RFC 6120, XEP-0440).
const (
	nsSASL      = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsChannelCB = "urn:xmpp:sasl-cb:0"
)

// errNoStartTLS is a plain stream without STARTTLS: renren never logs in
// without TLS.
var errNoStartTLS = errors.New("the server does not offer STARTTLS; refusing to log in without TLS")

// authConfig is what the transport needs to log in.
type authConfig struct {
	user, password string
	mechanisms     []string // allowed, most preferred first
	log            *zap.Logger
}

// rawElement is one decoded element of the login, with its children.
type rawElement struct {
	XMLName  xml.Name
	Attrs    []xml.Attr   `xml:",any,attr"`
	Text     string       `xml:",chardata"`
	Children []rawElement `xml:",any"`
}

func (e *rawElement) is(space, local string) bool {
	return e.XMLName.Space == space && e.XMLName.Local == local
}

func (e *rawElement) child(space, local string) *rawElement {
	for i := range e.Children {
		if e.Children[i].is(space, local) {
			return &e.Children[i]
		}
	}
	return nil
}

// features are the stream features the login looks at.
type features struct {
	startTLS   bool
	mechanisms []string
	cbTypes    []string // XEP-0440 channel-binding types; nil if not sent
}

func parseFeatures(el *rawElement) features {
	var f features
	f.startTLS = el.child(nsTLS, "starttls") != nil
	if m := el.child(nsSASL, "mechanisms"); m != nil {
		for _, c := range m.Children {
			if c.is(nsSASL, "mechanism") {
				f.mechanisms = append(f.mechanisms, strings.TrimSpace(c.Text))
			}
		}
	}
	if cb := el.child(nsChannelCB, "sasl-channel-binding"); cb != nil {
		f.cbTypes = []string{}
		for _, c := range cb.Children {
			if c.is(nsChannelCB, "channel-binding") {
				for _, a := range c.Attrs {
					if a.Name.Local == "type" {
						f.cbTypes = append(f.cbTypes, a.Value)
					}
				}
			}
		}
	}
	return f
}

// negotiate runs the login on a fresh connection up to SASL success:
// direct TLS or STARTTLS, then SASL, and leaves the library's view of the
// stream in place.
func (t *transport) negotiate() (string, error) {
	if t.directTLS {
		if err := t.handshake(); err != nil {
			return "", fmt.Errorf("tls handshake: %w", err)
		}
	}
	for {
		id, f, err := t.openStream()
		if err != nil {
			return "", err
		}
		if !t.IsSecure() {
			if !f.startTLS {
				return "", errNoStartTLS
			}
			if err := t.startTLS(); err != nil {
				return "", err
			}
			continue
		}
		if err := t.authenticate(f); err != nil {
			return "", err
		}
		t.showLibrary()
		return id, nil
	}
}

// openStream sends a stream header and reads the server's header and
// features. A <stream:error/> instead comes back as a *StreamError.
func (t *transport) openStream() (string, features, error) {
	if _, err := fmt.Fprintf(t, streamHeader, t.domain); err != nil {
		return "", features{}, fmt.Errorf("open stream: %w", err)
	}
	t.mu.Lock()
	conn := t.conn
	t.mu.Unlock()
	dec := t.newDecoder(conn)
	t.mu.Lock()
	t.dec = dec
	t.mu.Unlock()
	id, err := stanza.InitStream(dec)
	if err != nil {
		return "", features{}, fmt.Errorf("open stream: %w", t.why(err))
	}
	t.mu.Lock()
	t.open = true
	t.mu.Unlock()
	el, err := t.next()
	if err != nil {
		return "", features{}, fmt.Errorf("read stream features: %w", err)
	}
	if !el.is(nsStream, "features") {
		return "", features{}, fmt.Errorf("read stream features: got <%s/>", el.XMLName.Local)
	}
	return id, parseFeatures(el), nil
}

// next reads the next top-level element of the login. A stream error
// comes back as a *StreamError.
func (t *transport) next() (*rawElement, error) {
	t.mu.Lock()
	dec := t.dec
	t.mu.Unlock()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, t.why(err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Space == nsStream && tok.Name.Local == "error" {
				se, err := decodeStreamError(dec, tok)
				if err != nil {
					return nil, t.why(err)
				}
				return nil, se
			}
			el := new(rawElement)
			if err := dec.DecodeElement(el, &tok); err != nil {
				return nil, t.why(err)
			}
			return el, nil
		case xml.EndElement:
			return nil, errServerClosedStream
		}
	}
}

// startTLS asks for TLS and upgrades the connection.
func (t *transport) startTLS() error {
	if _, err := io.WriteString(t, "<starttls xmlns='"+nsTLS+"'/>"); err != nil {
		return fmt.Errorf("starttls: %w", err)
	}
	el, err := t.next()
	switch {
	case err != nil:
		return fmt.Errorf("starttls: %w", err)
	case !el.is(nsTLS, "proceed"):
		return fmt.Errorf("starttls: the server answered <%s/>", el.XMLName.Local)
	}
	if err := t.handshake(); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	return nil
}

// authenticate logs in with the best mechanism both sides allow. It
// refuses to run before TLS: PLAIN would send the password in clear text.
func (t *transport) authenticate(f features) error {
	t.mu.Lock()
	tc, _ := t.conn.(*tls.Conn)
	t.mu.Unlock()
	if tc == nil || !t.IsSecure() {
		return errors.New("refusing to authenticate without TLS")
	}
	cs := tc.ConnectionState()
	cb := channelBinding(cs, f.cbTypes)
	mech, err := chooseMechanism(t.auth.mechanisms, f.mechanisms, cb)
	t.auth.log.Debug("sasl", zap.Strings("offered", cleanNames(f.mechanisms)), zap.String("mechanism", mech),
		zap.String("tls", tlsVersionName(cs.Version)), zap.String("channel_binding", string(cb.Type)))
	if err != nil {
		return err
	}
	if h, plus, ok := scramHash(mech); ok {
		err = t.scramLogin(mech, h, plus, cb, slices.Contains(f.mechanisms, mech+"-PLUS"))
	} else {
		err = t.plain()
	}
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.mechanism = mech
	if _, plus, _ := scramHash(mech); plus {
		t.binding = string(cb.Type)
	}
	t.mu.Unlock()
	return nil
}
