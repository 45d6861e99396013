package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/config"
)

// mirrorsHead is the top of a valid multi-mirror config; the cases below
// append [[mirror]] tables to it.
const mirrorsHead = `[twitter]
consumer_key = "ck"
consumer_secret = "cs-SECRET"
[renren]
password = "pw-SECRET"
`

// mirror is a valid [[mirror]] table for name, with extra lines at its end.
func mirror(name, jid string, extra ...string) string {
	return fmt.Sprintf("[[mirror]]\nname = %q\n  [mirror.twitter]\n  access_token = \"at\"\n  access_secret = \"as-SECRET\"\n  [mirror.renren]\n  jid = %q\n", name, jid) +
		strings.Join(extra, "\n") + "\n"
}

// inTwitter adds line to the [mirror.twitter] table of m, a mirror(...).
func inTwitter(m, line string) string {
	return strings.Replace(m, "  [mirror.renren]\n", "  "+line+"\n  [mirror.renren]\n", 1)
}

// TestMirrorErrors: each bad multi-mirror config is one line naming the
// whole path of the key (and the line where the file shows it), the rule
// and the value. cmd exits 78 on any error from Load.
func TestMirrorErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	alice := mirror("alice", "1@talk.xiaonei.com")
	bob := mirror("bob", "2@talk.xiaonei.com")
	tests := []struct {
		name, content string
		want          string // the whole error after "<path>: "
	}{
		{"missing jid", alice + "[[mirror]]\nname = \"bob\"\n[mirror.twitter]\naccess_token = \"at\"\naccess_secret = \"as\"\n",
			`mirror[2] ("bob").renren.jid: required`},
		{"duplicate name", alice + bob + mirror("bob", "3@talk.xiaonei.com"),
			`mirror[3].name: "bob" is already used by mirror[2]`},
		{"name with capitals", mirror("Alice", "1@talk.xiaonei.com"),
			`mirror[1].name: must be 1 to 40 of a-z, 0-9 and - (got "Alice")`},
		{"name with a slash", mirror("../etc", "1@talk.xiaonei.com"),
			`mirror[1].name: must be 1 to 40 of a-z, 0-9 and - (got "../etc")`},
		{"name too long", mirror(strings.Repeat("a", 41), "1@talk.xiaonei.com"),
			`mirror[1].name: must be 1 to 40 of a-z, 0-9 and - (got "` + strings.Repeat("a", 41) + `")`},
		{"name missing", strings.Replace(alice, "name = \"alice\"\n", "", 1),
			`mirror[1].name: required, such as name = "alice" (1 to 40 of a-z, 0-9 and -)`},
		{"name not a string", strings.Replace(alice, `name = "alice"`, `name = 7`, 1),
			`line 7: mirror[1].name: incompatible types: TOML value has type int64; destination has type string`},
		{"unknown key", alice + bob + "  acces_token = \"x\"\n",
			`line 22: mirror[2] ("bob").renren.acces_token: unknown key`},
		{"unknown key in a dotted table", strings.Replace(alice, "name = \"alice\"\n", "name = \"alice\"\ntwitter.acces_token = \"x\"\n", 1),
			`line 8: mirror[1] ("alice").twitter.acces_token: unknown key`},
		{"key in the wrong case", strings.Replace(alice, "access_token =", "Access_Token =", 1),
			`line 9: mirror[1] ("alice").twitter.Access_Token: unknown key (keys are case-sensitive: did you mean twitter.access_token?)`},
		{"unknown table", alice + "  [mirror.log]\n  level = \"debug\"\n",
			`line 14: mirror[1] ("alice").log: unknown key`},
		{"not a table", strings.Replace(alice, "name = \"alice\"\n", "name = \"alice\"\nsync = true\n", 1),
			`line 8: mirror[1] ("alice").sync: must be a table, written [mirror.sync]`},
		{"a table instead of tables", "[mirror]\nname = \"alice\"\n" + mirrorsHead,
			`mirror: must be tables, one [[mirror]] per mirror`},
		{"no tables", "mirror = []\n" + mirrorsHead,
			`mirror: has no tables: write one [[mirror]] per mirror, or remove it`},
		{"bare integer duration", alice + inTwitter(bob, "poll_interval = 60"),
			`line 19: mirror[2] ("bob").twitter.poll_interval: must be a quoted duration such as "60s" (got 60; a bare number would mean nanoseconds)`},
		{"wrong type", alice + "  [mirror.sync]\n  include_replies = \"yes\"\n",
			`line 15: mirror[1] ("alice").sync.include_replies: incompatible types: TOML value has type string; destination has type boolean`},
		{"two mirrors on one state file", alice + "  [mirror.state]\n  file = \"/srv/r2/s.json\"\n" + bob + "  [mirror.state]\n  file = \"/srv/r2/../r2/s.json\"\n",
			`mirror[2] ("bob").state.file: "/srv/r2/../r2/s.json" is already used by mirror[1] ("alice")`},
		{"a state file another mirror's name makes", alice + bob + "  [mirror.state]\n  file = \"/var/lib/r2sync/alice.json\"\n",
			`mirror[2] ("bob").state.file: "/var/lib/r2sync/alice.json" is already used by mirror[1] ("alice")`},
		{"state.file with mirrors", "[state]\nfile = \"/var/lib/r2sync/state.json\"\n" + alice,
			`state.file: not used with [[mirror]], where each mirror's state is <state.dir>/<name>.json or its [mirror.state] file: remove it`},
		{"state.dir is a file", "[state]\ndir = \"" + notDir + "\"\n" + alice,
			`state.dir: "` + notDir + `" is not a directory`},
		{"state.dir without mirrors", strings.Replace(minimal, "[state]\n", "[state]\ndir = \"/var/lib/r2sync\"\n", 1),
			`state.dir: used only with [[mirror]]; the state of a config without it is state.file (got "/var/lib/r2sync")`},
		{"jid domain", mirror("alice", "1@b<x>"),
			`mirror[1] ("alice").renren.jid: domain "b<x>" is not a valid domain name`},
		{"address port", alice + "  address = \"talk.xiaonei.com:99999\"\n",
			`mirror[1] ("alice").renren.address: port 99999 out of range 1-65535`},
		{"template", alice + "  [mirror.sync]\n  template = \"{{range 9}}x{{end}}\"\n",
			`mirror[1] ("alice").sync.template: {{range}} is not allowed in a status template: a loop or recursion could run forever (got "{{range 9}}x{{end}}")`},
		{"api base", inTwitter(alice, `api_base = "https://api.x.com:70000/2/"`),
			`mirror[1] ("alice").twitter.api_base: port 70000 out of range 1-65535`},
		{"missing secret", strings.Replace(alice+bob, "  access_secret = \"as-SECRET\"\n", "", 2),
			`mirror[1] ("alice").twitter.access_secret: required (set it, twitter.access_secret_file, or $R2SYNC_MIRROR_ALICE_TWITTER_ACCESS_SECRET); ` +
				`mirror[2] ("bob").twitter.access_secret: required (set it, twitter.access_secret_file, or $R2SYNC_MIRROR_BOB_TWITTER_ACCESS_SECRET)`},
		{"value and file in a mirror", alice + "  password = \"x\"\n  password_file = \"pw\"\n",
			`mirror[1] ("alice").renren.password and renren.password_file are both set: keep one`},
		{"missing secret file", alice + "  password_file = \"nope\"\n",
			`mirror[1] ("alice").renren.password_file: open ` + "DIR" + `/nope: no such file or directory`},
		{"one XMPP account, two passwords", alice + bob + mirror("carol", "2@talk.xiaonei.com", `  password = "other"`, `  resource = "c"`),
			`mirror[3] ("carol").renren: same XMPP account as mirror[2] ("bob") (jid "2@talk.xiaonei.com"), whose session it shares, but sets password, resource differently: give both the same [renren] values`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearSecretEnv(t)
			content := tt.content
			if !strings.Contains(content, "[twitter]") {
				content = mirrorsHead + content
			}
			path := writeConfig(t, content)
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("Load accepted it")
			}
			want := path + ": " + strings.ReplaceAll(tt.want, "DIR", filepath.Dir(path))
			if err.Error() != want {
				t.Errorf("error\n got %s\nwant %s", err, want)
			}
			if strings.ContainsAny(err.Error(), "\n\r") || strings.Contains(err.Error(), "-SECRET") {
				t.Errorf("error spans lines or shows a secret: %q", err)
			}
		})
	}
}

// TestMirrorValidationRules: every rule Validate applies to the top-level
// sections applies to each mirror's merged values, named by its path; a
// bad default that mirrors inherit is named once, by its top-level key.
func TestMirrorValidationRules(t *testing.T) {
	clearSecretEnv(t)
	alice := mirror("alice", "1@talk.xiaonei.com")
	bob := inTwitter(mirror("bob", "2@talk.xiaonei.com"), `poll_interval = "5ns"`)
	inherited := strings.Replace(mirrorsHead, "[renren]\n", "[renren]\nping_interval = \"1s\"\n", 1)
	path := writeConfig(t, inherited+alice+bob+"[log]\nlevel = \"loud\"\n")
	_, err := config.Load(path)
	want := path + `: renren.ping_interval: must be between 5s and 1h (got "1s"); ` +
		`mirror[2] ("bob").twitter.poll_interval: must be between 1s and 24h (got "5ns"); ` +
		`log.level: must be debug, info, warn or error (got "loud")`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

// TestMirrorProblemsCapped: a thousand mirrors missing one key are one
// readable line, not a thousand problems.
func TestMirrorProblemsCapped(t *testing.T) {
	clearSecretEnv(t)
	var b strings.Builder
	b.WriteString(mirrorsHead)
	for i := range 1000 {
		fmt.Fprintf(&b, "[[mirror]]\nname = \"m%d\"\n[mirror.twitter]\naccess_token = \"at\"\naccess_secret = \"as\"\n", i)
	}
	path := writeConfig(t, b.String())
	_, err := config.Load(path)
	if err == nil {
		t.Fatal("Load accepted mirrors without a jid")
	}
	msg := err.Error()
	if n := strings.Count(msg, ".renren.jid: required"); n != 20 || !strings.HasSuffix(msg, "; and 980 more") {
		t.Errorf("%d problems named, error ends %q", n, msg[max(0, len(msg)-40):])
	}
	if !strings.HasPrefix(msg, path+`: mirror[1] ("m0").renren.jid: required; mirror[2] ("m1")`) {
		t.Errorf("error starts %q", msg[:min(len(msg), 120)])
	}
}

// TestSharedJIDAllowed: mirrors on one XMPP account with the same
// [renren] values are valid (they will share a session), even with the
// password in two files.
func TestSharedJIDAllowed(t *testing.T) {
	clearSecretEnv(t)
	dir := t.TempDir()
	for _, f := range []string{"b1", "b2"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("pw-b\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	content := mirrorsHead + mirror("bob", "2@talk.xiaonei.com", `  password_file = "b1"`) + mirror("carol", "2@talk.xiaonei.com", `  password_file = "b2"`)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path); err != nil {
		t.Fatal(err)
	}
}
