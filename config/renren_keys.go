package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The [renren] keys of SASL, direct TLS and SRV, key pinning, presence and
// the news feed. Their validation mirrors what renren.Options accepts, so
// that `check` passing means `run` does not fail on them.

// SASLMechanisms is renren.sasl: the SASL mechanisms allowed, most
// preferred first; empty means automatic. It is a list in TOML
// (sasl = ["PLAIN"]) and a comparable value in Go, so that a reload can
// still tell whether the [renren] section changed.
type SASLMechanisms struct{ joined string }

// knownSASL are the mechanisms renren speaks, strongest first.
var knownSASL = []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}

// NewSASLMechanisms returns the list of names.
func NewSASLMechanisms(names ...string) SASLMechanisms {
	return SASLMechanisms{joined: strings.Join(names, "\x00")}
}

// List returns the names, nil for automatic.
func (m SASLMechanisms) List() []string {
	if m.joined == "" {
		return nil
	}
	return strings.Split(m.joined, "\x00")
}

// UnmarshalTOML takes a TOML array of strings.
func (m *SASLMechanisms) UnmarshalTOML(v any) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("must be a list of SASL mechanism names such as [\"SCRAM-SHA-256\", \"PLAIN\"] (got %v)", v)
	}
	names := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok || s == "" || strings.ContainsRune(s, 0) {
			return fmt.Errorf("must be a list of SASL mechanism names (got %v)", e)
		}
		names = append(names, s)
	}
	*m = NewSASLMechanisms(names...)
	return nil
}

// Switch is an on/off key whose absence means a default that depends on
// other keys (renren.resend_on_reconnect).
type Switch uint8

// Values of a Switch.
const (
	SwitchDefault Switch = iota // not set
	SwitchOff
	SwitchOn
)

// Bool returns the value, or def when the key is not set.
func (s Switch) Bool(def bool) bool {
	switch s {
	case SwitchOn:
		return true
	case SwitchOff:
		return false
	}
	return def
}

// UnmarshalTOML takes a TOML boolean.
func (s *Switch) UnmarshalTOML(v any) error {
	b, ok := v.(bool)
	if !ok {
		return fmt.Errorf("must be true or false (got %v)", v)
	}
	*s = SwitchOff
	if b {
		*s = SwitchOn
	}
	return nil
}

// renrenJIDProblem is jidProblem that also takes a bare Renren id.
func renrenJIDProblem(jid string) string {
	if isRenrenID(jid) {
		return ""
	}
	if !strings.Contains(jid, "@") {
		return fmt.Sprintf("must be a bare JID such as \"123456@talk.xiaonei.com\" or a Renren id such as \"123456\" (got %q)", jid)
	}
	return jidProblem(jid)
}

func isRenrenID(s string) bool {
	return s != "" && len(s) <= 20 && strings.Trim(s, "0123456789") == ""
}

// renrenAddressProblem is addressProblem that also takes
// "xmpps://host[:port]" (direct TLS).
func renrenAddressProblem(addr string) string {
	rest, direct := strings.CutPrefix(addr, "xmpps://")
	if !direct {
		return addressProblem(addr)
	}
	if !strings.Contains(strings.TrimPrefix(rest, "["), ":") || strings.HasSuffix(rest, "]") {
		rest += ":5223"
		if strings.HasPrefix(rest, "[") && !strings.Contains(rest, "]:") {
			return fmt.Sprintf("must be xmpps://host:port such as \"xmpps://xmpp.example.org:5223\" (got %q)", addr)
		}
	}
	if p := addressProblem(rest); p != "" {
		return fmt.Sprintf("must be xmpps://host:port such as \"xmpps://xmpp.example.org:5223\" (got %q)", addr)
	}
	return ""
}

// renrenKeyProblems checks sasl, tls_pin, tls_min_version, priority,
// show and feed_log of one mirror; sc names the keys.
func (c *Mirror) renrenKeyProblems(sc scope) []string {
	r := c.Renren
	var probs []string
	add := func(key, rule string, got any) {
		probs = append(probs, fmt.Sprintf("%s: %s (got %q)", sc.key(key), rule, fmt.Sprint(got)))
	}
	var seen []string
	for _, m := range r.SASL.List() {
		name := strings.ToUpper(strings.TrimSpace(m))
		switch {
		case !slices.Contains(knownSASL, name):
			add("renren.sasl", "unknown mechanism; use some of "+strings.Join(knownSASL, ", ")+", or [] for automatic", m)
		case slices.Contains(seen, name):
			add("renren.sasl", "lists a mechanism twice", m)
		}
		seen = append(seen, name)
	}
	if r.TLSPin != "" {
		b64, ok := strings.CutPrefix(r.TLSPin, "sha256/")
		sum, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil || len(sum) != 32 {
			add("renren.tls_pin", "must be sha256/ and the base64 of the SHA-256 of the server's public key (SPKI)", r.TLSPin)
		}
	}
	switch r.TLSMinVersion {
	case "", "1.2", "1.3":
	default:
		add("renren.tls_min_version", `must be "1.2" or "1.3"`, r.TLSMinVersion)
	}
	if r.Priority < -128 || r.Priority > 127 {
		add("renren.priority", "must be between -128 and 127", r.Priority)
	}
	switch r.Show {
	case "", "chat":
	default:
		add("renren.show", `must be "" or "chat": away, xa and dnd would be posts on Renren`, r.Show)
	}
	if r.FeedLog != "" {
		if p := feedLogProblem(r.FeedLog); p != "" {
			probs = append(probs, sc.key("renren.feed_log")+": "+p)
		}
	}
	return probs
}

// feedLogProblem says why the daemon could not append to path, or "".
func feedLogProblem(path string) string {
	if strings.ContainsRune(path, 0) || strings.HasSuffix(path, "/") {
		return fmt.Sprintf("must be a file path such as \"/var/lib/r2sync/feed.jsonl\" (got %q)", path)
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Sprintf("%s is not a regular file", path)
	case err == nil:
		return ""
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Sprintf("%s: %v", path, errors.Unwrap(err))
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || !di.IsDir() {
		return fmt.Sprintf("directory %s does not exist", filepath.Dir(path))
	}
	return ""
}
