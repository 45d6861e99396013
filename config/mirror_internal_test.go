package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// TestOverlayWritesNothingThrough: a mirror's value for a slice or a
// pointer key is a new value, never written into the default's (which
// every other mirror shares). The decoder reuses a slice's array and a
// pointer's target, so decoding over a copy of the defaults would change
// them all. No section has such a key yet; [renren] will (issue 12).
func TestOverlayWritesNothingThrough(t *testing.T) {
	type section struct {
		List []string `toml:"list"`
		P    *int     `toml:"p"`
		S    string   `toml:"s"`
		Kept string   `toml:"kept"`
	}
	text := "[[mirror]]\n[mirror.x]\nlist = [\"b\"]\np = 2\ns = \"\"\n"
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Mirror []map[string]toml.Primitive `toml:"mirror"`
	}
	md, err := toml.Decode(text, &doc)
	if err != nil {
		t.Fatal(err)
	}
	one := 1
	list := make([]string, 1, 4)
	list[0] = "a"
	defaults := section{List: list, P: &one, S: "s", Kept: "k"}
	m := defaults
	sub := raw["mirror"].([]map[string]any)[0]["x"].(map[string]any)
	name := func(k string) string { return "mirror[1].x." + k }
	if err := overlay(&m, "x", sub, doc.Mirror[0]["x"], &md, name, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.List, []string{"b"}) || *m.P != 2 || m.S != "" || m.Kept != "k" {
		t.Errorf("mirror = %+v (p %d)", m, *m.P)
	}
	if defaults.List[0] != "a" || *defaults.P != 1 || defaults.S != "s" {
		t.Errorf("defaults changed: %+v (p %d)", defaults, *defaults.P)
	}
}

// TestKeyLine: the line of a key in the n-th [[mirror]] table is found
// past what could look like one, and not guessed where it cannot be told.
func TestKeyLine(t *testing.T) {
	text := `[twitter]
consumer_key = "ck" # [[mirror]]
note = """
[[mirror]]
name = "fake"
"""
list = [
  "[[mirror]]",
  [1, 2],
]
[[mirror]]
name = "alice"
twitter.access_token = 'x'
[ mirror . "renren" ]
jid = "a@b" # comment
[[mirror]] # bob
name = "bob"
  [mirror.twitter]
  multi = '''
poll_interval = "1s"
'''
  poll_interval = "2s"
  inline = { a = [1,
    2] }
  timeout = "3s"
[log]
level = "info"
`
	tests := []struct {
		idx  int
		key  string
		want int
	}{
		{1, "name", 12},
		{1, "twitter.access_token", 13},
		{1, "renren", 14},
		{1, "renren.jid", 15},
		{2, "name", 17},
		{2, "twitter", 18},
		{2, "twitter.poll_interval", 22},
		{2, "twitter.timeout", 25},
		{2, "log.level", 0},
		{1, "twitter.poll_interval", 0},
		{3, "name", 0},
	}
	for _, tt := range tests {
		if got := keyLine(text, tt.idx, tt.key); got != tt.want {
			t.Errorf("keyLine(%d, %q) = %d, want %d", tt.idx, tt.key, got, tt.want)
		}
	}
	// An array of inline tables has no lines to tell apart: no line.
	if got := keyLine(`mirror = [{name = "a"}, {name = "b"}]`, 2, "name"); got != 0 {
		t.Errorf("inline array: line %d", got)
	}
}

// FuzzKeyLine: whatever the text, keyLine returns 0 or a line that
// exists and shows the key's last part, and never panics.
func FuzzKeyLine(f *testing.F) {
	f.Add("[[mirror]]\nname = \"a\"\n[mirror.twitter]\nx = 1\n", 1, "twitter.x")
	f.Add("[[mirror]]\nt.x = \"\"\"\n[[mirror]]\n\"\"\"\n[[mirror]]\nt.x = 2", 2, "t.x")
	f.Add("[[mirror]]\n'a.b'.\"c\\\"\" = [\n{}, # ]\n]\n", 1, "a.b.c")
	f.Fuzz(func(t *testing.T, text string, idx int, key string) {
		n := keyLine(text, idx, key)
		if n == 0 {
			return
		}
		lines := strings.Split(text, "\n")
		parts := strings.Split(key, ".")
		if n < 0 || n > len(lines) || !strings.Contains(lines[n-1], parts[len(parts)-1]) {
			t.Fatalf("keyLine = %d for %q in %q", n, key, text)
		}
	})
}
