package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/daemon/statuspage"
)

// endpoints serves one generation's routes: the probes and /metrics from
// reg, the status page and /api/mirrors from its rows.
func endpoints(reg *health.Registry) http.Handler {
	mux := http.NewServeMux()
	h := reg.Handler()
	mux.Handle("GET /healthz", h)
	mux.Handle("GET /readyz", h)
	mux.Handle("GET /metrics", h)
	page := statuspage.Handler(reg, statuspage.Options{Version: versionString()})
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /api/mirrors", page)
	return mux
}

// probes may be asked without the token: the kubelet and container
// health checks carry none, and they tell nothing but ok or why not.
var probes = map[string]bool{"/healthz": true, "/readyz": true}

// requireToken lets through the requests that carry "Authorization:
// Bearer token", and the probes; others get 401 with a WWW-Authenticate
// challenge. The comparison takes the same time whatever the guess.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if probes[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="r2sync"`)
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "401 unauthorized: send Authorization: Bearer with the token of http.token_file", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sourceAccount names the account a mirror's source reads, for the
// status page, without a request: the Bluesky handle (or DID), the
// Mastodon server, and for Twitter the user id that starts every OAuth
// 1.0a access token ("12345-…"), which is public.
func sourceAccount(w *wiring) string {
	switch w.kind {
	case config.SourceMastodon:
		if u, err := url.Parse(w.cfg.Mastodon.Server); err == nil && u.Host != "" {
			return "at " + u.Host
		}
		return ""
	case config.SourceBluesky:
		if w.cfg.Bluesky.Handle != "" {
			return "@" + strings.TrimPrefix(w.cfg.Bluesky.Handle, "@")
		}
		return w.cfg.Bluesky.DID
	}
	id, _, ok := strings.Cut(w.cfg.Twitter.AccessToken.Value(), "-")
	if !ok || id == "" || strings.Trim(id, "0123456789") != "" {
		return ""
	}
	return "user " + id
}

// sentSink is the mirror's sink with a note of each status the server
// received, for the status page (the daemon's Observer hears post ids
// only). Embedding keeps the sink's abilities visible.
type sentSink struct {
	xmppSink
	sent func(text string)
}

// SetStatus implements daemon.Sink.
func (s sentSink) SetStatus(ctx context.Context, text string) error {
	err := s.xmppSink.SetStatus(ctx, text)
	if err == nil {
		s.sent(text)
	}
	return err
}

// peekToken reads http.token_file for a client beside the daemon
// (`status`), relative paths as the daemon resolves them; "" when there
// is none or it cannot be read: the daemon's 401 then says why.
func peekToken(e *env, path string, c config.HTTP) config.Secret {
	if c.TokenFile == "" {
		return ""
	}
	dir := filepath.Dir(path)
	if cd := e.getenv("CREDENTIALS_DIRECTORY"); cd != "" {
		dir = cd
	}
	b, err := config.ReadFileMax(config.SecretFile(dir, c.TokenFile), 64<<10)
	if err != nil {
		return ""
	}
	return config.Secret(strings.TrimRight(string(b), "\r\n"))
}
