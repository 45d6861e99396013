package renren

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/xdg-go/scram"
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

// plain is SASL PLAIN (RFC 4616) without an authorization identity.
func (t *transport) plain() error {
	msg := base64.StdEncoding.EncodeToString([]byte("\x00" + t.auth.user + "\x00" + t.auth.password))
	if err := t.saslSend("auth", mechPlain, msg); err != nil {
		return err
	}
	el, err := t.saslNext()
	if err != nil {
		return err
	}
	if !el.is(nsSASL, "success") {
		return fmt.Errorf("sasl: unexpected <%s/>", el.XMLName.Local)
	}
	return nil
}

// scramLogin runs a SCRAM conversation (RFC 5802). The server's final message
// proves that it knows the password too; a login without it fails.
// offeredPlus says whether the server offered the -PLUS variant, which
// decides the GS2 flag of a conversation without binding: "y" (I could
// bind, you did not offer it: a stripped -PLUS fails the login) only when
// it did not, "n" otherwise.
func (t *transport) scramLogin(mech string, h scram.HashGeneratorFcn, plus bool, cb scram.ChannelBinding, offeredPlus bool) error {
	client, err := h.NewClient(t.auth.user, t.auth.password, "")
	if err != nil {
		return fmt.Errorf("sasl %s: %w", mech, err) // SASLprep refused the name or password; neither is in the text
	}
	var conv *scram.ClientConversation
	switch {
	case plus:
		conv = client.NewConversationWithChannelBinding(cb)
	case cb.IsSupported() && !offeredPlus:
		conv = client.NewConversationAdvertisingChannelBinding()
	default:
		conv = client.NewConversation()
	}
	first, err := conv.Step("")
	if err != nil {
		return fmt.Errorf("sasl %s: %w", mech, err)
	}
	if err := t.saslSend("auth", mech, base64.StdEncoding.EncodeToString([]byte(first))); err != nil {
		return err
	}
	// The server's messages: server-first in a challenge, then
	// server-final either in the <success/> or (RFC 6120 6.3.10) in a
	// second challenge that an empty response acknowledges.
	for step := 0; ; {
		el, err := t.saslNext()
		if err != nil {
			return err
		}
		data, ok := saslData(el.Text)
		if !ok {
			return fmt.Errorf("sasl %s: the server's <%s/> is not base64", mech, el.XMLName.Local)
		}
		switch {
		case el.is(nsSASL, "challenge") && step == 0:
			if err := checkIterations(string(data)); err != nil {
				return fmt.Errorf("sasl %s: %w", mech, err)
			}
			resp, err := conv.Step(string(data))
			if err != nil {
				return fmt.Errorf("sasl %s: %w", mech, err)
			}
			if err := t.saslSend("response", "", base64.StdEncoding.EncodeToString([]byte(resp))); err != nil {
				return err
			}
			step = 1
		case el.is(nsSASL, "challenge") && step == 1:
			if _, err := conv.Step(string(data)); err != nil {
				return fmt.Errorf("sasl %s: %w", mech, err)
			}
			if err := t.saslSend("response", "", ""); err != nil {
				return err
			}
			step = 2
		case el.is(nsSASL, "success") && step > 0:
			if step == 1 && len(data) == 0 {
				return fmt.Errorf("sasl %s: the server did not prove that it knows the password", mech)
			}
			if step == 1 {
				if _, err := conv.Step(string(data)); err != nil {
					return fmt.Errorf("sasl %s: %w", mech, err)
				}
			}
			if !conv.Valid() {
				return fmt.Errorf("sasl %s: the server did not prove that it knows the password", mech)
			}
			return nil
		default:
			return fmt.Errorf("sasl %s: unexpected <%s/>", mech, el.XMLName.Local)
		}
	}
}

// maxSCRAMIterations bounds the PBKDF2 work a server may ask for. The
// derivation runs on the CPU and no deadline stops it, so a hostile
// server's i=2000000000 would take the process for minutes; a million is
// some 0.2 to 0.5 s here and 250 times what Prosody and ejabberd ask.
const maxSCRAMIterations = 1_000_000

// checkIterations refuses a server-first message that asks for more than
// maxSCRAMIterations; the SCRAM library checks the rest.
func checkIterations(serverFirst string) error {
	for _, attr := range strings.Split(serverFirst, ",") {
		if v, ok := strings.CutPrefix(attr, "i="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > maxSCRAMIterations {
				return fmt.Errorf("the server asks for %d PBKDF2 iterations; more than %d are refused", n, maxSCRAMIterations)
			}
		}
	}
	return nil
}

// saslData decodes the base64 content of a SASL element; "=" and nothing
// both mean no data.
func saslData(text string) ([]byte, bool) {
	text = strings.TrimSpace(text)
	if text == "" || text == "=" {
		return nil, true
	}
	b, err := base64.StdEncoding.DecodeString(text)
	return b, err == nil
}

// saslSend writes a SASL element: <auth mechanism=.../> or <response/>.
// data is base64 already; it is never logged.
func (t *transport) saslSend(name, mech, data string) error {
	var b strings.Builder
	b.WriteString("<" + name + " xmlns='" + nsSASL + "'")
	if mech != "" {
		b.WriteString(" mechanism='" + mech + "'") // one of ours: no quoting needed
	}
	if data == "" {
		b.WriteString("/>")
	} else {
		b.WriteString(">" + data + "</" + name + ">")
	}
	if _, err := io.WriteString(t, b.String()); err != nil {
		return fmt.Errorf("sasl: %w", err)
	}
	return nil
}

// saslNext reads the server's next SASL element; a <failure/> comes back
// as a *saslError.
func (t *transport) saslNext() (*rawElement, error) {
	el, err := t.next()
	if err != nil {
		return nil, fmt.Errorf("sasl: %w", err)
	}
	if el.is(nsSASL, "failure") {
		cond := ""
		for _, c := range el.Children {
			if c.XMLName.Space == nsSASL && c.XMLName.Local != "text" {
				cond = c.XMLName.Local
				break
			}
		}
		return nil, &saslError{condition: saslCondition(cond)}
	}
	if el.XMLName.Space != nsSASL {
		return nil, fmt.Errorf("sasl: unexpected <%s/>", el.XMLName.Local)
	}
	if el.is(nsSASL, "success") {
		// The server now waits for a new stream header (RFC 6120 6.4.6):
		// there is no stream to close with </stream:stream>.
		t.mu.Lock()
		t.open = false
		t.mu.Unlock()
	}
	return el, nil
}
