package config_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/config"
)

func TestLoadFull(t *testing.T) {
	cfg, err := config.Load("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Twitter.PollInterval.Duration != 90*time.Second {
		t.Errorf("poll_interval = %v", cfg.Twitter.PollInterval)
	}
	if cfg.Twitter.ConsumerSecret.Value() != "cs-SECRET" || cfg.Renren.Password.Value() != "pw-SECRET" {
		t.Error("secrets not read")
	}
	if cfg.Sync.Template != "[r2] {{.Text}}" || !cfg.Sync.IncludeReplies || cfg.Log.Format != "json" {
		t.Errorf("values not read: %+v", cfg)
	}
	if cfg.Twitter.Timeout.Duration != 30*time.Second || cfg.Renren.PingInterval.Duration != time.Minute {
		t.Errorf("defaults lost: %+v", cfg)
	}
}

// minimal is a valid configuration that the table below breaks one way at a time.
const minimal = `[twitter]
consumer_key = "ck"
consumer_secret = "cs-SECRET"
access_token = "at"
access_secret = "as-SECRET"
[renren]
jid = "123456@talk.xiaonei.com"
password = "pw-SECRET"
[state]
file = "state.json"
`

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string // every substring must appear
	}{
		{name: "unknown key", content: minimal + "[log]\nlevl = \"info\"\n", want: []string{"unknown key log.levl"}},
		{name: "unknown section", content: minimal + "[xmpp]\njid = \"a@b\"\n", want: []string{"unknown key xmpp"}},
		{name: "wrong case", content: strings.Replace(minimal, "consumer_key =", "Consumer_Key =", 1), want: []string{"unknown key twitter.Consumer_Key", "did you mean twitter.consumer_key"}},
		{name: "bare integer duration", content: strings.Replace(minimal, "[renren]", "poll_interval = 60\n[renren]", 1), want: []string{"line 6", "twitter.poll_interval", "quoted duration", "got 60"}},
		{name: "bad duration", content: strings.Replace(minimal, "[renren]", "poll_interval = \"1 minute\"\n[renren]", 1), want: []string{"line 6", "twitter.poll_interval", `"1 minute"`}},
		{name: "short poll interval", content: strings.Replace(minimal, "[renren]", "poll_interval = \"5ns\"\n[renren]", 1), want: []string{"twitter.poll_interval: must be between 1s and 24h (got \"5ns\")"}},
		{name: "wrong type", content: minimal + "[sync]\nmax_length = \"140\"\n", want: []string{"line 12", "sync.max_length", "incompatible types"}},
		{name: "syntax", content: minimal + "[sync\n", want: []string{"line 12: expected '.' or ']'"}},
		{name: "missing secret", content: strings.Replace(minimal, "password = \"pw-SECRET\"\n", "", 1), want: []string{"renren.password: required", "R2SYNC_RENREN_PASSWORD"}},
		{name: "bad jid", content: strings.Replace(minimal, "123456@talk.xiaonei.com", "alice", 1), want: []string{"renren.jid: must be a bare JID", `"alice"`}},
		{name: "jid with resource", content: strings.Replace(minimal, "123456@talk.xiaonei.com", "1@talk.xiaonei.com/pidgin", 1), want: []string{"renren.jid"}},
		{name: "bad address", content: strings.Replace(minimal, "[state]", "address = \"talk.xiaonei.com\"\n[state]", 1), want: []string{"renren.address: must be host:port"}},
		{name: "bad template", content: minimal + "[sync]\ntemplate = \"{{.Text\"\n", want: []string{"sync.template: must be a Go text/template"}},
		{name: "bad level", content: minimal + "[log]\nlevel = \"loud\"\n", want: []string{"log.level: must be debug, info, warn or error (got \"loud\")"}},
		{name: "unknown api", content: strings.Replace(minimal, "[twitter]", "[twitter]\napi = \"2\"", 1), want: []string{`twitter.api: must be "v2" or "v1.1"`, `(got "2")`}},
		{name: "api base with query", content: strings.Replace(minimal, "[twitter]", "[twitter]\napi_base = \"https://api.x.com/2/?a=b\"", 1), want: []string{"twitter.api_base: must not have a query"}},
		{name: "api base without slash", content: strings.Replace(minimal, "[twitter]", "[twitter]\napi_base = \"https://example.org/api\"", 1), want: []string{"twitter.api_base: must end with \"/\""}},
		{name: "value and file", content: strings.Replace(minimal, "[state]", "password_file = \"pw\"\n[state]", 1), want: []string{"renren.password and renren.password_file are both set"}},
		{name: "endless secret file", content: strings.Replace(strings.Replace(minimal, "password = \"pw-SECRET\"\n", "", 1), "[state]", "password_file = \"/dev/zero\"\n[state]", 1), want: []string{"renren.password_file: /dev/zero is larger than 64 KiB"}},
		{name: "endless ca file", content: strings.Replace(minimal, "[state]", "ca_file = \"/dev/zero\"\n[state]", 1), want: []string{`renren.ca_file: must be a readable PEM file (got "/dev/zero")`}},
		{name: "huge config", content: minimal + "# " + strings.Repeat("x", 1<<20) + "\n", want: []string{"larger than 1024 KiB: not a config file"}},
		{name: "missing secret file", content: strings.Replace(strings.Replace(minimal, "password = \"pw-SECRET\"\n", "", 1), "[state]", "password_file = \"nope\"\n[state]", 1), want: []string{"renren.password_file", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("R2SYNC_RENREN_PASSWORD", "")
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") {
				t.Errorf("error %q does not start with the path", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			if strings.Contains(msg, "SECRET") {
				t.Errorf("error leaks a secret: %q", msg)
			}
		})
	}
}

func TestSecretsFromFilesAndEnv(t *testing.T) {
	dir := t.TempDir()
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cs"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, "pw"), []byte("from-credentials\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	content := strings.NewReplacer(
		`consumer_secret = "cs-SECRET"`, `consumer_secret_file = "`+filepath.Join(dir, "cs")+`"`,
		`password = "pw-SECRET"`, `password_file = "pw"`,
		`access_secret = "as-SECRET"`, ``,
	).Replace(minimal)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	t.Setenv("R2SYNC_TWITTER_ACCESS_SECRET", "from-env")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]config.Secret{
		"from-file": cfg.Twitter.ConsumerSecret, "from-credentials": cfg.Renren.Password, "from-env": cfg.Twitter.AccessSecret,
	} {
		if got.Value() != name {
			t.Errorf("secret = %q, want %q", got.Value(), name)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := config.Secret("hunter2")
	cfg := config.Default()
	cfg.Renren.Password = s
	b, _ := json.Marshal(cfg)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %+v %#v", s, s, cfg, cfg), string(b)} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if s.Value() != "hunter2" {
		t.Error("Value lost the secret")
	}
}

func TestTwitterAPI(t *testing.T) {
	tests := []struct {
		name, lines     string
		api, base       string
		excludeRetweets bool
	}{
		{name: "defaults", excludeRetweets: true},
		{name: "v1.1 compatible", lines: "api = \"v1.1\"\napi_base = \"https://social.example/api/\"\n", api: "v1.1", base: "https://social.example/api/", excludeRetweets: true},
		{name: "v2", lines: "api = \"v2\"\n", api: "v2", excludeRetweets: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse(strings.NewReader(strings.Replace(minimal, "[twitter]\n", "[twitter]\n"+tt.lines, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if cfg.Twitter.API != tt.api || cfg.Twitter.APIBase != tt.base || cfg.Twitter.ExcludeRetweets != tt.excludeRetweets {
				t.Errorf("got api %q base %q exclude %v", cfg.Twitter.API, cfg.Twitter.APIBase, cfg.Twitter.ExcludeRetweets)
			}
		})
	}
	cfg, err := config.Parse(strings.NewReader(minimal + "[sync]\ninclude_retweets = true\n"))
	if err != nil || cfg.Twitter.ExcludeRetweets {
		t.Errorf("include_retweets = true: exclude %v, %v", cfg.Twitter.ExcludeRetweets, err)
	}
	if _, err := config.Parse(strings.NewReader(minimal + "[twitter]\n\"-\" = true\n")); err == nil {
		t.Error("a key named - was accepted")
	}
}

func TestLoadForLogin(t *testing.T) {
	dir := t.TempDir()
	noAccess := `[twitter]
consumer_key = "ck"
consumer_secret_file = "cs"
access_token_file = "at"
access_secret_file = "as"
[renren]
jid = "nonsense"
`
	if err := os.WriteFile(filepath.Join(dir, "cs"), []byte("cs-SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(noAccess), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadForLogin(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Twitter.ConsumerSecret.Value() != "cs-SECRET" || cfg.Twitter.AccessToken != "" {
		t.Errorf("secrets: consumer %v access %v", cfg.Twitter.ConsumerSecret, cfg.Twitter.AccessToken)
	}
	if got := config.SecretFile(dir, cfg.Twitter.AccessTokenFile); got != filepath.Join(dir, "at") {
		t.Errorf("SecretFile = %q", got)
	}
	if got := config.SecretFile(dir, "/abs/as"); got != "/abs/as" {
		t.Errorf("SecretFile(abs) = %q", got)
	}
	if _, err := config.Load(path); err == nil {
		t.Error("Load accepted a config without access token")
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[twitter]\napi = \"v9\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("R2SYNC_TWITTER_CONSUMER_KEY", "")
	t.Setenv("R2SYNC_TWITTER_CONSUMER_SECRET", "")
	_, err = config.LoadForLogin(bad)
	for _, want := range []string{"twitter.api: must be", "twitter.consumer_key: required", "twitter.consumer_secret: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}
