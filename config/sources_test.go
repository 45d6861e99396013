package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/config"
)

const renrenPart = `[renren]
jid = "123456@talk.xiaonei.com"
password = "pw-SECRET"
[state]
file = "state.json"
`

const mastodonMinimal = `source = "mastodon"
[mastodon]
server = "https://mastodon.example"
access_token = "tok-SECRET"
` + renrenPart

const blueskyMinimal = `source = "bluesky"
[bluesky]
handle = "alice.bsky.social"
` + renrenPart

// TestSourceSections: a Mastodon or Bluesky mirror needs no [twitter]
// keys, gets the documented defaults, and every mirror may pick its own
// source and override the section key by key.
func TestSourceSections(t *testing.T) {
	clearSecretEnv(t)
	cfg, err := config.Load(writeConfig(t, mastodonMinimal))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Mirrors()[0]
	if m.SourceKind() != config.SourceMastodon || m.Mastodon.AccessToken.Value() != "tok-SECRET" ||
		!m.Mastodon.Stream || strings.Join(m.Mastodon.Visibility, ",") != "public" ||
		m.Mastodon.ContentWarning != "skip" || m.PollInterval() != time.Minute {
		t.Errorf("mastodon mirror = %+v", m.Mastodon)
	}

	cfg, err = config.Load(writeConfig(t, blueskyMinimal))
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Mirrors()[0].Bluesky
	if b.AppView != "https://public.api.bsky.app" || b.Jetstream != "wss://jetstream2.us-east.bsky.network/subscribe" ||
		b.PLCDirectory != "https://plc.directory" || b.AppPassword != "" {
		t.Errorf("bluesky defaults = %+v", b)
	}

	multi := mirrorsHead + `[mastodon]
server = "https://mastodon.example"
access_token = "shared-SECRET"
[[mirror]]
name = "tw"
  [mirror.twitter]
  access_token = "at"
  access_secret = "as"
  [mirror.renren]
  jid = "1@talk.xiaonei.com"
[[mirror]]
name = "toot"
source = "mastodon"
  [mirror.mastodon]
  stream = false
  visibility = ["public", "unlisted"]
  [mirror.renren]
  jid = "2@talk.xiaonei.com"
[[mirror]]
name = "sky"
source = "bluesky"
  [mirror.bluesky]
  did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
  jetstream = ""
  [mirror.renren]
  jid = "3@talk.xiaonei.com"
`
	cfg, err = config.Load(writeConfig(t, multi))
	if err != nil {
		t.Fatal(err)
	}
	ms := cfg.Mirrors()
	if ms[0].SourceKind() != "twitter" || ms[1].SourceKind() != "mastodon" || ms[2].SourceKind() != "bluesky" {
		t.Fatalf("sources %q %q %q", ms[0].SourceKind(), ms[1].SourceKind(), ms[2].SourceKind())
	}
	if ms[1].Mastodon.Stream || strings.Join(ms[1].Mastodon.Visibility, ",") != "public,unlisted" ||
		ms[1].Mastodon.AccessToken.Value() != "shared-SECRET" || ms[1].Mastodon.Server != "https://mastodon.example" {
		t.Errorf("toot = %+v", ms[1].Mastodon)
	}
	if ms[2].Bluesky.Jetstream != "" || ms[2].Bluesky.DID != "did:plc:ewvi7nxzyoun6zhxrhs64oiz" {
		t.Errorf("sky = %+v", ms[2].Bluesky)
	}
}

// TestSourceSecrets: the Mastodon token and the Bluesky app password come
// from files or the environment like every secret, and never show.
func TestSourceSecrets(t *testing.T) {
	clearSecretEnv(t, "R2SYNC_MIRROR_TOOT_MASTODON_ACCESS_TOKEN")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tok"), []byte("file-SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.toml")
	text := strings.Replace(mastodonMinimal, `access_token = "tok-SECRET"`, `access_token_file = "tok"`, 1)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Mirrors()[0].Mastodon.AccessToken.Value(); got != "file-SECRET" {
		t.Errorf("token from file = %q", got)
	}
	t.Setenv("R2SYNC_MASTODON_ACCESS_TOKEN", "env-SECRET")
	cfg, err = config.Load(writeConfig(t, strings.Replace(mastodonMinimal, "access_token = \"tok-SECRET\"\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Mirrors()[0].Mastodon.AccessToken.Value(); got != "env-SECRET" {
		t.Errorf("token from env = %q", got)
	}
	if s := strings.Join([]string{cfg.Mirrors()[0].Mastodon.AccessToken.String()}, ""); strings.Contains(s, "SECRET") {
		t.Errorf("a Secret prints its value: %q", s)
	}
}

func TestSourceErrors(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"unknown source", strings.Replace(mastodonMinimal, `"mastodon"`, `"myspace"`, 1),
			`source: must be "twitter", "mastodon" or "bluesky" (got "myspace")`},
		{"no server", strings.Replace(mastodonMinimal, "server = \"https://mastodon.example\"\n", "", 1),
			`mastodon.server: required, such as "https://mastodon.social"`},
		{"server not a URL", strings.Replace(mastodonMinimal, `"https://mastodon.example"`, `"mastodon.example"`, 1),
			`mastodon.server: must be an http(s) URL such as "https://mastodon.social" (got "mastodon.example")`},
		{"no token", strings.Replace(mastodonMinimal, "access_token = \"tok-SECRET\"\n", "", 1),
			`mastodon.access_token: required (set it, mastodon.access_token_file, or $R2SYNC_MASTODON_ACCESS_TOKEN)`},
		{"private visibility", strings.Replace(mastodonMinimal, "[mastodon]\n", "[mastodon]\nvisibility = [\"public\", \"private\"]\n", 1),
			`mastodon.visibility: private and direct posts are never mirrored; only "public" and "unlisted" may be listed (got "private")`},
		{"content warning", strings.Replace(mastodonMinimal, "[mastodon]\n", "[mastodon]\ncontent_warning = \"hide\"\n", 1),
			`mastodon.content_warning: must be skip, spoiler or full (got "hide")`},
		{"poll interval", strings.Replace(mastodonMinimal, "[mastodon]\n", "[mastodon]\npoll_interval = \"100ms\"\n", 1),
			`mastodon.poll_interval: must be between 1s and 24h (got "100ms")`},
		{"no account", strings.Replace(blueskyMinimal, "handle = \"alice.bsky.social\"\n", "", 1),
			`bluesky.handle: required (or bluesky.did), such as "alice.bsky.social"`},
		{"handle and did", strings.Replace(blueskyMinimal, "[bluesky]\n", "[bluesky]\ndid = \"did:plc:ewvi7nxzyoun6zhxrhs64oiz\"\n", 1),
			`bluesky.did: set bluesky.handle or bluesky.did, not both (got "did:plc:ewvi7nxzyoun6zhxrhs64oiz")`},
		{"bad did", strings.Replace(blueskyMinimal, `handle = "alice.bsky.social"`, `did = "did:plc:x"`, 1),
			`bluesky.did: must be a DID such as "did:plc:ewvi7nxzyoun6zhxrhs64oiz" or "did:web:example.com" (got "did:plc:x")`},
		{"jetstream scheme", strings.Replace(blueskyMinimal, "[bluesky]\n", "[bluesky]\njetstream = \"https://jetstream.example/subscribe\"\n", 1),
			`bluesky.jetstream: must be a ws(s) URL such as "wss://jetstream2.us-east.bsky.network/subscribe", or "" to poll only (got "https://jetstream.example/subscribe")`},
		{"unknown key", strings.Replace(blueskyMinimal, "[bluesky]\n", "[bluesky]\nfirehose = true\n", 1),
			`unknown key bluesky.firehose`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearSecretEnv(t)
			path := writeConfig(t, tt.content)
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("Load accepted it")
			}
			if want := path + ": " + tt.want; err.Error() != want {
				t.Errorf("error\n got %s\nwant %s", err, want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error shows a secret: %q", err)
			}
		})
	}
}
