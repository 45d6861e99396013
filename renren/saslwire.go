package renren

import (
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xdg-go/scram"
)

// The SASL exchanges on the wire (RFC 6120 6.4): <auth/>, <challenge/>,
// <response/>, <success/> and <failure/>, their payloads in base64.

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
