package health

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// RegistryOptions configure a Registry.
type RegistryOptions struct {
	// Version is reported once for the process as r2sync_build_info{version}.
	Version string
	// Now is the clock of mirrors whose Options have none; nil means
	// time.Now.
	Now func() time.Time
}

// Registry holds the monitors of every mirror in one process and serves
// /metrics, /healthz and /readyz for all of them: live when every mirror
// is live, ready when every mirror is ready. Each mirror's series live in
// a metrics.Set the Registry owns, never in the package-global set of
// VictoriaMetrics/metrics, so that two registries (tests, a reload) never
// share a series.
type Registry struct {
	opts  RegistryOptions
	build *metrics.Set // r2sync_build_info

	mu      sync.Mutex
	mirrors map[string]*Monitor
	sorted  []*Monitor // mirrors by name; rebuilt on registration
}

// NewRegistry returns a Registry with no mirror.
func NewRegistry(opts RegistryOptions) *Registry {
	build := metrics.NewSet()
	build.NewGauge(`r2sync_build_info{version="`+escapeLabel(opts.Version)+`"}`, func() float64 { return 1 })
	return &Registry{opts: opts, build: build, mirrors: map[string]*Monitor{}}
}

// Mirror registers the Monitor of one mirror: every series it exports has
// mirror="name" ("" means DefaultMirror). name wins over opts.Mirror and
// the Registry's Version over opts.Version. Registering a name again
// replaces the earlier Monitor in every answer; the earlier one keeps
// working but is no longer reported.
func (r *Registry) Mirror(name string, opts Options) *Monitor {
	if name == "" {
		name = DefaultMirror
	}
	opts.Mirror = name
	opts.Version = r.opts.Version
	if opts.Now == nil {
		opts.Now = r.opts.Now
	}
	m := newMonitor(r, opts)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mirrors[name] = m
	r.sorted = r.sorted[:0]
	for _, m := range r.mirrors {
		r.sorted = append(r.sorted, m)
	}
	slices.SortFunc(r.sorted, func(a, b *Monitor) int { return strings.Compare(a.opts.Mirror, b.opts.Mirror) })
	return m
}

// monitors returns the registered monitors sorted by name. The slice is
// the caller's.
func (r *Registry) monitors() []*Monitor {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sorted)
}

// MirrorSummary is one mirror's row for `status` or a status page.
type MirrorSummary struct {
	// Name is the mirror's name.
	Name string
	// Summary is the Monitor's Summary().
	Summary string
	// Live is nil while the mirror's loop runs.
	Live error
	// Ready is nil while the mirror does its job.
	Ready error
}

// Summaries returns one row per mirror, sorted by name.
func (r *Registry) Summaries() []MirrorSummary {
	ms := r.monitors()
	out := make([]MirrorSummary, len(ms))
	for i, m := range ms {
		out[i] = MirrorSummary{Name: m.opts.Mirror, Summary: m.Summary(), Live: m.Live(), Ready: m.Ready()}
	}
	return out
}

// maxNamed bounds how many failing mirrors an aggregate answer names, so
// that a thousand broken mirrors give a readable line.
const maxNamed = 10

// aggregate joins the errors of the mirrors whose check fails, naming
// each: `mirror "bob": xmpp session down; mirror "eve": …`.
func aggregate(ms []*Monitor, check func(*Monitor) error) error {
	var parts []string
	failing := 0
	for _, m := range ms {
		if err := check(m); err != nil {
			failing++
			if failing <= maxNamed {
				parts = append(parts, fmt.Sprintf("mirror %q: %s", m.opts.Mirror, oneLine(err.Error(), 200)))
			}
		}
	}
	if failing == 0 {
		return nil
	}
	if failing > maxNamed {
		parts = append(parts, fmt.Sprintf("and %d more of %d mirrors", failing-maxNamed, len(ms)))
	}
	return errors.New(strings.Join(parts, "; "))
}

// Live returns nil when every mirror's loop is running, else an error
// naming the mirrors whose loop is not.
func (r *Registry) Live() error {
	return aggregate(r.monitors(), (*Monitor).Live)
}

// Ready returns nil when every mirror is ready, else an error naming the
// mirrors that are not. A Registry without mirrors is not ready.
func (r *Registry) Ready() error {
	ms := r.monitors()
	if len(ms) == 0 {
		return errors.New("no mirrors")
	}
	return aggregate(ms, (*Monitor).Ready)
}

// Summary is the one line for systemd's STATUS=: the mirror's own summary
// when there is one mirror, else how many are ready and which are not.
func (r *Registry) Summary() string {
	ms := r.monitors()
	switch len(ms) {
	case 0:
		return "no mirrors"
	case 1:
		return ms[0].Summary()
	}
	ready := 0
	var not []string
	for _, m := range ms {
		if err := m.Ready(); err != nil {
			if len(not) < 3 {
				not = append(not, m.opts.Mirror+": "+oneLine(err.Error(), 80))
			}
			continue
		}
		ready++
	}
	s := fmt.Sprintf("%d mirrors, %d ready", len(ms), ready)
	if len(not) > 0 {
		s += "; " + strings.Join(not, "; ")
	}
	if n := len(ms) - ready - len(not); n > 0 {
		s += fmt.Sprintf("; %d more not ready", n)
	}
	return s
}

// FirstPoll is closed once every mirror registered before the call has
// finished a first poll, of either result: a mirror with rejected
// credentials must not hold back the daemon's start-up notice, and its
// error shows in /readyz and STATUS=.
func (r *Registry) FirstPoll() <-chan struct{} {
	ms := r.monitors()
	done := make(chan struct{})
	go func() {
		for _, m := range ms {
			<-m.polledOnce
		}
		close(done)
	}()
	return done
}

// WriteMetrics writes every mirror's metrics in the Prometheus text
// format, each family's HELP and TYPE once, its samples sorted by mirror.
func (r *Registry) WriteMetrics(w io.Writer) error {
	ms := r.monitors()
	sets := make([]*metrics.Set, 0, len(ms)+1)
	sets = append(sets, r.build)
	for _, m := range ms {
		sets = append(sets, m.m.set)
	}
	return writeSets(w, sets)
}
