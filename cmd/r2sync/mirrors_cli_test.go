package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cliMirrors is a valid two-mirror config in dir, with extra appended.
func cliMirrors(dir, extra string) string {
	return fmt.Sprintf(`[twitter]
consumer_key = "ck"
consumer_secret = "cs-SECRET"
[renren]
password = "pw-SECRET"
[state]
dir = %q
[[mirror]]
name = "alice"
  [mirror.twitter]
  access_token = "at"
  access_secret = "as-SECRET"
  [mirror.renren]
  jid = "1@talk.xiaonei.com"
[[mirror]]
name = "bob"
  [mirror.twitter]
  access_token = "bt"
  access_secret = "bs-SECRET"
  [mirror.renren]
  jid = "2@talk.xiaonei.com"
`, filepath.Join(dir, "state")) + extra
}

// TestMirrorsBadConfigExit78: every command refuses a bad multi-mirror
// config with exit 78 and one line naming the key's whole path.
func TestMirrorsBadConfigExit78(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct{ name, extra, want string }{
		{"missing jid", "[[mirror]]\nname = \"carol\"\n  [mirror.twitter]\n  access_token = \"ct\"\n  access_secret = \"cs\"\n", `mirror[3] ("carol").renren.jid: required`},
		{"duplicate name", "[[mirror]]\nname = \"bob\"\n  [mirror.twitter]\n  access_token = \"ct\"\n  access_secret = \"cs\"\n  [mirror.renren]\n  jid = \"3@talk.xiaonei.com\"\n", `mirror[3].name: "bob" is already used by mirror[2]`},
		{"bad name", "[[mirror]]\nname = \"Carol\"\n  [mirror.twitter]\n  access_token = \"ct\"\n  access_secret = \"cs\"\n  [mirror.renren]\n  jid = \"3@talk.xiaonei.com\"\n", `mirror[3].name: must be 1 to 40`},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".toml")
		if err := os.WriteFile(path, []byte(cliMirrors(dir, tt.extra)), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"run", "check"} {
			code, _, stderr := r2sync(t, cmd, "--config", path)
			if code != exitConfig || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("%s, %s: exit %d, stderr %q; want 78 and one line with %q", tt.name, cmd, code, stderr, tt.want)
			}
		}
	}
}

// TestMirrorFlag: with several mirrors, post, state reset and status
// without --mirror say which names there are; an unknown name exits 78
// naming it; --mirror picks the mirror's own state file.
func TestMirrorFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cliMirrors(dir, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"post", "hi"}, {"state", "reset"}, {"login"}} {
		a := append(append([]string{}, args...), "--config", path)
		if args[0] == "post" {
			a = []string{"post", "--config", path, "hi"}
		}
		code, _, stderr := r2sync(t, a...)
		if code != exitUsage || !strings.Contains(stderr, "alice, bob") {
			t.Errorf("%v without --mirror: exit %d, stderr %q; want 2 listing alice, bob", args, code, stderr)
		}
		a = append([]string{args[0]}, "--mirror", "nobody", "--config", path)
		if args[0] == "state" {
			a = []string{"state", "reset", "--mirror", "nobody", "--config", path}
		}
		if args[0] == "post" {
			a = append(a, "hi")
		}
		code, _, stderr = r2sync(t, a...)
		if code != exitConfig || !strings.Contains(stderr, `"nobody"`) {
			t.Errorf("%v --mirror nobody: exit %d, stderr %q; want 78 naming it", args, code, stderr)
		}
	}
	bob := filepath.Join(dir, "state", "bob.json")
	alice := filepath.Join(dir, "state", "alice.json")
	for _, f := range []string{alice, bob} {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(`{"version":1}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if code, stdout, stderr := r2sync(t, "state", "reset", "--mirror", "bob", "--config", path); code != 0 || !strings.Contains(stdout, bob) {
		t.Errorf("state reset --mirror bob: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(bob); !os.IsNotExist(err) {
		t.Errorf("bob's state file still there: %v", err)
	}
	if _, err := os.Stat(alice); err != nil {
		t.Errorf("alice's state file gone: %v", err)
	}
	code, stdout, stderr := r2sync(t, "status", "--config", path)
	if code != 0 || !strings.Contains(stdout, "MIRROR") || !strings.Contains(stdout, "alice") || !strings.Contains(stdout, "2@talk.xiaonei.com") {
		t.Errorf("status: exit %d, want one row per mirror\n%s%s", code, stdout, stderr)
	}
	t.Logf("status:\n%s", stdout)
}

// TestCheckMirrors: check checks every mirror and names those that failed.
func TestCheckMirrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	closed := closedPort(t)
	text := strings.Replace(cliMirrors(dir, ""), "[twitter]\n", fmt.Sprintf("[twitter]\napi_base = \"http://%s/1.1/\"\n", closed), 1)
	text = strings.Replace(text, "[renren]\n", fmt.Sprintf("[renren]\naddress = %q\n", closed), 1)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := r2sync(t, "check", "--config", path)
	if code != exitFail || !strings.Contains(stderr, "check failed for mirror(s) alice, bob") {
		t.Errorf("check: exit %d, stderr %q; want 1 naming alice, bob", code, stderr)
	}
	for _, want := range []string{"mirror alice: twitter: FAILED", "mirror alice: renren: FAILED", "mirror bob: twitter: FAILED", "mirror bob: renren: FAILED"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
}
