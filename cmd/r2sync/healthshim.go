package main

// TEMPORARY: a stand-in for B-health's health.Registry (phaseB.md's
// contract) until it lands; the lead replaces healthRegistry with
// health.NewRegistry and deletes this file.

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/r2sync/r2sync/daemon/health"
)

// healthRegistry holds the monitors of every mirror in one process.
type healthRegistry struct {
	version string
	mu      sync.Mutex
	names   []string
	mons    []*health.Monitor
}

// newHealthRegistry stands for health.NewRegistry(health.RegistryOptions{Version: v}).
func newHealthRegistry(version string) *healthRegistry {
	return &healthRegistry{version: version}
}

// Mirror returns the monitor of mirror name.
func (r *healthRegistry) Mirror(name string, opts health.Options) *health.Monitor {
	opts.Mirror, opts.Version = name, r.version
	m := health.New(opts)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names, r.mons = append(r.names, name), append(r.mons, m)
	return m
}

// Handler serves /healthz, /readyz (ready when every mirror is) and
// /metrics for all mirrors. With one mirror it is that mirror's own.
func (r *healthRegistry) Handler() http.Handler {
	r.mu.Lock()
	names, mons := append([]string(nil), r.names...), append([]*health.Monitor(nil), r.mons...)
	r.mu.Unlock()
	if len(mons) == 1 {
		return mons[0].Handler()
	}
	all := func(f func(*health.Monitor) error) error {
		var errs []error
		for i, m := range mons {
			if err := f(m); err != nil {
				errs = append(errs, fmt.Errorf("mirror %s: %w", names[i], err))
			}
		}
		return errors.Join(errs...)
	}
	answer := func(w http.ResponseWriter, err error) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, oneLineShim(err.Error()))
			return
		}
		fmt.Fprintln(w, "ok")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { answer(w, all((*health.Monitor).Live)) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { answer(w, all((*health.Monitor).Ready)) })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		for _, m := range mons {
			_ = m.WriteMetrics(w)
		}
	})
	return mux
}

func oneLineShim(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ';'
		}
	}
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}
