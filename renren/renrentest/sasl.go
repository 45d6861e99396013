package renrentest

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xdg-go/scram"
	"go.uber.org/zap"
)

// Mechanisms the server can offer (Options.Mechanisms). Renren offered
// PLAIN alone.
var knownMechanisms = []string{
	"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN",
}

// scramIterations is the PBKDF2 count of the server's stored keys: RFC
// 7677's minimum, and what Prosody and ejabberd use.
const scramIterations = 4096

// Login is a successful SASL login, as the server saw it.
type Login struct {
	User           string
	Mechanism      string // e.g. "SCRAM-SHA-256-PLUS"
	ChannelBinding string // "tls-exporter", "tls-unique", or "" without
	TLSVersion     uint16
}

// saslStream offers the configured mechanisms and returns after a
// successful login.
func (c *conn) saslStream() error {
	if err := c.openStream(); err != nil {
		return err
	}
	if c.srv.seeOtherHost != "" {
		return c.redirect()
	}
	var f strings.Builder
	fmt.Fprintf(&f, "<stream:features><mechanisms xmlns='%s'>", nsSASL)
	for _, m := range c.srv.mechanisms {
		fmt.Fprintf(&f, "<mechanism>%s</mechanism>", m)
	}
	f.WriteString("</mechanisms>")
	if c.srv.cbTypes != nil { // XEP-0440
		f.WriteString("<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>")
		for _, t := range c.srv.cbTypes {
			fmt.Fprintf(&f, "<channel-binding type='%s'/>", esc(t))
		}
		f.WriteString("</sasl-channel-binding>")
	}
	f.WriteString("</stream:features>")
	if err := c.write(f.String()); err != nil {
		return err
	}
	for failures := 0; failures < maxAuthTries; {
		el, err := c.r.next()
		if err != nil {
			return err
		}
		switch {
		case el.is(nsSASL, "auth"):
			c.srv.recordSASL(el.Text)
			mech := el.attr("mechanism")
			if !slices.Contains(c.srv.mechanisms, mech) {
				failures++
				c.srv.countLogin(false)
				if err := c.saslFailure("invalid-mechanism"); err != nil {
					return err
				}
				continue
			}
			login, err := c.authenticate(mech, el.Text)
			if errors.Is(err, errLoginFailed) {
				failures++
				c.srv.countLogin(false)
				if err := c.saslFailure("not-authorized"); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			c.user = login.User
			c.srv.recordLogin(login)
			c.r.restart()
			return nil
		case el.is(nsTLS, "starttls"):
			return &streamError{condition: "policy-violation", violation: "<starttls/> on an encrypted stream"}
		case isStanza(el):
			return &streamError{condition: "not-authorized", violation: el.describe() + " before authentication"}
		default:
			return &streamError{condition: "unsupported-stanza-type", violation: el.describe() + " before authentication"}
		}
	}
	return &streamError{condition: "policy-violation"} // too many failed logins
}

// errLoginFailed is a login the server refuses with not-authorized.
var errLoginFailed = errors.New("login failed")

// authenticate runs mech from the client's initial response on. It has
// written <success/> when it returns a Login.
func (c *conn) authenticate(mech, initial string) (Login, error) {
	cs := c.tlsState()
	login := Login{Mechanism: mech, TLSVersion: cs.Version}
	if mech == "PLAIN" {
		user, ok := c.checkPlain(initial)
		if !ok {
			return Login{}, errLoginFailed
		}
		login.User = user
		return login, c.write(fmt.Sprintf("<success xmlns='%s'/>", nsSASL))
	}
	hash := scram.SHA1
	if strings.HasPrefix(mech, "SCRAM-SHA-256") {
		hash = scram.SHA256
	}
	srv, err := hash.NewServer(c.srv.scramCredentials(hash))
	if err != nil {
		return Login{}, err
	}
	// Binding as RFC 9266 and RFC 5802 define it for the TLS version. A
	// server that offers any -PLUS must catch a client that says "y"
	// (binding stripped), so it always knows its binding then.
	var cb scram.ChannelBinding
	if cs.Version == tls.VersionTLS13 {
		cb, _ = scram.NewTLSExporterBinding(&cs)
	} else {
		cb = scram.NewTLSUniqueBinding(cs.TLSUnique)
	}
	var conv *scram.ServerConversation
	switch {
	case strings.HasSuffix(mech, "-PLUS"):
		conv = srv.NewConversationWithChannelBindingRequired(cb)
		login.ChannelBinding = string(cb.Type)
	case slices.ContainsFunc(c.srv.mechanisms, func(m string) bool { return strings.HasSuffix(m, "-PLUS") }):
		conv = srv.NewConversationWithChannelBinding(cb)
	default:
		conv = srv.NewConversation()
	}
	first, ok := decodeSASL(initial)
	if !ok {
		return Login{}, errLoginFailed
	}
	s1, err := conv.Step(first)
	if err != nil {
		c.log.Info("scram client-first refused", zap.Error(err))
		return Login{}, errLoginFailed
	}
	if err := c.write(fmt.Sprintf("<challenge xmlns='%s'>%s</challenge>", nsSASL, base64.StdEncoding.EncodeToString([]byte(s1)))); err != nil {
		return Login{}, err
	}
	el, err := c.r.next()
	if err != nil {
		return Login{}, err
	}
	if !el.is(nsSASL, "response") {
		return Login{}, &streamError{condition: "not-authorized", violation: el.describe() + " in a SCRAM exchange"}
	}
	c.srv.recordSASL(el.Text)
	final, ok := decodeSASL(el.Text)
	if !ok {
		return Login{}, errLoginFailed
	}
	s2, err := conv.Step(final)
	if err != nil || !conv.Valid() {
		c.log.Info("scram client-final refused", zap.Error(err))
		return Login{}, errLoginFailed
	}
	login.User = conv.Username()
	return login, c.serverFinal(s2)
}

// serverFinal sends SCRAM's server-final message as Options.SCRAMFinal
// says.
func (c *conn) serverFinal(s2 string) error {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	switch c.srv.scramFinal {
	case "challenge":
		if err := c.write(fmt.Sprintf("<challenge xmlns='%s'>%s</challenge>", nsSASL, b64(s2))); err != nil {
			return err
		}
		el, err := c.r.next()
		if err != nil {
			return err
		}
		if !el.is(nsSASL, "response") || strings.TrimSpace(el.Text) != "" {
			return &streamError{condition: "not-authorized", violation: el.describe() + " instead of an empty <response/>"}
		}
		return c.write(fmt.Sprintf("<success xmlns='%s'/>", nsSASL))
	case "omit":
		return c.write(fmt.Sprintf("<success xmlns='%s'/>", nsSASL))
	case "forge":
		return c.write(fmt.Sprintf("<success xmlns='%s'>%s</success>", nsSASL, b64("v="+base64.StdEncoding.EncodeToString(make([]byte, 32)))))
	}
	return c.write(fmt.Sprintf("<success xmlns='%s'>%s</success>", nsSASL, b64(s2)))
}

func decodeSASL(b64 string) (string, bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	return string(raw), err == nil
}

// tlsState is the connection's TLS state; the zero value before TLS.
func (c *conn) tlsState() tls.ConnectionState {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if tc, ok := c.w.(*tls.Conn); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}

// scramCredentials derives the stored SCRAM keys of every account, as a
// server with hashed storage keeps them.
func (s *Server) scramCredentials(hash scram.HashGeneratorFcn) scram.CredentialLookup {
	return func(user string) (scram.StoredCredentials, error) {
		password, ok := s.users[user]
		if !ok {
			return scram.StoredCredentials{}, errors.New("unknown user")
		}
		client, err := hash.NewClient(user, password, "")
		if err != nil {
			return scram.StoredCredentials{}, err
		}
		return client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: s.salt, Iters: scramIterations})
	}
}

func newSalt() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return string(b)
}

func (c *conn) saslFailure(condition string) error {
	c.log.Info("login failed", zap.String("condition", condition))
	return c.write(fmt.Sprintf("<failure xmlns='%s'><%s/></failure>", nsSASL, condition))
}

// checkPlain validates a SASL PLAIN message (base64 of
// authzid NUL authcid NUL password) and returns the localpart.
func (c *conn) checkPlain(b64 string) (string, bool) {
	authzid, authcid, password, ok := parsePlain(b64)
	if !ok {
		return "", false
	}
	if authzid != "" && authzid != authcid+"@"+c.srv.domain && authzid != authcid+"@"+AliasDomain {
		return "", false
	}
	return authcid, c.srv.checkPlain(authcid, password)
}

func parsePlain(b64 string) (authzid, authcid, password string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return "", "", "", false
	}
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return "", "", "", false
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), true
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
