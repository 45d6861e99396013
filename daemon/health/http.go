package health

import (
	"fmt"
	"io"
	"net/http"

	"github.com/VictoriaMetrics/metrics"
)

// Handler serves GET /healthz (liveness), /readyz (readiness) and
// /metrics (Prometheus text format 0.0.4) for every mirror. Health
// answers are 200 "ok" or 503 with the failing mirrors on one line.
func (r *Registry) Handler() http.Handler {
	return handler(r.Live, r.Ready, r.WriteMetrics)
}

// Handler serves /healthz, /readyz and /metrics for this mirror alone.
func (m *Monitor) Handler() http.Handler {
	return handler(m.Live, m.Ready, m.WriteMetrics)
}

// WriteMetrics writes this mirror's metrics and the build info in the
// Prometheus text exposition format. Every metric but r2sync_build_info
// carries mirror="NAME"; the source's own carry source="NAME" too.
func (m *Monitor) WriteMetrics(w io.Writer) error {
	return writeSets(w, []*metrics.Set{m.reg.build, m.m.set})
}

// maxAnswer bounds a health answer's body.
const maxAnswer = 4096

func handler(live, ready func() error, write func(io.Writer) error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { answer(w, live()) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { answer(w, ready()) })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = write(w)
	})
	return mux
}

func answer(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, oneLine(err.Error(), maxAnswer))
		return
	}
	fmt.Fprintln(w, "ok")
}
