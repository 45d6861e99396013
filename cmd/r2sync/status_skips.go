package main

import (
	"bufio"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// skipCounts reads r2sync_posts_skipped_total{mirror="M",reason="R"} N
// samples: the running daemon's skips by mirror and reason, since it
// started (the state file keeps no counts).
func skipCounts(body string) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "r2sync_posts_skipped_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			continue
		}
		mirror, reason := labelValue(labels, "mirror"), labelValue(labels, "reason")
		if out[mirror] == nil {
			out[mirror] = map[string]int64{}
		}
		out[mirror][reason] += n
	}
	return out
}

// labelValue returns the value of label name in a Prometheus label list
// (`a="x",b="y \"z\""`), unescaped, or "".
func labelValue(labels, name string) string {
	for rest := labels; rest != ""; {
		key, after, ok := strings.Cut(rest, `="`)
		if !ok {
			return ""
		}
		// The value ends at the first quote not escaped by a backslash.
		end := 0
		for end < len(after) && after[end] != '"' {
			if after[end] == '\\' {
				end++
			}
			end++
		}
		if end > len(after) {
			return ""
		}
		raw := after[:end]
		if strings.TrimPrefix(key, ",") == name {
			v, err := strconv.Unquote(`"` + raw + `"`)
			if err != nil {
				return raw
			}
			return v
		}
		rest = strings.TrimPrefix(after[min(end+1, len(after)):], ",")
	}
	return ""
}

// describeSkips says "3 skip_tags, 1 reply", most first, or "none".
func describeSkips(by map[string]int64) string {
	type kv struct {
		reason string
		n      int64
	}
	var list []kv
	for r, n := range by {
		if n > 0 {
			list = append(list, kv{r, n})
		}
	}
	if len(list) == 0 {
		return "none"
	}
	slices.SortFunc(list, func(a, b kv) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.reason, b.reason))
	})
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = fmt.Sprintf("%d %s", e.n, e.reason)
	}
	return strings.Join(parts, ", ")
}
