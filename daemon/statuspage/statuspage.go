// Package statuspage serves the status page of a process's mirrors: GET /
// is one server-rendered HTML page (inline CSS and SVG, no script, no
// external asset, refreshed by a meta tag) and GET /api/mirrors the same
// rows as JSON. It reads the rows from daemon/health; html/template
// escapes every text, since a status can hold markup.
package statuspage

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/r2sync/r2sync/daemon/health"
)

// Rows gives the mirrors' rows; *health.Registry is one.
type Rows interface {
	Statuses() []health.MirrorStatus
}

var _ Rows = (*health.Registry)(nil)

// Options configure the page.
type Options struct {
	// Refresh is how often the page reloads itself; 0 means 5 s.
	Refresh time.Duration
	// Version is shown in the page's footer.
	Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves GET / and GET /api/mirrors from rows, asked at each
// request.
func Handler(rows Rows, opts Options) http.Handler {
	if opts.Refresh <= 0 {
		opts.Refresh = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		// Nothing on the page needs a script, a frame or a foreign
		// origin: say so, so that an escaping slip still could not run.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		_ = page.Execute(w, newView(rows.Statuses(), opts))
	})
	mux.HandleFunc("GET /api/mirrors", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(newAPI(rows.Statuses(), opts.Now()))
	})
	return mux
}
