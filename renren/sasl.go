package renren

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	"github.com/xdg-go/scram"
)

// SASL mechanisms renren speaks, strongest first: the automatic order.
// SCRAM binds to the TLS channel in the -PLUS variants, which a stolen or
// mis-issued certificate cannot get past; SHA-256 (RFC 7677) beats SHA-1
// (RFC 5802); PLAIN sends the password itself (inside TLS only) and comes
// last. SCRAM-SHA-512 has no RFC and is left out.
const (
	mechSHA256Plus = "SCRAM-SHA-256-PLUS"
	mechSHA1Plus   = "SCRAM-SHA-1-PLUS"
	mechSHA256     = "SCRAM-SHA-256"
	mechSHA1       = "SCRAM-SHA-1"
	mechPlain      = "PLAIN"
)

var mechanismPreference = []string{mechSHA256Plus, mechSHA1Plus, mechSHA256, mechSHA1, mechPlain}

// allowedMechanisms checks Options.SASL: known names, each once. Empty
// means the automatic order.
func allowedMechanisms(pinned []string) ([]string, error) {
	if len(pinned) == 0 {
		return mechanismPreference, nil
	}
	out := make([]string, 0, len(pinned))
	for _, m := range pinned {
		name := strings.ToUpper(strings.TrimSpace(m))
		switch {
		case !slices.Contains(mechanismPreference, name):
			return nil, fmt.Errorf("sasl %q: unknown mechanism; want some of %s", m, strings.Join(mechanismPreference, ", "))
		case slices.Contains(out, name):
			return nil, fmt.Errorf("sasl %q: listed twice", m)
		}
		out = append(out, name)
	}
	return out, nil
}

// scramHash returns the hash of a SCRAM mechanism and whether it binds
// the channel; ok is false for PLAIN.
func scramHash(mech string) (h scram.HashGeneratorFcn, plus, ok bool) {
	base, plus := strings.CutSuffix(mech, "-PLUS")
	switch base {
	case mechSHA256:
		return scram.SHA256, plus, true
	case mechSHA1:
		return scram.SHA1, plus, true
	}
	return nil, false, false
}

// channelBinding returns the binding this connection can offer a -PLUS
// mechanism: tls-exporter (RFC 9266) on TLS 1.3, tls-unique (RFC 5929) on
// TLS 1.2, or none. types is the server's XEP-0440 list, nil when it sent
// none. On TLS 1.3 the binding is used only when the server lists
// tls-exporter: ejabberd 23.01 offers -PLUS over TLS 1.3 and knows only
// tls-unique, which TLS 1.3 does not define, so a login would fail.
func channelBinding(cs tls.ConnectionState, types []string) scram.ChannelBinding {
	switch cs.Version {
	case tls.VersionTLS13:
		if !slices.Contains(types, string(scram.ChannelBindingTLSExporter)) {
			return scram.ChannelBinding{}
		}
		cb, err := scram.NewTLSExporterBinding(&cs)
		if err != nil {
			return scram.ChannelBinding{}
		}
		return cb
	case tls.VersionTLS12:
		if types != nil && !slices.Contains(types, string(scram.ChannelBindingTLSUnique)) || len(cs.TLSUnique) == 0 {
			return scram.ChannelBinding{}
		}
		return scram.NewTLSUniqueBinding(cs.TLSUnique)
	}
	return scram.ChannelBinding{}
}

// chooseMechanism picks the first allowed mechanism the server offers
// and this connection can run (a -PLUS one needs a channel binding).
func chooseMechanism(allowed, offered []string, cb scram.ChannelBinding) (string, error) {
	for _, m := range allowed {
		if !slices.Contains(offered, m) {
			continue
		}
		if _, plus, _ := scramHash(m); plus && !cb.IsSupported() {
			continue
		}
		return m, nil
	}
	return "", &mechanismError{offered: cleanNames(offered), allowed: allowed, binding: cb.IsSupported()}
}

// mechanismError is a server that offers no mechanism renren may use.
// Retrying soon cannot help: the user has to change renren.sasl or the
// server its configuration.
type mechanismError struct {
	offered, allowed []string
	binding          bool
}

func (e *mechanismError) Error() string {
	msg := fmt.Sprintf("no usable sasl mechanism: the server offers [%s], renren.sasl allows [%s]",
		strings.Join(e.offered, " "), strings.Join(e.allowed, " "))
	if !e.binding {
		msg += " (no channel binding on this connection for -PLUS)"
	}
	return msg
}

// Permanent tells a caller that only a change of configuration helps.
func (e *mechanismError) Permanent() bool { return true }

// cleanNames keeps the server's mechanism names printable and short:
// they go into an error.
func cleanNames(names []string) []string {
	var out []string
	for _, n := range names {
		if len(out) == 16 {
			out = append(out, "…")
			break
		}
		if len(n) > 32 || strings.ContainsFunc(n, func(r rune) bool {
			return !(r == '-' || r == '_' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			n = "?"
		}
		out = append(out, n)
	}
	return out
}

// saslError is a SASL <failure/>: the server refused the login.
type saslError struct {
	condition string // RFC 6120 6.5 condition, e.g. "not-authorized"
}

func (e *saslError) Error() string { return "sasl failure: " + e.condition }

// saslCondition returns a <failure/>'s condition if it looks like one:
// it ends up in errors and logs.
func saslCondition(name string) string {
	if name == "" || len(name) > 64 || strings.ContainsFunc(name, func(r rune) bool {
		return !(r == '-' || r >= 'a' && r <= 'z')
	}) {
		return "not-authorized"
	}
	return name
}
