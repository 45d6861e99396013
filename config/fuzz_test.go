package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/config"
)

// FuzzParse: whatever the file holds, Parse and Validate return a value
// or a one-line error, never panic, and a config that parses has at
// least one mirror, each named in its path. (Secrets are not resolved:
// a fuzzed *_file could name any file, a FIFO included.)
func FuzzParse(f *testing.F) {
	for _, path := range []string{"testdata/full.toml", "testdata/previous-release.toml", "testdata/mirrors.toml", "../deploy/config.example.toml"} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{
		minimal,
		twoMirrors,
		mirrorsHead + mirror("alice", "1@talk.xiaonei.com") + mirror("alice", "1@talk.xiaonei.com"),
		"[[mirror]]\n",
		"[[mirror]]\nname = \"a\"\n[mirror.twitter]\npoll_interval = 5\n",
		"[[mirror]]\nname = \"a\"\n[mirror.twitter.x]\ny = 1\n",
		"[[mirror]]\nname = \"a\"\nrenren = { jid = \"a@b\", password = [1] }\n",
		"[[mirror]]\nname = \"a\"\n[mirror.state]\nfile = \"\"\n[state]\ndir = \"\\u0000\"\n",
		"mirror = [{name = \"a\"}, 3]\n",
		"mirror = 1\n",
		"[mirror]\n",
		"[[mirror]]\nname = \"a\"\n[[mirror.twitter]]\n",
		"[[mirror]]\nname = \"a\"\n[mirror.sync]\nmax_length = 99999999999999999999\n",
		"[[mirror]]\nname = \"\"\"\n[[mirror]]\n\"\"\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := config.Parse(strings.NewReader(text))
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n") {
				t.Fatalf("Parse error spans lines: %q", err)
			}
			return
		}
		ms := cfg.Mirrors()
		if len(ms) == 0 {
			t.Fatal("a parsed config has no mirror")
		}
		for _, m := range ms {
			if len(ms) > 1 && !strings.HasPrefix(m.Path, "mirror[") {
				t.Fatalf("mirror %q has path %q", m.Name, m.Path)
			}
		}
		if err := cfg.Validate(); err != nil && strings.ContainsAny(err.Error(), "\n") {
			t.Fatalf("Validate error spans lines: %q", err)
		}
	})
}
