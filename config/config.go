// Package config reads r2sync's TOML configuration file. It is a leaf:
// only cmd/ imports it and copies sections into the adapters' options.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration file.
type Config struct {
	// Source is the mirrors' source network: "twitter" (also when empty),
	// "mastodon" or "bluesky"; a [[mirror]] may set its own.
	Source   string   `toml:"source"`
	Twitter  Twitter  `toml:"twitter"`
	Mastodon Mastodon `toml:"mastodon"`
	Bluesky  Bluesky  `toml:"bluesky"`
	Renren   Renren   `toml:"renren"`
	Sync     Sync     `toml:"sync"`
	State    State    `toml:"state"`
	Log      Log      `toml:"log"`
	HTTP     HTTP     `toml:"http"`

	// layout is what Parse learnt beyond the sections' values: which keys
	// the file sets and the [[mirror]] tables (see mirror.go). A pointer,
	// so that printing a Config never shows a mirror's secrets.
	layout *layout
}

// Twitter is the [twitter] section.
type Twitter struct {
	// API is "v2", "v1.1" or "" (v2 when APIBase is empty or on api.x.com
	// or api.twitter.com, else v1.1).
	API string `toml:"api"`
	// APIBase is the API root; "" means X's own for the API version.
	APIBase            string   `toml:"api_base"`
	ConsumerKey        Secret   `toml:"consumer_key"`
	ConsumerKeyFile    string   `toml:"consumer_key_file"`
	ConsumerSecret     Secret   `toml:"consumer_secret"`
	ConsumerSecretFile string   `toml:"consumer_secret_file"`
	AccessToken        Secret   `toml:"access_token"`
	AccessTokenFile    string   `toml:"access_token_file"`
	AccessSecret       Secret   `toml:"access_secret"`
	AccessSecretFile   string   `toml:"access_secret_file"`
	PollInterval       Duration `toml:"poll_interval"`
	Timeout            Duration `toml:"timeout"`

	// ExcludeRetweets is not a key: Parse sets it from
	// sync.include_retweets, so that a v2 API is asked not to send (and
	// bill) retweets that would not be mirrored anyway.
	ExcludeRetweets bool `toml:"-"`
}

// Renren is the [renren] section: the XMPP account whose status mirrors
// the tweets.
type Renren struct {
	JID          string   `toml:"jid"`
	Password     Secret   `toml:"password"`
	PasswordFile string   `toml:"password_file"`
	Address      string   `toml:"address"`
	ServerName   string   `toml:"server_name"`
	CAFile       string   `toml:"ca_file"`
	Resource     string   `toml:"resource"`
	PingInterval Duration `toml:"ping_interval"`

	SASL              SASLMechanisms `toml:"sasl"`
	TLSPin            string         `toml:"tls_pin"`
	TLSMinVersion     string         `toml:"tls_min_version"`
	ResendOnReconnect Switch         `toml:"resend_on_reconnect"`
	Priority          int            `toml:"priority"`
	Show              string         `toml:"show"`
	FeedLog           string         `toml:"feed_log"`
}

// Sync is the [sync] section: which posts become statuses, and how. The
// filter keys are checked in config/sync.go.
type Sync struct {
	Template        string `toml:"template"`
	IncludeReplies  bool   `toml:"include_replies"`
	IncludeRetweets bool   `toml:"include_retweets"`
	MaxLength       int    `toml:"max_length"`

	SkipTags      []string `toml:"skip_tags"`
	OnlyTags      []string `toml:"only_tags"`
	StripTags     bool     `toml:"strip_tags"`
	SkipPattern   string   `toml:"skip_pattern"`
	OnlyPattern   string   `toml:"only_pattern"`
	SkipOlderThan Duration `toml:"skip_older_than"`
	// MaxPerHour caps statuses per hour, spaced evenly; 0 means no cap.
	MaxPerHour int `toml:"max_per_hour"`
}

// State is the [state] section.
type State struct {
	// File is the state file of the top-level layout (no [[mirror]]).
	File string `toml:"file"`
	// Dir holds one state file per mirror, <Dir>/<name>.json, with
	// [[mirror]]; "" means DefaultStateDir.
	Dir string `toml:"dir"`
}

// Log is the [log] section.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// HTTP is the [http] section: /healthz, /readyz and /metrics, served
// only when Listen is set.
type HTTP struct {
	// Listen is the "host:port" to serve on, e.g. "127.0.0.1:9479"; ""
	// turns the endpoints off.
	Listen string `toml:"listen"`
	// TokenFile holds the bearer token that every request but /healthz
	// and /readyz must carry; required when Listen is not a loopback
	// address (the status page shows status texts).
	TokenFile string `toml:"token_file"`
	// Token is TokenFile's content, read by ResolveSecrets.
	Token Secret `toml:"-"`
}

// MinTokenLength is the shortest http.token_file token accepted.
const MinTokenLength = 16

// MaxFileSize bounds what r2sync reads of a config file or a file it
// names (ca_file): a path such as /dev/zero must be an error, not a read
// that ends when memory does.
const MaxFileSize = 1 << 20

// maxSecretSize bounds a *_file secret.
const maxSecretSize = 64 << 10

// ReadFileMax reads the file at path, failing when it is larger than max
// bytes.
func ReadFileMax(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d KiB", path, max>>10)
	}
	return b, nil
}

// DefaultPath is where the configuration lives when neither --config nor
// $R2SYNC_CONFIG names a file.
const DefaultPath = "/etc/r2sync/config.toml"

// Default returns the configuration with every default filled in and no
// credentials.
func Default() Config {
	return Config{
		Twitter: Twitter{
			PollInterval: Duration{60 * time.Second},
			Timeout:      Duration{30 * time.Second},
		},
		Mastodon: defaultMastodon(),
		Bluesky:  defaultBluesky(),
		Renren: Renren{
			Resource:     "r2sync",
			PingInterval: Duration{60 * time.Second},
		},
		Sync: Sync{
			Template:  "{{.Text}}",
			MaxLength: 140,
		},
		State: State{File: "/var/lib/r2sync/state.json"},
		Log:   Log{Level: "info"},
	}
}

// parseFile opens and parses the file at path; errors name the path.
func parseFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	cfg, err := Parse(f)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Load reads, resolves and validates the file at path.
func Load(path string) (Config, error) {
	cfg, err := parseFile(path)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.ResolveSecrets(filepath.Dir(path), os.Getenv); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes TOML over the defaults and merges each [[mirror]] table
// over them (see Mirrors). Unknown keys, keys in the wrong case and wrong
// types are errors naming the key and, where TOML knows it, the line. It
// neither resolves secrets nor validates values.
func Parse(r io.Reader) (Config, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("read: %w", err)
	}
	if len(b) > MaxFileSize {
		return Config{}, fmt.Errorf("larger than %d KiB: not a config file", MaxFileSize>>10)
	}
	// A syntax error first: its "last key" would name an unrelated key.
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, fmt.Errorf("line %d: %s", pe.Position.Line, oneLine(pe.Message))
		}
		return Config{}, errors.New(oneLine(strings.TrimPrefix(err.Error(), "toml: ")))
	}
	cfg := Default()
	md, err := toml.Decode(string(b), &cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, fmt.Errorf("line %d: %s: %s", pe.Position.Line, pe.LastKey, oneLine(pe.Message))
		}
		return Config{}, errors.New(oneLine(strings.TrimPrefix(err.Error(), "toml: ")))
	}
	known := knownKeys(reflect.TypeOf(cfg), "")
	for _, k := range md.Keys() {
		if k[0] == "mirror" {
			continue // parseMirrors knows which table each key is in
		}
		if !known[k.String()] {
			return Config{}, fmt.Errorf("unknown key %s%s", k, suggest(k.String(), known))
		}
	}
	cfg.Twitter.ExcludeRetweets = !cfg.Sync.IncludeRetweets
	if err := cfg.parseMirrors(string(b), raw); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// LoadForLogin reads the file at path for `r2sync login`: only the
// [twitter] API and consumer credentials must be there and valid, since
// the access token is what the login is about to get.
func LoadForLogin(path string) (Config, error) {
	cfg, err := parseFile(path)
	if err != nil {
		return Config{}, err
	}
	consumer := func(key string) bool { return strings.HasPrefix(key, "twitter.consumer_") }
	if err := cfg.resolveSecrets(filepath.Dir(path), os.Getenv, consumer); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if probs := cfg.loginProblems(); len(probs) > 0 {
		return Config{}, fmt.Errorf("%s: %s", path, strings.Join(probs, "; "))
	}
	return cfg, nil
}

// SecretFile returns where a *_file value points: relative paths resolve
// against dir, the directory of the config file. (Reading also honours
// $CREDENTIALS_DIRECTORY; writing, as `r2sync login` does, never does.)
func SecretFile(dir, file string) string {
	if file == "" || filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(dir, file)
}

// oneLine keeps a decoder's message on one line: it may quote a value
// with its line break ("not a binary number: '0b\n'").
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// knownKeys lists the dotted TOML keys of t's fields, tables included.
func knownKeys(t reflect.Type, prefix string) map[string]bool {
	keys := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if tag == "-" || tag == "" {
			continue
		}
		name := prefix + tag
		keys[name] = true
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[Duration]() {
			for k := range knownKeys(f.Type, name+".") {
				keys[k] = true
			}
		}
	}
	return keys
}

// suggest names the known key that k misspells by case, if any.
func suggest(k string, known map[string]bool) string {
	for c := range known {
		if strings.EqualFold(c, k) {
			return fmt.Sprintf(" (keys are case-sensitive: did you mean %s?)", c)
		}
	}
	return ""
}

// ResolveSecrets fills each secret from, in order, its value in the file,
// its *_file (relative paths resolve against $CREDENTIALS_DIRECTORY when
// systemd sets it, else against dir) or the environment variable
// R2SYNC_<SECTION>_<KEY>, e.g. R2SYNC_RENREN_PASSWORD. With [[mirror]] it
// fills each mirror's secrets instead (see resolveMirrorSecrets).
func (c *Config) ResolveSecrets(dir string, getenv func(string) string) error {
	return c.resolveSecrets(dir, getenv, func(string) bool { return true })
}

// resolveSecrets is ResolveSecrets for the keys that want accepts.
func (c *Config) resolveSecrets(dir string, getenv func(string) string, want func(key string) bool) error {
	if want("http.token") {
		tok := secretField{"http.token", &c.HTTP.Token, &c.HTTP.TokenFile}
		if err := tok.resolve("", dir, getenv, secretFiles{}); err != nil {
			return err
		}
	}
	if c.multi() {
		return c.resolveMirrorSecrets(dir, getenv, want)
	}
	files := secretFiles{}
	for _, s := range secretFields(&c.Twitter, &c.Renren, &c.Mastodon, &c.Bluesky) {
		if !want(s.key) {
			continue
		}
		if err := s.resolve("", dir, getenv, files); err != nil {
			return err
		}
		if *s.value == "" {
			*s.value = Secret(getenv(envVar(topEnvPrefix, s.key)))
		}
	}
	return nil
}
