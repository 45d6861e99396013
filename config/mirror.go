package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Mirror is one account pair with every default applied: what one mirror
// of the daemon runs on.
type Mirror struct {
	// Name names the mirror in logs, metrics and its state file:
	// DefaultMirror for the top-level layout.
	Name string
	// Path is how errors name the mirror, `mirror[2] ("bob")`, or "" for
	// the top-level layout, whose keys need no prefix.
	Path string
	// Twitter is the top-level [twitter] with [mirror.twitter] over it,
	// key by key; Renren and Sync likewise.
	// Source is the mirror's `source` ("" for Twitter): SourceKind says
	// which; Mastodon and Bluesky are those sections, merged likewise.
	Source   string
	Twitter  Twitter
	Mastodon Mastodon
	Bluesky  Bluesky
	Renren   Renren
	Sync     Sync
	// StateFile is state.file for the top-level layout; with [[mirror]]
	// it is <state.dir>/<name>.json, or the mirror's own [mirror.state]
	// file.
	StateFile string
}

// DefaultMirror names the one mirror of a config without [[mirror]].
const DefaultMirror = "default"

// DefaultStateDir is where the mirrors of a config with [[mirror]] keep
// their state files when state.dir is empty: where state.file's default
// lives.
const DefaultStateDir = "/var/lib/r2sync"

// maxNameLength bounds a mirror's name, which is part of a file name, an
// environment variable and a metric label.
const maxNameLength = 40

// nameRule says what a mirror's name may be.
const nameRule = "1 to 40 of a-z, 0-9 and -"

// layout is what Parse learnt about a file beyond its sections' values.
type layout struct {
	top     map[string]bool // dotted keys the file sets outside [[mirror]]
	mirrors []mirrorEntry   // the [[mirror]] tables; nil without them
}

// mirrorEntry is one [[mirror]] table, merged.
type mirrorEntry struct {
	Mirror
	own map[string]bool // dotted keys its own tables set: "twitter.access_token", "state.file"
}

// mirrorState is [mirror.state]: a mirror may name its own state file,
// e.g. the one its pair used before the config had [[mirror]].
type mirrorState struct {
	File string `toml:"file"`
}

// multi reports whether the config has [[mirror]] tables.
func (c *Config) multi() bool { return c.layout != nil && c.layout.mirrors != nil }

// Mirrors returns every mirror the config describes, in file order. A
// config without [[mirror]] is one mirror named "default" made of the
// top-level sections as they are now. With [[mirror]], the mirrors were
// merged by Parse and their secrets filled by ResolveSecrets (Load does
// both and validates them): editing the top-level sections afterwards
// does not reach them.
func (c Config) Mirrors() []Mirror {
	if !c.multi() {
		return []Mirror{{Name: DefaultMirror, Source: c.Source, Twitter: c.Twitter, Mastodon: c.Mastodon, Bluesky: c.Bluesky,
			Renren: c.Renren, Sync: c.Sync, StateFile: c.State.File}}
	}
	out := make([]Mirror, len(c.layout.mirrors))
	for i := range c.layout.mirrors {
		out[i] = c.layout.mirrors[i].Mirror
	}
	return out
}

// Mirror returns the mirror with the given name, for commands that act on
// one (`--mirror NAME`).
func (c Config) Mirror(name string) (Mirror, bool) {
	for _, m := range c.Mirrors() {
		if m.Name == name {
			return m, true
		}
	}
	return Mirror{}, false
}

// validName reports whether name matches [a-z0-9-]{1,40}.
func validName(name string) bool {
	if name == "" || len(name) > maxNameLength {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// envPrefix starts the environment variables of the mirror's secrets:
// R2SYNC_MIRROR_BOB_ for "bob", R2SYNC_MIRROR_BOB_SMITH_ for "bob-smith";
// "" (none) for a name that is not allowed.
func (m *Mirror) envPrefix() string {
	if !validName(m.Name) {
		return ""
	}
	return "R2SYNC_MIRROR_" + strings.ToUpper(strings.ReplaceAll(m.Name, "-", "_")) + "_"
}

// mirrorSections are the tables a [[mirror]] may have; each overrides the
// top-level section of the same name.
var mirrorSections = map[string]bool{"twitter": true, "mastodon": true, "bluesky": true, "renren": true, "sync": true, "state": true}

// parseMirrors records which keys the file text (decoded as raw) sets and
// merges each [[mirror]] table over the top-level sections, which c
// already holds. Errors name the mirror, the key and, where the text
// shows it, the line.
func (c *Config) parseMirrors(text string, raw map[string]any) error {
	lay := &layout{top: map[string]bool{}}
	c.layout = lay
	for k, v := range raw {
		if k != "mirror" {
			collectKeys(lay.top, k, v)
		}
	}
	v, ok := raw["mirror"]
	if !ok {
		return nil
	}
	tables, ok := mirrorTables(v)
	if !ok {
		return errors.New("mirror: must be tables, one [[mirror]] per mirror")
	}
	if len(tables) == 0 {
		return errors.New("mirror: has no tables: write one [[mirror]] per mirror, or remove it")
	}
	var doc struct {
		Mirror []map[string]toml.Primitive `toml:"mirror"`
	}
	md, err := toml.Decode(text, &doc)
	if err != nil || len(doc.Mirror) != len(tables) {
		// raw came from the same text, so this does not happen.
		return fmt.Errorf("mirror: cannot decode the tables (%d of %d): %v", len(doc.Mirror), len(tables), err)
	}
	lay.mirrors = make([]mirrorEntry, len(tables))
	for i, t := range tables {
		e, err := c.parseMirror(text, i+1, t, doc.Mirror[i], &md)
		if err != nil {
			return err
		}
		lay.mirrors[i] = e
	}
	return nil
}

// mirrorTables returns v as the list of [[mirror]] tables: an array of
// tables, or an array of inline tables.
func mirrorTables(v any) ([]map[string]any, bool) {
	switch v := v.(type) {
	case []map[string]any:
		return v, true
	case []any:
		out := make([]map[string]any, len(v))
		for i, t := range v {
			m, ok := t.(map[string]any)
			if !ok {
				return nil, false
			}
			out[i] = m
		}
		return out, true
	}
	return nil, false
}

// parseMirror merges the idx-th [[mirror]] table t (prims holds its
// undecoded values) over the top-level sections in c.
func (c *Config) parseMirror(text string, idx int, t map[string]any, prims map[string]toml.Primitive, md *toml.MetaData) (mirrorEntry, error) {
	at := func(key string) string {
		if n := keyLine(text, idx, key); n > 0 {
			return fmt.Sprintf("line %d: ", n)
		}
		return ""
	}
	e := mirrorEntry{own: map[string]bool{}}
	e.Path = fmt.Sprintf("mirror[%d]", idx)
	if _, ok := t["name"]; ok {
		if err := md.PrimitiveDecode(prims["name"], &e.Name); err != nil {
			return e, fmt.Errorf("%smirror[%d].name: %s", at("name"), idx, decodeMessage(err))
		}
		if e.Name != "" {
			e.Path = fmt.Sprintf("mirror[%d] (%q)", idx, e.Name)
		}
	}
	e.Source = c.Source
	if _, ok := t["source"]; ok {
		if err := md.PrimitiveDecode(prims["source"], &e.Source); err != nil {
			return e, fmt.Errorf("%s%s.source: %s", at("source"), e.Path, decodeMessage(err))
		}
		e.own["source"] = true
	}
	keys := sortedKeys(t)
	for _, k := range keys {
		if k == "name" || k == "source" {
			continue
		}
		if !mirrorSections[k] {
			return e, fmt.Errorf("%s%s.%s: unknown key%s", at(k), e.Path, k, suggest(k, mirrorSections))
		}
		sub, ok := t[k].(map[string]any)
		if !ok {
			return e, fmt.Errorf("%s%s.%s: must be a table, written [mirror.%s]", at(k), e.Path, k, k)
		}
		collectKeys(e.own, k, sub)
	}

	e.Twitter, e.Mastodon, e.Bluesky, e.Renren, e.Sync = c.Twitter, c.Mastodon, c.Bluesky, c.Renren, c.Sync
	// A secret and its _file are one setting: a mirror that sets either
	// replaces both, or its password_file would clash with a default
	// password ("both are set").
	for _, s := range secretFields(&e.Twitter, &e.Renren, &e.Mastodon, &e.Bluesky) {
		if e.own[s.key] || e.own[s.key+"_file"] {
			*s.value, *s.file = "", ""
		}
	}
	var st mirrorState
	targets := map[string]any{"twitter": &e.Twitter, "mastodon": &e.Mastodon, "bluesky": &e.Bluesky, "renren": &e.Renren, "sync": &e.Sync, "state": &st}
	for _, sec := range keys {
		if sec == "name" || sec == "source" {
			continue
		}
		name := func(k string) string { return e.Path + "." + sec + "." + k }
		where := func(k string) string { return at(sec + "." + k) }
		if err := overlay(targets[sec], sec, t[sec].(map[string]any), prims[sec], md, name, where); err != nil {
			return e, err
		}
	}
	e.Twitter.ExcludeRetweets = !e.Sync.IncludeRetweets
	if e.own["state.file"] {
		e.StateFile = st.File
	} else {
		e.StateFile = filepath.Join(c.stateDir(), e.Name+".json")
	}
	return e, nil
}

// stateDir is state.dir, or its default.
func (c *Config) stateDir() string {
	if c.State.Dir == "" {
		return DefaultStateDir
	}
	return c.State.Dir
}

// overlay decodes the keys of one [mirror.<sec>] table (sub, prim
// undecoded) over dst, a pointer to that section's struct, key by key:
// only the keys the table sets change, each to a freshly decoded value,
// so that nothing the defaults hold (a slice, a pointer) is written
// through. name and at name a key and its line in errors.
func overlay(dst any, sec string, sub map[string]any, prim toml.Primitive, md *toml.MetaData, name, at func(key string) string) error {
	rv := reflect.ValueOf(dst).Elem()
	known := knownKeys(rv.Type(), "")
	if k := unknownKey(sub, known, ""); k != "" {
		full := map[string]bool{}
		for c := range known {
			full[sec+"."+c] = true
		}
		return fmt.Errorf("%s%s: unknown key%s", at(k), name(k), suggest(sec+"."+k, full))
	}
	var prims map[string]toml.Primitive
	if err := md.PrimitiveDecode(prim, &prims); err != nil {
		return fmt.Errorf("%s: %s", strings.TrimSuffix(name(""), "."), decodeMessage(err))
	}
	for _, k := range sortedKeys(sub) {
		f, ok := fieldByTag(rv.Type(), k)
		if !ok {
			return fmt.Errorf("%s%s: unknown key", at(k), name(k))
		}
		v := reflect.New(f.Type)
		if err := md.PrimitiveDecode(prims[k], v.Interface()); err != nil {
			return fmt.Errorf("%s%s: %s", at(k), name(k), decodeMessage(err))
		}
		rv.FieldByIndex(f.Index).Set(v.Elem())
	}
	return nil
}

// unknownKey returns the first key under m (dotted, in sorted order) that
// known lacks, or "". It looks inside a table only where known has keys
// under it (a struct field); any other table is the decoder's to reject.
func unknownKey(m map[string]any, known map[string]bool, prefix string) string {
	for _, k := range sortedKeys(m) {
		full := prefix + k
		if !known[full] {
			return full
		}
		sub, ok := m[k].(map[string]any)
		if !ok {
			continue
		}
		for c := range known {
			if strings.HasPrefix(c, full+".") {
				if u := unknownKey(sub, known, full+"."); u != "" {
					return u
				}
				break
			}
		}
	}
	return ""
}

// fieldByTag returns the field of t whose toml tag is tag.
func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("toml") == tag && tag != "" && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// decodeMessage is what a decode error says about the value, without the
// "toml: line N (last key ...)" that names the shared key of all
// [[mirror]] tables (and the line of the last one).
func decodeMessage(err error) string {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return oneLine(pe.Message)
	}
	msg := strings.TrimPrefix(err.Error(), "toml: ")
	if i := strings.Index(msg, "): "); i >= 0 && strings.Contains(msg[:i], "(last key ") {
		msg = msg[i+len("): "):]
	}
	return oneLine(msg)
}

// collectKeys records key and, for a table, every dotted key under it.
func collectKeys(dst map[string]bool, key string, v any) {
	dst[key] = true
	if m, ok := v.(map[string]any); ok {
		for k, sub := range m {
			collectKeys(dst, key+"."+k, sub)
		}
	}
}

// sortedKeys returns m's keys in order, so that the first of several
// errors is always the same one.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
