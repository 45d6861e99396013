package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/shard"
)

func TestResolveShard(t *testing.T) {
	tests := []struct {
		name     string
		spec     string
		count    int
		env      map[string]string
		want     *shard.Shard
		wantErr  string
		wantCode int
	}{
		{name: "none", want: nil},
		{name: "flag", spec: "1/3", want: &shard.Shard{Index: 1, Count: 3}},
		{name: "flag pod name and count", spec: "r2sync-2", count: 4, want: &shard.Shard{Index: 2, Count: 4}},
		{name: "env pod name", env: map[string]string{"R2SYNC_SHARD": "r2sync-3", "R2SYNC_SHARDS": "4"}, want: &shard.Shard{Index: 3, Count: 4}},
		{name: "flag beats env", spec: "0/2", env: map[string]string{"R2SYNC_SHARD": "r2sync-3", "R2SYNC_SHARDS": "4"}, want: &shard.Shard{Index: 0, Count: 2}},
		{name: "flag pod name, env count", spec: "r2sync-1", env: map[string]string{"R2SYNC_SHARDS": "2"}, want: &shard.Shard{Index: 1, Count: 2}},
		{name: "count flag and env disagree", spec: "1/3", count: 4, wantErr: "--shard: shard \"1/3\": count 3 disagrees", wantCode: exitUsage},
		{name: "count alone is ignored", env: map[string]string{"R2SYNC_SHARDS": "4"}, want: nil},
		{name: "bad flag", spec: "3/3", wantErr: "--shard: shard \"3/3\": index 3 is not below the count 3", wantCode: exitUsage},
		{name: "bad env", env: map[string]string{"R2SYNC_SHARD": "r2sync-1"}, wantErr: "R2SYNC_SHARD: shard \"r2sync-1\": no shard count", wantCode: exitConfig},
		{name: "bad count", env: map[string]string{"R2SYNC_SHARD": "r2sync-1", "R2SYNC_SHARDS": "four"}, wantErr: `R2SYNC_SHARDS: must be a whole number ≥ 1 (got "four")`, wantCode: exitConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{getenv: func(k string) string { return tt.env[k] }}
			got, err := resolveShard(e, tt.spec, tt.count)
			if tt.wantErr != "" {
				ee, ok := err.(*exitError)
				if !ok || ee.code != tt.wantCode || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q with exit %d", err, tt.wantErr, tt.wantCode)
				}
				return
			}
			if err != nil || (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Fatalf("resolveShard = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestShardsCommand(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("[twitter]\nconsumer_key = \"k\"\n\n")
	names := []string{"alice", "bob", "carol", "dave", "eve", "frank"}
	for _, n := range names {
		b.WriteString("[[mirror]]\nname = \"" + n + "\"\n  [mirror.renren]\n  jid = \"" + n + "@example.org\"\n\n")
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	if err := cmdShards(t.Context(), e, []string{"--config", path, "--of", "3"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(names)+1 || strings.Fields(lines[0])[0] != "SHARD" {
		t.Fatalf("output:\n%s", out.String())
	}
	seen := map[string]bool{}
	last := -1
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		sh, err := shard.Parse(f[0], 3)
		if err != nil || len(f) != 2 {
			t.Fatalf("line %q: %v", l, err)
		}
		if want := shard.Of(f[1], 3); sh.Index != want {
			t.Errorf("%s on %v, want %d", f[1], sh, want)
		}
		if sh.Index < last {
			t.Errorf("lines not by shard: %q", out.String())
		}
		last = sh.Index
		seen[f[1]] = true
	}
	if len(seen) != len(names) {
		t.Errorf("mirrors listed %v, want each of %v once", seen, names)
	}
	for _, args := range [][]string{{"--config", path}, {"--config", path, "--of", "0"}, {"--config", path, "--of", "2", "x"}} {
		if err := cmdShards(t.Context(), e, args); err == nil || err.(*exitError).code != exitUsage {
			t.Errorf("shards %v: %v, want a usage error", args, err)
		}
	}
}

func TestRequireToken(t *testing.T) {
	const token = "0123456789abcdef-token"
	reg := health.NewRegistry(health.RegistryOptions{Now: func() time.Time { return time.Unix(0, 0) }})
	h := requireToken(token, endpoints(reg))
	tests := []struct {
		path, auth string
		want       int
	}{
		{"/healthz", "", http.StatusOK},
		{"/readyz", "", http.StatusServiceUnavailable}, // no mirrors, but no 401
		{"/", "", http.StatusUnauthorized},
		{"/api/mirrors", "", http.StatusUnauthorized},
		{"/metrics", "", http.StatusUnauthorized},
		{"/metrics", "Bearer wrong", http.StatusUnauthorized},
		{"/metrics", "Basic " + token, http.StatusUnauthorized},
		{"/metrics", "Bearer " + token + "x", http.StatusUnauthorized},
		{"/nothing", "", http.StatusUnauthorized},
		{"/metrics", "Bearer " + token, http.StatusOK},
		{"/", "bearer " + token, http.StatusOK},
		{"/api/mirrors", "Bearer " + token, http.StatusOK},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, tt.path, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("GET %s (%q) = %d, want %d", tt.path, tt.auth, rec.Code, tt.want)
		}
		if rec.Code == http.StatusUnauthorized {
			if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("GET %s: WWW-Authenticate %q", tt.path, got)
			}
			if strings.Contains(rec.Body.String(), token) {
				t.Errorf("401 body shows the token")
			}
		}
	}
}

func TestSourceAccount(t *testing.T) {
	for tok, want := range map[string]string{"12345-abcdef": "user 12345", "abc-def": "", "nodash": "", "-x": ""} {
		w := &wiring{}
		w.cfg.Twitter.AccessToken = config.Secret(tok)
		if got := sourceAccount(w); got != want {
			t.Errorf("sourceAccount(%q) = %q, want %q", tok, got, want)
		}
	}
	m := &wiring{kind: config.SourceMastodon}
	m.cfg.Mastodon.Server = "https://mastodon.example/"
	b := &wiring{kind: config.SourceBluesky}
	b.cfg.Bluesky.Handle = "alice.bsky.social"
	d := &wiring{kind: config.SourceBluesky}
	d.cfg.Bluesky.DID = "did:plc:abc"
	for w, want := range map[*wiring]string{m: "at mastodon.example", b: "@alice.bsky.social", d: "did:plc:abc"} {
		if got := sourceAccount(w); got != want {
			t.Errorf("%s: sourceAccount = %q, want %q", w.kind, got, want)
		}
	}
}

// A shard without mirrors is live and ready (a StatefulSet's rollout
// waits for every pod) and keeps the token rule.
func TestIdleShard(t *testing.T) {
	listen := closedPort(t)
	const token = "idle-token-0123456789"
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- idleShard(ctx, config.HTTP{Listen: listen, Token: token}, zap.NewNop(), &shard.Shard{Index: 3, Count: 4})
	}()
	var code int
	var body string
	waitFor(t, "the idle shard's /readyz", 10*time.Second, func() bool {
		var err error
		code, body, err = httpGet(ctx, "http://"+listen+"/readyz")
		return err == nil
	})
	if code != http.StatusOK || body != "ok: no mirror on shard 3/4" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, _, _ := httpGetAll(ctx, "http://"+listen+"/api/mirrors", ""); code != http.StatusUnauthorized {
		t.Errorf("/api/mirrors without the token = %d", code)
	}
	if code, body, _ := httpGetAll(ctx, "http://"+listen+"/api/mirrors", token); code != http.StatusOK || !strings.Contains(body, `"mirrors": []`) {
		t.Errorf("/api/mirrors = %d %s", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("idleShard: %v", err)
	}
}
