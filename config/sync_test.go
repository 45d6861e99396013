package config_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/config"
)

func TestSyncFilterKeys(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader(minimal + `[sync]
skip_tags = ["noxp", "#nomirror"]
only_tags = ["同步"]
strip_tags = true
skip_pattern = '(?i)\bspoiler\b'
only_pattern = "^\\[xp\\]"
skip_older_than = "8h"
max_per_hour = 20
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := cfg.Mirrors()[0].Sync
	if !slices.Equal(s.SkipTags, []string{"noxp", "#nomirror"}) || !slices.Equal(s.OnlyTags, []string{"同步"}) || !s.StripTags ||
		s.SkipPattern != `(?i)\bspoiler\b` || s.OnlyPattern != `^\[xp\]` || s.SkipOlderThan.Duration != 8*time.Hour || s.MaxPerHour != 20 {
		t.Errorf("parsed %+v", s)
	}
	def, err := config.Parse(strings.NewReader(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if d := def.Sync; d.SkipTags != nil || d.OnlyTags != nil || d.StripTags || d.SkipPattern != "" || d.OnlyPattern != "" || d.SkipOlderThan.Duration != 0 || d.MaxPerHour != 0 {
		t.Errorf("defaults %+v; want every filter off", d)
	}
}

// TestSyncFilterErrors: each bad filter value is one config error naming
// the key, the rule and the value; for a pattern, with RE2's complaint.
func TestSyncFilterErrors(t *testing.T) {
	tests := []struct{ name, lines, want string }{
		{"bad skip_pattern", `skip_pattern = "(unclosed"`,
			"sync.skip_pattern: not a valid RE2 pattern \"(unclosed\": error parsing regexp: missing closing ): `(unclosed`"},
		{"perl-only only_pattern", `only_pattern = "(?<=a)b"`,
			"sync.only_pattern: not a valid RE2 pattern \"(?<=a)b\": error parsing regexp: invalid named capture: `(?<=a)b`"},
		{"empty tag", `skip_tags = ["ok", ""]`, `sync.skip_tags[1]: must be a hashtag such as "noxp" (got "")`},
		{"lone #", `only_tags = ["#"]`, `sync.only_tags[0]: must be a hashtag such as "noxp" (got "#")`},
		{"tag with a space", `skip_tags = ["no xp"]`, `sync.skip_tags[0]: must be one word, without spaces or a second '#' (got "no xp")`},
		{"two tags in one", `only_tags = ["#a#b"]`, `sync.only_tags[0]: must be one word, without spaces or a second '#' (got "#a#b")`},
		{"negative age", `skip_older_than = "-1h"`, `sync.skip_older_than: must be "0s" (no limit) or a positive duration such as "8h" (got "-1h0m0s")`},
		{"negative cap", `max_per_hour = -1`, `sync.max_per_hour: must be 0 (no cap) or more (got -1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse(strings.NewReader(minimal + "[sync]\n" + tt.lines + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate() = %v\nwant %s", err, tt.want)
			}
		})
	}
	// Wrong types and a bare-integer duration fail at Parse, naming the key.
	for _, lines := range []string{`skip_older_than = 3600`, `skip_tags = "noxp"`, `max_per_hour = "3"`} {
		key := strings.Fields(lines)[0]
		_, err := config.Parse(strings.NewReader(minimal + "[sync]\n" + lines + "\n"))
		if err == nil || !strings.Contains(err.Error(), "sync."+key) {
			t.Errorf("Parse(%s) = %v; want an error naming sync.%s", lines, err, key)
		}
	}
}

// TestSyncFilterPerMirror: [mirror.sync] overrides the filter keys one by
// one, as it does the older [sync] keys, and a bad one names the mirror.
func TestSyncFilterPerMirror(t *testing.T) {
	content := mirrorsHead + "[sync]\nskip_tags = [\"noxp\"]\nmax_per_hour = 60\n[state]\ndir = \"" + t.TempDir() + "\"\n" +
		mirror("alice", "1@talk.xiaonei.com", "  [mirror.sync]", "  only_tags = [\"xp\"]", "  max_per_hour = 0") +
		mirror("bob", "2@talk.xiaonei.com")
	cfg, err := config.Parse(strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ms := cfg.Mirrors()
	a, b := ms[0].Sync, ms[1].Sync
	if !slices.Equal(a.SkipTags, []string{"noxp"}) || !slices.Equal(a.OnlyTags, []string{"xp"}) || a.MaxPerHour != 0 {
		t.Errorf("alice %+v", a)
	}
	if !slices.Equal(b.SkipTags, []string{"noxp"}) || b.OnlyTags != nil || b.MaxPerHour != 60 {
		t.Errorf("bob %+v", b)
	}
	// A bad top-level value that both inherit is one problem, named
	// where it is fixed.
	inherited := strings.Replace(content, `skip_tags = ["noxp"]`, `skip_tags = ["no xp"]`, 1)
	cfg, err = config.Parse(strings.NewReader(inherited))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || err.Error() != `sync.skip_tags[0]: must be one word, without spaces or a second '#' (got "no xp")` {
		t.Errorf("Validate() = %v", err)
	}
	bad := strings.Replace(content, `only_tags = ["xp"]`, `skip_pattern = "a("`, 1)
	cfg, err = config.Parse(strings.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), `mirror[1] ("alice").sync.skip_pattern: not a valid RE2 pattern "a(": error parsing regexp: missing closing )`) {
		t.Fatalf("Validate() = %v", err)
	}
}
