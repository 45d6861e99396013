package config

import (
	"slices"
	"strings"
)

// keyLine returns the line on which the idx-th [[mirror]] table (from 1)
// sets key, a dotted key relative to the table such as
// "twitter.access_token", or 0 when it cannot tell. BurntSushi/toml keeps
// one position per dotted key, which all [[mirror]] tables share, so the
// line comes from the text: table headers and key/value lines, skipping
// the lines that multi-line strings, arrays and inline tables span. It
// runs only for an error, on text that is valid TOML; on anything it does
// not follow it gives up rather than name a wrong line.
func keyLine(text string, idx int, key string) int {
	want := strings.Split(key, ".")
	var (
		n      int      // [[mirror]] headers seen
		inside bool     // in a table of mirror idx
		table  []string // that table's key under the mirror: nil, or ["twitter"]
		v      valueScan
	)
	for i, line := range strings.Split(text, "\n") {
		if v.open() {
			v.scan(line)
			continue
		}
		t := strings.TrimLeft(line, " \t")
		if t == "" || t[0] == '#' || t[0] == '\r' {
			continue
		}
		if t[0] == '[' {
			array := strings.HasPrefix(t, "[[")
			k, rest, ok := parseKey(strings.TrimLeft(t, "["))
			if !ok || !strings.HasPrefix(rest, "]") {
				return 0
			}
			switch {
			case array && slices.Equal(k, []string{"mirror"}):
				n++
				if n > idx {
					return 0
				}
				inside, table = n == idx, nil
			case len(k) > 1 && k[0] == "mirror":
				inside, table = n == idx, k[1:]
				if inside && slices.Equal(table, want) {
					return i + 1 // the key is the table, [mirror.log]
				}
			default:
				inside = false
			}
			continue
		}
		k, rest, ok := parseKey(t)
		if !ok || !strings.HasPrefix(rest, "=") {
			return 0
		}
		if inside && slices.Equal(slices.Concat(table, k), want) {
			return i + 1
		}
		v.scan(rest[1:])
	}
	return 0
}

// parseKey reads a dotted key (bare, "basic" or 'literal' parts) from the
// start of s and returns its parts and what follows, spaces trimmed.
func parseKey(s string) (parts []string, rest string, ok bool) {
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return nil, "", false
		}
		var part string
		switch s[0] {
		case '"':
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return nil, "", false
			}
			part, s = s[1:end], s[end+1:]
		case '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil, "", false
			}
			part, s = s[1:end+1], s[end+2:]
		default:
			end := strings.IndexFunc(s, func(r rune) bool {
				return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' && r != '-'
			})
			if end == 0 {
				return nil, "", false
			}
			if end < 0 {
				end = len(s)
			}
			part, s = s[:end], s[end:]
		}
		parts = append(parts, part)
		s = strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(s, ".") {
			return parts, s, true
		}
		s = s[1:]
	}
}

// valueScan follows a TOML value across lines: whether a multi-line
// string, array or inline table is still open at the end of a line.
type valueScan struct {
	depth int    // open [ and {
	quote string // the closing """ or ''' of an open multi-line string
}

func (v *valueScan) open() bool { return v.depth > 0 || v.quote != "" }

// scan reads one line (or the part after "=") of a value.
func (v *valueScan) scan(s string) {
	for i := 0; i < len(s); i++ {
		if v.quote != "" {
			switch {
			case v.quote == `"""` && s[i] == '\\':
				i++
			case strings.HasPrefix(s[i:], v.quote):
				i += len(v.quote) - 1
				// Up to two more quotes belong to the string.
				for k := 0; k < 2 && i+1 < len(s) && s[i+1] == v.quote[0]; k++ {
					i++
				}
				v.quote = ""
			}
			continue
		}
		switch c := s[i]; {
		case c == '#':
			return
		case strings.HasPrefix(s[i:], `"""`), strings.HasPrefix(s[i:], `'''`):
			v.quote = s[i : i+3]
			i += 2
		case c == '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case c == '\'':
			for i++; i < len(s) && s[i] != '\''; i++ {
			}
		case c == '[' || c == '{':
			v.depth++
		case (c == ']' || c == '}') && v.depth > 0:
			v.depth--
		}
	}
}
