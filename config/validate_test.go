package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/config"
)

// TestValidateRejectsWhatFailsAtRunTime: each value here used to pass
// Validate (and so `r2sync check`) and fail only once `run` used it, where
// systemd restarts the daemon in a loop or the daemon retries forever.
// Each is now one config error naming the key and the value.
func TestValidateRejectsWhatFailsAtRunTime(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		edit func(*config.Config)
		want string // the whole error
	}{
		{"jid domain with markup", func(c *config.Config) { c.Renren.JID = "123456@b<x>" },
			`renren.jid: domain "b<x>" is not a valid domain name`},
		{"jid domain with an empty label", func(c *config.Config) { c.Renren.JID = "123456@talk..xiaonei.com" },
			`renren.jid: domain "talk..xiaonei.com" is not a valid domain name`},
		{"jid domain with a quote", func(c *config.Config) { c.Renren.JID = `1@a"b.com` },
			`renren.jid: domain "a\"b.com" is not a valid domain name`},
		{"jid domain of digits", func(c *config.Config) { c.Renren.JID = "1@1.2.3.999" },
			`renren.jid: domain "1.2.3.999" is not a valid domain name`},
		{"jid domain label too long", func(c *config.Config) { c.Renren.JID = "1@" + strings.Repeat("a", 64) + ".com" },
			`renren.jid: domain "` + strings.Repeat("a", 64) + `.com" is not a valid domain name`},
		{"jid localpart with markup", func(c *config.Config) { c.Renren.JID = "12<3@talk.xiaonei.com" },
			`renren.jid: user "12<3" is not a valid JID localpart (no spaces or "&'/:<>)`},
		{"address port too big", func(c *config.Config) { c.Renren.Address = "talk.xiaonei.com:99999" },
			`renren.address: port 99999 out of range 1-65535`},
		{"address port zero", func(c *config.Config) { c.Renren.Address = "talk.xiaonei.com:0" },
			`renren.address: port 0 out of range 1-65535`},
		{"address port beyond uint64", func(c *config.Config) { c.Renren.Address = "talk.xiaonei.com:99999999999999999999999" },
			`renren.address: port 99999999999999999999999 out of range 1-65535`},
		{"address named port", func(c *config.Config) { c.Renren.Address = "talk.xiaonei.com:xmpp" },
			`renren.address: port "xmpp" must be a number from 1 to 65535`},
		{"address bad host", func(c *config.Config) { c.Renren.Address = "b<x>:5222" },
			`renren.address: host "b<x>" is not a valid host name or IP address`},
		{"server name with a space", func(c *config.Config) { c.Renren.ServerName = "talk xiaonei" },
			`renren.server_name: "talk xiaonei" is not a valid host name or IP address`},
		{"resource with a control character", func(c *config.Config) { c.Renren.Resource = "r2\x07" },
			`renren.resource: must be printable text of at most 1023 bytes (got "r2\a")`},
		{"api base port too big", func(c *config.Config) { c.Twitter.APIBase = "https://api.x.com:70000/2/" },
			`twitter.api_base: port 70000 out of range 1-65535`},
		{"api base bad host", func(c *config.Config) { c.Twitter.APIBase = "https://api_x!.com/2/" },
			`twitter.api_base: host "api_x!.com" is not a valid host name or IP address`},
		{"listen bad host", func(c *config.Config) { c.HTTP.Listen = "b<x>:9479" },
			`http.listen: must be host:port with a port from 1 to 65535, such as "127.0.0.1:9479" (got "b<x>:9479")`},
		{"poll interval of years", func(c *config.Config) { c.Twitter.PollInterval.Duration = 100 * 365 * 24 * 3600e9 },
			`twitter.poll_interval: must be between 1s and 24h (got "876000h0m0s")`},
		{"state file is a directory", func(c *config.Config) { c.State.File = dir },
			`state.file: ` + dir + ` is a directory; name a file in it, such as "` + dir + `/state.json"`},
		{"state file ends with a slash", func(c *config.Config) { c.State.File = "/var/lib/r2sync/" },
			`state.file: must be a file path such as "/var/lib/r2sync/state.json" (got "/var/lib/r2sync/")`},
		{"template loops", func(c *config.Config) { c.Sync.Template = "{{range 100000}}{{range 100000}}x{{end}}{{end}}" },
			`sync.template: {{range}} is not allowed in a status template: a loop or recursion could run forever (got "{{range 100000}}{{range 100000}}x{{end}}{{end}}")`},
		{"template loops on the post id", func(c *config.Config) { c.Sync.Template = "{{if .Text}}{{range .ID}}x{{end}}{{end}}" },
			`sync.template: {{range}} is not allowed in a status template: a loop or recursion could run forever (got "{{if .Text}}{{range .ID}}x{{end}}{{end}}")`},
		{"template recursion", func(c *config.Config) {
			c.Sync.Template = `{{define "a"}}{{template "a" .}}{{end}}{{.Text}}`
		}, `sync.template: {{template}} is not allowed in a status template: a loop or recursion could run forever (got "{{define \"a\"}}{{template \"a\" .}}{{end}}{{.Text}}")`},
		{"template block", func(c *config.Config) { c.Sync.Template = `{{with .Text}}{{else}}{{block "b" .}}x{{end}}{{end}}` },
			`sync.template: {{template}} is not allowed in a status template: a loop or recursion could run forever (got "{{with .Text}}{{else}}{{block \"b\" .}}x{{end}}{{end}}")`},
		{"template too long", func(c *config.Config) { c.Sync.Template = strings.Repeat("{{.Text}}", 500) },
			`sync.template: must be at most 4096 bytes (got 4500)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse(strings.NewReader(minimal))
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(&cfg)
			err = cfg.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// TestValidateAccepts: the rules above do not reject what real setups use.
func TestValidateAccepts(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*config.Config)
	}{
		{"renren jid", func(c *config.Config) { c.Renren.JID = "123456@talk.renren.com" }},
		{"single-label domain", func(c *config.Config) { c.Renren.JID = "alice@localhost" }},
		{"idn domain", func(c *config.Config) { c.Renren.JID = "用户@人人网.中国" }},
		{"ipv4 domain", func(c *config.Config) { c.Renren.JID = "1@127.0.0.1" }},
		{"address ipv6", func(c *config.Config) { c.Renren.Address = "[::1]:5222" }},
		{"address top port", func(c *config.Config) { c.Renren.Address = "127.0.0.1:65535" }},
		{"server name", func(c *config.Config) { c.Renren.ServerName = "xmpp.example.org" }},
		{"ca file", func(c *config.Config) { c.Renren.CAFile = ca }},
		{"api base with port", func(c *config.Config) { c.Twitter.APIBase = "http://127.0.0.1:8080/1.1/" }},
		{"api base ipv6", func(c *config.Config) { c.Twitter.APIBase = "http://[::1]:8080/api/" }},
		{"listen any with a token", func(c *config.Config) {
			c.HTTP.Listen, c.HTTP.TokenFile, c.HTTP.Token = ":9479", "token", "0123456789abcdef"
		}},
		{"listen localhost", func(c *config.Config) { c.HTTP.Listen = "localhost:9479" }},
		{"poll interval of a day", func(c *config.Config) { c.Twitter.PollInterval.Duration = 24 * 3600e9 }},
		{"template with if and with", func(c *config.Config) {
			c.Sync.Template = `{{if .URL}}{{with .ScreenName}}@{{.}}: {{end}}{{end}}{{.Text | printf "%.100s"}} {{.CreatedAt.Format "15:04"}}`
		}},
		{"relative state file", func(c *config.Config) { c.State.File = "state.json" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse(strings.NewReader(minimal))
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}
