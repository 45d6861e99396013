package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/r2sync/r2sync/config"
)

func cmdHealthcheck(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "healthcheck", "[--config FILE] [--url URL]",
		"Ask the running daemon whether it is ready (GET /readyz on [http] listen):\nexit 0 when it is, 1 when not. For container HEALTHCHECKs and scripts.")
	cfgPath := configFlag(fs)
	url := fs.String("url", "", "readiness URL (default: /readyz on the config's http.listen)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	if *url == "" {
		cfg, path, err := peekConfig(e, *cfgPath)
		if err != nil {
			return err
		}
		if cfg.HTTP.Listen == "" {
			return configError(fmt.Errorf("%s: http.listen is not set, so the daemon serves no /readyz; set it (e.g. \"127.0.0.1:9479\") or pass --url", path))
		}
		*url = endpointURL(cfg.HTTP.Listen, "/readyz")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	code, body, err := httpGet(ctx, *url)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("not ready (%d): %s", code, body)
	}
	fmt.Fprintf(e.stdout, "ready: %s\n", body)
	return nil
}

// peekConfig reads the config file without resolving secrets or
// validating the rest: healthcheck and status run beside the daemon, as
// users who may not be able to read its credentials.
func peekConfig(e *env, path string) (config.Config, string, error) {
	path = configPath(e, path)
	f, err := os.Open(path)
	if err != nil {
		return config.Config{}, path, configError(fmt.Errorf("config: %w", err))
	}
	defer f.Close()
	cfg, err := config.Parse(f)
	if err != nil {
		return config.Config{}, path, configError(fmt.Errorf("%s: %w", path, err))
	}
	return cfg, path, nil
}

// endpointURL turns a listen address into a URL a local client can reach:
// a wildcard host becomes loopback.
func endpointURL(listen, path string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen + path
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + path
}

// httpGet fetches url with no proxy (the endpoints are local) and returns
// the status and the first line of the body.
func httpGet(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", usageError("url %q: %v", url, err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("daemon not reachable: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", url, err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return resp.StatusCode, line, nil
}
