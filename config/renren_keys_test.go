package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/config"
)

// withRenren returns the minimal config with extra [renren] lines.
func withRenren(lines string) string {
	return strings.Replace(minimal, "[state]", lines+"\n[state]", 1)
}

func TestRenrenKeys(t *testing.T) {
	dir := t.TempDir()
	feed := filepath.Join(dir, "feed.jsonl")
	cfg, err := config.Parse(strings.NewReader(withRenren(`sasl = ["SCRAM-SHA-256", "PLAIN"]
tls_pin = "sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
tls_min_version = "1.3"
resend_on_reconnect = true
priority = -5
show = "chat"
feed_log = "` + feed + `"
address = "xmpps://xmpp.example.org"`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := cfg.Renren
	if !slices.Equal(r.SASL.List(), []string{"SCRAM-SHA-256", "PLAIN"}) || r.TLSMinVersion != "1.3" ||
		!r.ResendOnReconnect.Bool(false) || r.Priority != -5 || r.Show != "chat" || r.FeedLog != feed {
		t.Errorf("parsed %+v", r)
	}
	def, err := config.Parse(strings.NewReader(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if def.Renren.SASL.List() != nil || def.Renren.ResendOnReconnect != config.SwitchDefault || !def.Renren.ResendOnReconnect.Bool(true) {
		t.Errorf("defaults %+v", def.Renren)
	}
	// Comparable, as a reload needs: same keys, same section.
	again, _ := config.Parse(strings.NewReader(withRenren(`sasl = ["SCRAM-SHA-256", "PLAIN"]`)))
	again2, _ := config.Parse(strings.NewReader(withRenren(`sasl = ["SCRAM-SHA-256", "PLAIN"]`)))
	if again.Renren != again2.Renren || again.Renren == def.Renren {
		t.Error("[renren] sections do not compare by value")
	}
}

func TestRenrenKeyErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, lines, want string
	}{
		{"unknown mechanism", `sasl = ["DIGEST-MD5"]`,
			`renren.sasl: unknown mechanism; use some of SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, or [] for automatic (got "DIGEST-MD5")`},
		{"mechanism twice", `sasl = ["PLAIN", "plain"]`, `renren.sasl: lists a mechanism twice (got "plain")`},
		{"pin not base64", `tls_pin = "sha256/xyz"`,
			`renren.tls_pin: must be sha256/ and the base64 of the SHA-256 of the server's public key (SPKI) (got "sha256/xyz")`},
		{"pin without the prefix", `tls_pin = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="`, `renren.tls_pin: must be sha256/`},
		{"tls version", `tls_min_version = "1.1"`, `renren.tls_min_version: must be "1.2" or "1.3" (got "1.1")`},
		{"priority", `priority = 200`, `renren.priority: must be between -128 and 127 (got "200")`},
		{"show away", `show = "away"`, `renren.show: must be "" or "chat": away, xa and dnd would be posts on Renren (got "away")`},
		{"feed log directory", `feed_log = "` + dir + `"`, `renren.feed_log: ` + dir + ` is not a regular file`},
		{"feed log nowhere", `feed_log = "/nonexistent-r2sync/feed.jsonl"`, `renren.feed_log: directory /nonexistent-r2sync does not exist`},
		{"xmpps without host", `address = "xmpps://"`, `renren.address: must be xmpps://host:port`},
		{"bare name is no jid", ``, `renren.jid: must be a bare JID such as "123456@talk.xiaonei.com" or a Renren id such as "123456" (got "alice")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := withRenren(tt.lines)
			if tt.lines == "" {
				text = strings.Replace(minimal, "123456@talk.xiaonei.com", "alice", 1)
			}
			cfg, err := config.Parse(strings.NewReader(text))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v\nwant %s", err, tt.want)
			}
		})
	}
	t.Run("sasl not a list", func(t *testing.T) {
		_, err := config.Parse(strings.NewReader(withRenren(`sasl = "PLAIN"`)))
		if err == nil || !strings.Contains(err.Error(), "must be a list of SASL mechanism names") {
			t.Errorf("Parse = %v", err)
		}
	})
	t.Run("resend not a bool", func(t *testing.T) {
		_, err := config.Parse(strings.NewReader(withRenren(`resend_on_reconnect = "yes"`)))
		if err == nil || !strings.Contains(err.Error(), "must be true or false") {
			t.Errorf("Parse = %v", err)
		}
	})
	t.Run("bare renren id accepted", func(t *testing.T) {
		cfg, err := config.Parse(strings.NewReader(strings.Replace(minimal, "123456@talk.xiaonei.com", "123456", 1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate = %v", err)
		}
	})
	t.Run("existing feed log file", func(t *testing.T) {
		f := filepath.Join(dir, "f.jsonl")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _ := config.Parse(strings.NewReader(withRenren(`feed_log = "` + f + `"`)))
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate = %v", err)
		}
	})
}
