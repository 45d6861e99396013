package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// writeMirrorRows prints one row per mirror of cfg: what its state file
// says, and what the running daemon (when [http] listen is set and it
// answers) says of its session and last error.
func writeMirrorRows(ctx context.Context, e *env, cfg config.Config) error {
	sessionUp, lastErr, daemonState := map[string]string{}, map[string]string{}, ""
	var skips map[string]map[string]int64 // nil unless the daemon answered
	if cfg.HTTP.Listen != "" {
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		code, body, err := httpGetAll(hctx, endpointURL(cfg.HTTP.Listen, "/metrics"), cfg.HTTP.Token.Value())
		if err == nil && code == 200 {
			sessionUp = sessionGauges(body)
			skips = skipCounts(body)
			daemonState = "ready"
			if rc, rbody, err := httpGet(hctx, endpointURL(cfg.HTTP.Listen, "/readyz")); err == nil && rc != 200 {
				daemonState = "not ready"
				lastErr = readyErrors(rbody)
			}
		} else if err == nil && code == http.StatusUnauthorized {
			daemonState = "refused the request at " + endpointURL(cfg.HTTP.Listen, "/metrics") + ": the token of http.token_file is missing, unreadable or wrong"
		} else {
			daemonState = "not reachable at " + endpointURL(cfg.HTTP.Listen, "/metrics") + " (is it running?)"
		}
		cancel()
	}
	now := e.now()
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "MIRROR\tSOURCE\tTARGET\tSESSION\tLAST STATUS\tPENDING\tSKIPPED\tLAST ERROR")
	for _, m := range cfg.Mirrors() {
		source := describeSource(m)
		session := "-"
		if v, ok := sessionUp[m.Name]; ok {
			session = map[bool]string{true: "up", false: "down"}[v == "1"]
		}
		last, pending := "never", "-"
		if _, err := os.Stat(m.StateFile); errors.Is(err, fs.ErrNotExist) {
			last = "not started"
		} else if st, err := statefile.New(m.StateFile).Load(ctx); err != nil {
			last = "state unreadable"
			if _, ok := lastErr[m.Name]; !ok {
				lastErr[m.Name] = quoteShort(err.Error(), 80)
			}
		} else {
			if lm := st.LastMirrored; lm != nil {
				last = fmt.Sprintf("tweet %s %s", lm.PostID, health.Ago(now.Sub(lm.At)))
			}
			pending = fmt.Sprint(len(st.Pending))
		}
		le := lastErr[m.Name]
		if le == "" {
			le = "-"
		}
		skipped := "-"
		if skips != nil {
			skipped = describeSkips(skips[m.Name])
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, source, m.Renren.JID, session, last, pending, skipped, le)
	}
	if daemonState != "" {
		fmt.Fprintf(w, "\ndaemon: %s\n", daemonState)
	}
	return w.Flush()
}

// sessionGauges reads r2sync_xmpp_session_up{mirror="NAME"} samples.
func sessionGauges(body string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "r2sync_xmpp_session_up{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		for _, l := range strings.Split(labels, ",") {
			if name, ok := strings.CutPrefix(l, `mirror="`); ok {
				out[strings.TrimSuffix(name, `"`)] = strings.TrimSpace(value)
			}
		}
	}
	return out
}

// readyErrors splits a /readyz answer, `mirror "a": …; mirror "b": …`, by
// mirror.
func readyErrors(body string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(strings.TrimSpace(body), ";") {
		part = strings.TrimSpace(part)
		rest, ok := strings.CutPrefix(part, "mirror ")
		if !ok {
			continue
		}
		if name, msg, ok := strings.Cut(rest, ": "); ok {
			out[strings.Trim(name, `"`)] = msg
		}
	}
	return out
}

// maxMetricsBody bounds the /metrics answer status reads: a thousand
// mirrors export a few MB.
const maxMetricsBody = 32 << 20

// httpGetAll is httpGet with the whole body, up to maxMetricsBody.
// A token, when set, goes as the bearer token of http.token_file.
func httpGetAll(ctx context.Context, url, token string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("daemon not reachable: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetricsBody))
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", url, err)
	}
	return resp.StatusCode, string(b), nil
}
