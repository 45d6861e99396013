package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// maxProblems bounds what Validate reports for a config with [[mirror]]:
// a thousand mirrors missing one key are one fix, not a line of a
// thousand problems.
const maxProblems = 20

// scope names a mirror's keys in problems.
type scope struct {
	path string // `mirror[2] ("bob")`, or "" for the top-level layout
	env  string // the prefix of its secrets' environment variables
	// inherited reports a key whose value is the top-level default, not
	// the mirror's own: a problem with it names the top-level key, where
	// it is fixed, once for every mirror that inherits it.
	inherited func(key string) bool
}

// key names key in a problem.
func (s scope) key(key string) string {
	if s.path == "" || (s.inherited != nil && s.inherited(key)) {
		return key
	}
	return s.path + "." + key
}

// missing is the problem of a key without a value: the mirror's, even
// when the top level sets it empty, since either place can fill it.
func (s scope) missing(key string) string {
	if s.path == "" {
		return key + ": required"
	}
	return s.path + "." + key + ": required"
}

// required is the problem of a secret without a value.
func (s scope) required(key string) string {
	if s.env == "" { // a mirror whose name is not allowed has no variables
		return fmt.Sprintf("%s (set it or %s_file)", s.missing(key), key)
	}
	return fmt.Sprintf("%s (set it, %s_file, or $%s)", s.missing(key), key, envVar(s.env, key))
}

// mirrorScope is how problems name e's keys.
func (c *Config) mirrorScope(e *mirrorEntry) scope {
	return scope{path: e.Path, env: e.envPrefix(), inherited: func(key string) bool {
		sec, _, _ := strings.Cut(key, ".")
		return sec != "state" && !e.own[key] && c.layout.top[key]
	}}
}

// mirrorsProblems checks every mirror: its name, its merged values, its
// state file, and that mirrors on one XMPP account agree on it.
func (c *Config) mirrorsProblems() []string {
	var probs []string
	names := map[string]string{}      // name → mirror[i]
	states := map[string]string{}     // state file → path of its mirror
	jids := map[string]*mirrorEntry{} // lower-cased JID → first mirror on it
	for i := range c.layout.mirrors {
		e := &c.layout.mirrors[i]
		idx := i + 1
		nameOK := false
		switch {
		case e.Name == "":
			probs = append(probs, fmt.Sprintf("mirror[%d].name: required, such as name = \"alice\" (%s)", idx, nameRule))
		case !validName(e.Name):
			probs = append(probs, fmt.Sprintf("mirror[%d].name: must be %s (got %q)", idx, nameRule, e.Name))
		case names[e.Name] != "":
			probs = append(probs, fmt.Sprintf("mirror[%d].name: %q is already used by %s", idx, e.Name, names[e.Name]))
		default:
			names[e.Name] = fmt.Sprintf("mirror[%d]", idx)
			nameOK = true
		}
		probs = append(probs, e.problems(c.mirrorScope(e))...)
		// A bad or repeated name is its own problem; the file it makes
		// need not be another.
		if nameOK || e.own["state.file"] {
			k := samePath(e.StateFile)
			if other, dup := states[k]; dup {
				probs = append(probs, fmt.Sprintf("%s.state.file: %q is already used by %s", e.Path, e.StateFile, other))
			} else {
				states[k] = e.Path
			}
		}
		if jidProblem(e.Renren.JID) == "" {
			k := strings.ToLower(e.Renren.JID)
			if first, ok := jids[k]; !ok {
				jids[k] = e
			} else if diff := renrenDiff(first.Renren, e.Renren); len(diff) > 0 {
				probs = append(probs, fmt.Sprintf("%s.renren: same XMPP account as %s (jid %q), whose session it shares, but sets %s differently: give both the same [renren] values",
					e.Path, first.Path, first.Renren.JID, strings.Join(diff, ", ")))
			}
		}
	}
	return capProblems(probs)
}

// samePath is the key under which two state files are the same file.
func samePath(f string) string {
	if abs, err := filepath.Abs(f); err == nil {
		return abs
	}
	return filepath.Clean(f)
}

// renrenDiff names the [renren] keys two mirrors on one XMPP account set
// differently. Their password files may differ as long as the passwords
// they hold do not.
func renrenDiff(a, b Renren) []string {
	var diff []string
	av, bv := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range av.NumField() {
		tag := av.Type().Field(i).Tag.Get("toml")
		if tag == "" || tag == "-" || tag == "password_file" {
			continue
		}
		if !reflect.DeepEqual(av.Field(i).Interface(), bv.Field(i).Interface()) {
			diff = append(diff, tag)
		}
	}
	return diff
}

// capProblems drops repeats (a bad default that many mirrors inherit is
// one problem) and keeps the first maxProblems.
func capProblems(probs []string) []string {
	seen := map[string]bool{}
	out := probs[:0]
	for _, p := range probs {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if n := len(out) - maxProblems; n > 0 {
		out = append(out[:maxProblems], fmt.Sprintf("and %d more", n))
	}
	return out
}

// stateProblems checks [state] as a whole: state.dir belongs to the
// [[mirror]] layout and state.file to the top-level one.
func (c *Config) stateProblems() []string {
	if !c.multi() {
		if c.State.Dir != "" {
			return []string{fmt.Sprintf("state.dir: used only with [[mirror]]; the state of a config without it is state.file (got %q)", c.State.Dir)}
		}
		return nil
	}
	var probs []string
	if c.layout.top["state.file"] {
		probs = append(probs, "state.file: not used with [[mirror]], where each mirror's state is <state.dir>/<name>.json or its [mirror.state] file: remove it")
	}
	switch dir := c.stateDir(); {
	case strings.ContainsRune(dir, 0):
		probs = append(probs, fmt.Sprintf("state.dir: must be a directory path such as %q (got %q)", DefaultStateDir, dir))
	default:
		if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
			probs = append(probs, fmt.Sprintf("state.dir: %q is not a directory", dir))
		}
	}
	return probs
}

// loginProblems checks what `r2sync login` needs: each mirror's [twitter]
// API and consumer credentials.
func (c *Config) loginProblems() []string {
	if !c.multi() {
		m := c.Mirrors()[0]
		return m.twitterProblems(scope{env: topEnvPrefix}, false)
	}
	var probs []string
	for i := range c.layout.mirrors {
		e := &c.layout.mirrors[i]
		probs = append(probs, e.twitterProblems(c.mirrorScope(e), false)...)
	}
	return capProblems(probs)
}
