package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/config"
)

// clearSecretEnv makes sure no secret reaches a test from the
// environment it runs in.
func clearSecretEnv(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range append(names, "CREDENTIALS_DIRECTORY",
		"R2SYNC_TWITTER_CONSUMER_KEY", "R2SYNC_TWITTER_CONSUMER_SECRET",
		"R2SYNC_TWITTER_ACCESS_TOKEN", "R2SYNC_TWITTER_ACCESS_SECRET", "R2SYNC_RENREN_PASSWORD",
		"R2SYNC_MASTODON_ACCESS_TOKEN", "R2SYNC_BLUESKY_APP_PASSWORD") {
		t.Setenv(n, "")
	}
}

// writeConfig writes content as config.toml in a new directory.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPreviousReleaseConfig: the example config of the release before
// [[mirror]] (deploy/config.example.toml at 49e1950, byte for byte) is
// one mirror named "default" with the values that release used.
func TestPreviousReleaseConfig(t *testing.T) {
	f, err := os.Open("testdata/previous-release.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := config.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Mirror{
		Name: "default",
		Twitter: config.Twitter{
			ConsumerSecretFile: "/etc/r2sync/consumer_secret",
			AccessTokenFile:    "/etc/r2sync/access_token",
			AccessSecretFile:   "/etc/r2sync/access_secret",
			PollInterval:       config.Duration{Duration: 60 * time.Second},
			Timeout:            config.Duration{Duration: 30 * time.Second},
			ExcludeRetweets:    true,
		},
		Renren: config.Renren{
			JID:          "123456@talk.xiaonei.com",
			PasswordFile: "/etc/r2sync/renren_password",
			Resource:     "r2sync",
			PingInterval: config.Duration{Duration: 60 * time.Second},
		},
		Sync:      config.Sync{Template: "{{.Text}}", MaxLength: 140},
		StateFile: "/var/lib/r2sync/state.json",
	}
	// The source sections a Twitter config does not use keep their defaults.
	def := config.Default()
	want.Mastodon, want.Bluesky = def.Mastodon, def.Bluesky
	got := cfg.Mirrors()
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("Mirrors() =\n%+v\nwant\n%+v", got, []config.Mirror{want})
	}
	// The fields cmd reads until it runs many mirrors say the same.
	if !reflect.DeepEqual(cfg.Twitter, want.Twitter) || !reflect.DeepEqual(cfg.Renren, want.Renren) ||
		!reflect.DeepEqual(cfg.Sync, want.Sync) || cfg.State.File != want.StateFile {
		t.Errorf("top-level sections differ from the mirror: %+v", cfg)
	}
	// Once its secrets are in, it is valid, and the mirror follows the
	// top-level sections as they are now.
	cfg.Twitter.ConsumerKey, cfg.Twitter.ConsumerSecret = "ck", "cs"
	cfg.Twitter.AccessToken, cfg.Twitter.AccessSecret, cfg.Renren.Password = "at", "as", "pw"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if m, ok := cfg.Mirror("default"); !ok || m.Renren.Password.Value() != "pw" {
		t.Errorf("Mirror(default) = %+v, %v", m, ok)
	}
}

// TestMirrorsFile: testdata/mirrors.toml, the three mirrors phase B's
// end-to-end test runs, loads with the defaults, overrides and secrets
// each mirror should have.
func TestMirrorsFile(t *testing.T) {
	clearSecretEnv(t)
	cfg, err := config.Load("testdata/mirrors.toml")
	if err != nil {
		t.Fatal(err)
	}
	ms := cfg.Mirrors()
	if len(ms) != 3 {
		t.Fatalf("%d mirrors", len(ms))
	}
	for i, w := range []struct {
		name, path, jid, password, template string
		poll                                time.Duration
		replies                             bool
	}{
		{"alice", `mirror[1] ("alice")`, "100001@talk.xiaonei.com", "pw-a-SECRET", "{{.Text}}", 60 * time.Second, false},
		{"bob", `mirror[2] ("bob")`, "100002@talk.xiaonei.com", "pw-b-SECRET", "{{.Text}}", 30 * time.Second, true},
		{"carol", `mirror[3] ("carol")`, "100002@talk.xiaonei.com", "pw-b-SECRET", "carol: {{.Text}}", 60 * time.Second, false},
	} {
		m := ms[i]
		if m.Name != w.name || m.Path != w.path || m.StateFile != "/var/lib/r2sync/"+w.name+".json" {
			t.Errorf("mirror %d: name %q path %q state %q", i+1, m.Name, m.Path, m.StateFile)
		}
		if m.Twitter.ConsumerKey.Value() != "ck-mirrors" || m.Twitter.ConsumerSecret.Value() != "cs-mirrors-SECRET" {
			t.Errorf("%s: the app key is not shared: %q", w.name, m.Twitter.ConsumerKey.Value())
		}
		if m.Twitter.AccessToken.Value() != "at-"+w.name+"-SECRET" || m.Twitter.AccessSecret.Value() != "as-"+w.name+"-SECRET" {
			t.Errorf("%s: access token %q", w.name, m.Twitter.AccessToken.Value())
		}
		if m.Renren.JID != w.jid || m.Renren.Password.Value() != w.password || m.Renren.Resource != "r2sync" {
			t.Errorf("%s: renren %+v", w.name, m.Renren)
		}
		if m.Sync.Template != w.template || m.Sync.IncludeReplies != w.replies || m.Sync.MaxLength != 140 || !m.Twitter.ExcludeRetweets {
			t.Errorf("%s: sync %+v", w.name, m.Sync)
		}
		if m.Twitter.PollInterval.Duration != w.poll || m.Twitter.Timeout.Duration != 30*time.Second {
			t.Errorf("%s: poll %v timeout %v", w.name, m.Twitter.PollInterval, m.Twitter.Timeout)
		}
	}
	if _, ok := cfg.Mirror("dave"); ok {
		t.Error("Mirror(dave) found one")
	}
	// Nothing prints a secret, from the config or from a mirror.
	out := fmt.Sprintf("%v %+v %#v %+v", cfg, cfg, cfg, ms)
	if strings.Contains(out, "SECRET") {
		t.Errorf("a secret printed: %s", out)
	}
}

// twoMirrors is a valid config that the tests below add to or break.
const twoMirrors = `[twitter]
consumer_key = "ck"
consumer_secret = "cs-SECRET"
api_base = "https://social.example/api/"
poll_interval = "90s"
[renren]
password = "pw-SECRET"
address = "talk.xiaonei.com:5222"
[sync]
include_replies = true
template = "[r2] {{.Text}}"
[[mirror]]
name = "alice"
  [mirror.twitter]
  access_token = "at-a"
  access_secret = "as-a-SECRET"
  [mirror.renren]
  jid = "1@talk.xiaonei.com"
[[mirror]]
name = "bob"
  [mirror.twitter]
  access_token = "at-b"
  access_secret = "as-b-SECRET"
  api_base = ""
  poll_interval = "2m"
  [mirror.renren]
  jid = "2@talk.xiaonei.com"
  address = ""
  [mirror.sync]
  include_replies = false
  include_retweets = true
`

// TestMirrorOverridesKeyByKey: a mirror's table changes exactly the keys
// it sets, "" and false included, and keeps every other default.
func TestMirrorOverridesKeyByKey(t *testing.T) {
	clearSecretEnv(t)
	cfg, err := config.Load(writeConfig(t, twoMirrors))
	if err != nil {
		t.Fatal(err)
	}
	ms := cfg.Mirrors()
	a, b := ms[0], ms[1]
	if a.Twitter.APIBase != "https://social.example/api/" || b.Twitter.APIBase != "" {
		t.Errorf("api_base: alice %q, bob %q (an explicit \"\" must override)", a.Twitter.APIBase, b.Twitter.APIBase)
	}
	if a.Renren.Address != "talk.xiaonei.com:5222" || b.Renren.Address != "" {
		t.Errorf("address: alice %q, bob %q", a.Renren.Address, b.Renren.Address)
	}
	if !a.Sync.IncludeReplies || b.Sync.IncludeReplies {
		t.Errorf("include_replies: alice %v, bob %v (an explicit false must override)", a.Sync.IncludeReplies, b.Sync.IncludeReplies)
	}
	if !a.Twitter.ExcludeRetweets || b.Twitter.ExcludeRetweets {
		t.Errorf("exclude retweets follows the mirror's sync: alice %v, bob %v", a.Twitter.ExcludeRetweets, b.Twitter.ExcludeRetweets)
	}
	if a.Twitter.PollInterval.Duration != 90*time.Second || b.Twitter.PollInterval.Duration != 2*time.Minute {
		t.Errorf("poll_interval: alice %v, bob %v", a.Twitter.PollInterval, b.Twitter.PollInterval)
	}
	for _, m := range ms {
		if m.Sync.Template != "[r2] {{.Text}}" || m.Twitter.ConsumerKey.Value() != "ck" || m.Renren.Password.Value() != "pw-SECRET" ||
			m.Twitter.Timeout.Duration != 30*time.Second || m.Renren.Resource != "r2sync" {
			t.Errorf("%s lost a default: %+v", m.Name, m)
		}
		if m.StateFile != "/var/lib/r2sync/"+m.Name+".json" {
			t.Errorf("%s: state file %q", m.Name, m.StateFile)
		}
	}
	// The top-level sections stay the defaults as written.
	if cfg.Twitter.APIBase != "https://social.example/api/" || !cfg.Sync.IncludeReplies || cfg.Twitter.AccessToken != "" {
		t.Errorf("defaults changed: %+v", cfg)
	}
}

// TestMirrorSecrets: each secret comes from the mirror's own value or
// file, then $R2SYNC_MIRROR_<NAME>_..., then the top-level value or file,
// then $R2SYNC_<SECTION>_<KEY>.
func TestMirrorSecrets(t *testing.T) {
	dir := t.TempDir()
	creds := t.TempDir()
	for path, v := range map[string]string{
		filepath.Join(dir, "consumer_secret"): "cs-from-default-file\n",
		filepath.Join(creds, "alice.token"):   "at-from-alice-file\n",
		filepath.Join(creds, "bob.xmpp"):      "pw-from-credentials\n",
	} {
		if err := os.WriteFile(path, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	content := `[twitter]
consumer_key = "ck-default"
consumer_secret_file = "` + filepath.Join(dir, "consumer_secret") + `"
access_token_file = "/nonexistent/every-mirror-overrides-this"
[renren]
password = "pw-default"
[[mirror]]
name = "alice"
  [mirror.twitter]
  access_token_file = "alice.token"
  access_secret = "as-alice"
  [mirror.renren]
  jid = "1@talk.xiaonei.com"
[[mirror]]
name = "bob-smith"
  [mirror.twitter]
  access_token = "at-bob-value"
  [mirror.renren]
  jid = "2@talk.xiaonei.com"
  password_file = "bob.xmpp"
[[mirror]]
name = "carol"
  [mirror.twitter]
  access_token = ""
  [mirror.renren]
  jid = "3@talk.xiaonei.com"
`
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	clearSecretEnv(t)
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	// A per-mirror variable overrides the default's file, only for its mirror.
	t.Setenv("R2SYNC_MIRROR_BOB_SMITH_TWITTER_CONSUMER_SECRET", "cs-from-bob-env")
	// The mirror's own value wins over its variable.
	t.Setenv("R2SYNC_MIRROR_BOB_SMITH_TWITTER_ACCESS_TOKEN", "at-bob-env-loses")
	// carol sets access_token = "": no default, but her variable.
	t.Setenv("R2SYNC_MIRROR_CAROL_TWITTER_ACCESS_TOKEN", "at-carol-env")
	// The top-level variable is the last resort.
	t.Setenv("R2SYNC_TWITTER_ACCESS_SECRET", "as-from-default-env")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ms := cfg.Mirrors()
	for _, c := range []struct {
		mirror, key string
		got         config.Secret
		want        string
	}{
		{"alice", "consumer_key", ms[0].Twitter.ConsumerKey, "ck-default"},
		{"alice", "consumer_secret", ms[0].Twitter.ConsumerSecret, "cs-from-default-file"},
		{"alice", "access_token", ms[0].Twitter.AccessToken, "at-from-alice-file"},
		{"alice", "access_secret", ms[0].Twitter.AccessSecret, "as-alice"},
		{"alice", "password", ms[0].Renren.Password, "pw-default"},
		{"bob-smith", "consumer_secret", ms[1].Twitter.ConsumerSecret, "cs-from-bob-env"},
		{"bob-smith", "access_token", ms[1].Twitter.AccessToken, "at-bob-value"},
		{"bob-smith", "access_secret", ms[1].Twitter.AccessSecret, "as-from-default-env"},
		{"bob-smith", "password", ms[1].Renren.Password, "pw-from-credentials"},
		{"carol", "access_token", ms[2].Twitter.AccessToken, "at-carol-env"},
		{"carol", "consumer_secret", ms[2].Twitter.ConsumerSecret, "cs-from-default-file"},
	} {
		if c.got.Value() != c.want {
			t.Errorf("%s %s = %q, want %q", c.mirror, c.key, c.got.Value(), c.want)
		}
	}
	// A secret from a variable came from no file: `login` must not write
	// bob's token over the default's.
	if ms[1].Twitter.ConsumerSecretFile != "" || ms[0].Twitter.ConsumerSecretFile != filepath.Join(dir, "consumer_secret") {
		t.Errorf("consumer_secret_file: alice %q, bob %q", ms[0].Twitter.ConsumerSecretFile, ms[1].Twitter.ConsumerSecretFile)
	}
	// A mirror's password_file replaces the default password: not "both set".
	if ms[1].Renren.PasswordFile != "bob.xmpp" {
		t.Errorf("bob password_file = %q", ms[1].Renren.PasswordFile)
	}

	// Without her variable, carol's explicit "" is a missing token, not the default's.
	t.Setenv("R2SYNC_MIRROR_CAROL_TWITTER_ACCESS_TOKEN", "")
	_, err = config.Load(path)
	want := path + `: mirror[3] ("carol").twitter.access_token: required (set it, twitter.access_token_file, or $R2SYNC_MIRROR_CAROL_TWITTER_ACCESS_TOKEN)`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

// TestResolveSecretsCopies: resolving one copy of a Config leaves the
// mirrors of another copy as they were.
func TestResolveSecretsCopies(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader(twoMirrors))
	if err != nil {
		t.Fatal(err)
	}
	other := cfg
	if err := other.ResolveSecrets(t.TempDir(), func(k string) string {
		if k == "R2SYNC_MIRROR_ALICE_RENREN_PASSWORD" {
			return "pw-env"
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	if got := other.Mirrors()[0].Renren.Password.Value(); got != "pw-env" {
		t.Errorf("resolved copy: %q", got)
	}
	if got := cfg.Mirrors()[0].Renren.Password.Value(); got != "pw-SECRET" {
		t.Errorf("the other copy changed: %q", got)
	}
}

// TestLoadForLoginMirrors: `login` needs each mirror's consumer
// credentials and no access token.
func TestLoadForLoginMirrors(t *testing.T) {
	clearSecretEnv(t)
	noAccess := strings.NewReplacer(`  access_token = "at-a"`+"\n", "", `  access_token = "at-b"`+"\n", "").Replace(twoMirrors)
	cfg, err := config.LoadForLogin(writeConfig(t, noAccess))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range cfg.Mirrors() {
		if m.Twitter.ConsumerSecret.Value() != "cs-SECRET" || m.Twitter.AccessToken != "" {
			t.Errorf("%s: consumer secret %q access token %q", m.Name, m.Twitter.ConsumerSecret.Value(), m.Twitter.AccessToken.Value())
		}
	}
	noKey := strings.Replace(noAccess, `consumer_key = "ck"`, `api = "v9"`, 1)
	path := writeConfig(t, noKey)
	_, err = config.LoadForLogin(path)
	want := path + `: twitter.api: must be "v2" or "v1.1", or empty to choose by api_base (got "v9"); ` +
		`mirror[1] ("alice").twitter.consumer_key: required (set it, twitter.consumer_key_file, or $R2SYNC_MIRROR_ALICE_TWITTER_CONSUMER_KEY); ` +
		`mirror[2] ("bob").twitter.consumer_key: required (set it, twitter.consumer_key_file, or $R2SYNC_MIRROR_BOB_TWITTER_CONSUMER_KEY)`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

// BenchmarkLoad1000Mirrors: loading (parsing, merging, resolving and
// validating) a config of 1,000 mirrors that share one app key.
func BenchmarkLoad1000Mirrors(b *testing.B) {
	var s strings.Builder
	s.WriteString(mirrorsHead)
	for i := range 1000 {
		fmt.Fprintf(&s, "[[mirror]]\nname = \"m%d\"\n[mirror.twitter]\naccess_token = \"at\"\naccess_secret = \"as\"\n[mirror.renren]\njid = \"%d@talk.xiaonei.com\"\n", i, i)
	}
	path := filepath.Join(b.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(s.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		cfg, err := config.Load(path)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(cfg.Mirrors()); n != 1000 {
			b.Fatalf("%d mirrors", n)
		}
	}
}
