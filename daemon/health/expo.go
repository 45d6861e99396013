package health

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/VictoriaMetrics/metrics"
)

// familyByName finds a family by name.
var familyByName = func() map[string]family {
	m := make(map[string]family, len(families))
	for _, f := range families {
		m[f.name] = f
	}
	return m
}()

// familyOf returns the family of one sample line.
func familyOf(line []byte) string {
	end := bytes.IndexAny(line, "{ ")
	if end < 0 {
		end = len(line)
	}
	name := string(line[:end])
	if _, ok := familyByName[name]; ok {
		return name
	}
	for _, suffix := range []string{"_sum", "_count"} {
		if base, ok := bytes.CutSuffix(line[:end], []byte(suffix)); ok {
			if f, ok := familyByName[string(base)]; ok && f.typ == "summary" {
				return f.name
			}
		}
	}
	return name
}

// writeSets writes the samples of every set in the Prometheus text
// format 0.0.4, grouped by family in the order of families, each with
// one HELP and TYPE. Within a family the sets keep their order (the
// Registry passes mirrors sorted by name).
func writeSets(w io.Writer, sets []*metrics.Set) error {
	var scratch bytes.Buffer
	byFamily := map[string]*bytes.Buffer{}
	var others []string // families not in the table, in the order met
	for _, s := range sets {
		scratch.Reset()
		s.WritePrometheus(&scratch)
		for rest := scratch.Bytes(); len(rest) > 0; {
			line, tail, _ := bytes.Cut(rest, []byte("\n"))
			rest = tail
			if len(line) == 0 || line[0] == '#' {
				continue
			}
			f := familyOf(line)
			b := byFamily[f]
			if b == nil {
				b = &bytes.Buffer{}
				byFamily[f] = b
				if _, ok := familyByName[f]; !ok {
					others = append(others, f)
				}
			}
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	bw := bufio.NewWriter(w)
	for _, f := range families {
		if b := byFamily[f.name]; b != nil {
			fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
			_, _ = bw.Write(b.Bytes())
		}
	}
	for _, name := range others {
		fmt.Fprintf(bw, "# TYPE %s untyped\n", name)
		_, _ = bw.Write(byFamily[name].Bytes())
	}
	return bw.Flush()
}
