package config

// Secret is a credential. It prints as "[redacted]" in every format a
// logger or an error message might use; Value returns the real string.
type Secret string

const redacted = "[redacted]"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer, which %#v uses.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalText implements encoding.TextMarshaler (JSON, zap.Any, TOML).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
