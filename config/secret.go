package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

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

// topEnvPrefix starts the environment variable of a top-level secret key:
// R2SYNC_RENREN_PASSWORD.
const topEnvPrefix = "R2SYNC_"

// envVar names the environment variable of a dotted secret key under
// prefix: envVar("R2SYNC_", "renren.password") is R2SYNC_RENREN_PASSWORD.
func envVar(prefix, key string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// secretField is one secret key of an account pair: where its value and
// its *_file live.
type secretField struct {
	key   string // dotted, e.g. "renren.password"; the file key adds _file
	value *Secret
	file  *string
}

// secretFields lists the secret keys of the sections t, r, ma and b.
func secretFields(t *Twitter, r *Renren, ma *Mastodon, b *Bluesky) []secretField {
	return []secretField{
		{"twitter.consumer_key", &t.ConsumerKey, &t.ConsumerKeyFile},
		{"twitter.consumer_secret", &t.ConsumerSecret, &t.ConsumerSecretFile},
		{"twitter.access_token", &t.AccessToken, &t.AccessTokenFile},
		{"twitter.access_secret", &t.AccessSecret, &t.AccessSecretFile},
		{"renren.password", &r.Password, &r.PasswordFile},
		{"mastodon.access_token", &ma.AccessToken, &ma.AccessTokenFile},
		{"bluesky.app_password", &b.AppPassword, &b.AppPasswordFile},
	}
}

// secretFiles remembers the *_file reads of one resolution, so that a
// file every mirror names (the app's consumer secret) is read once.
type secretFiles map[string]secretRead

type secretRead struct {
	value Secret
	err   error
}

// resolve fills s from its *_file when the file key is set; it leaves the
// value as written otherwise (the caller falls back to the environment).
// Errors name the key after label: "" or a mirror's `mirror[2] ("bob").`.
func (s secretField) resolve(label, dir string, getenv func(string) string, files secretFiles) error {
	switch {
	case *s.value != "" && *s.file != "":
		return fmt.Errorf("%s%s and %s_file are both set: keep one", label, s.key, s.key)
	case *s.file == "":
		return nil
	}
	path := *s.file
	if !filepath.IsAbs(path) {
		base := dir
		if cd := getenv("CREDENTIALS_DIRECTORY"); cd != "" {
			base = cd
		}
		path = filepath.Join(base, path)
	}
	r, ok := files[path]
	if !ok {
		r = readSecret(path)
		files[path] = r
	}
	if r.err != nil {
		return fmt.Errorf("%s%s_file: %w", label, s.key, r.err)
	}
	*s.value = r.value
	return nil
}

// readSecret reads the secret file at path without its trailing line
// breaks; an empty file is an error.
func readSecret(path string) secretRead {
	b, err := ReadFileMax(path, maxSecretSize)
	if err != nil {
		return secretRead{err: err}
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return secretRead{err: fmt.Errorf("%s is empty", path)}
	}
	return secretRead{value: Secret(v)}
}
