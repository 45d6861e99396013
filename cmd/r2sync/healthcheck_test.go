package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// readyServer answers /readyz with code and body and returns its host:port.
func readyServer(t *testing.T, code int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/readyz" {
			t.Errorf("request %s %s, want GET /readyz", r.Method, r.URL.Path)
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body + "\n"))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// closedPort returns a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestHealthcheck(t *testing.T) {
	state := "/nonexistent/state.json"
	tests := []struct {
		name     string
		listen   string
		args     []string
		wantCode int // exit status as run() would return it
		wantOut  string
		wantErr  string
	}{
		{name: "ready", listen: readyServer(t, 200, "ok"), wantCode: exitOK, wantOut: "ready: ok\n"},
		{name: "not ready", listen: readyServer(t, 503, "xmpp session down"), wantCode: exitFail, wantErr: "not ready (503): xmpp session down"},
		{name: "nobody listening", listen: closedPort(t), wantCode: exitFail, wantErr: "daemon not reachable"},
		{name: "listen not set", listen: "", wantCode: exitConfig, wantErr: "http.listen is not set"},
		{name: "url flag", listen: "", args: []string{"--url", "http://" + readyServer(t, 200, "ok") + "/readyz"}, wantCode: exitOK, wantOut: "ready: ok\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, stdout, _ := testEnv(time.Now())
			args := append([]string{"--config", statusConfig(t, state, tt.listen)}, tt.args...)
			err := cmdHealthcheck(context.Background(), e, args)
			code := exitOK
			if err != nil {
				code = exitFail
				var ee *exitError
				if errors.As(err, &ee) {
					code = ee.code
				}
			}
			if code != tt.wantCode {
				t.Errorf("exit %d (err %v), want %d", code, err, tt.wantCode)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err %v, want one containing %q", err, tt.wantErr)
			}
			if stdout.String() != tt.wantOut {
				t.Errorf("stdout %q, want %q", stdout, tt.wantOut)
			}
		})
	}
}

func TestEndpointURL(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.1:9479": "http://127.0.0.1:9479/readyz",
		":9479":          "http://127.0.0.1:9479/readyz",
		"0.0.0.0:9479":   "http://127.0.0.1:9479/readyz",
		"[::]:9479":      "http://[::1]:9479/readyz",
		"[::1]:9479":     "http://[::1]:9479/readyz",
		"localhost:9479": "http://localhost:9479/readyz",
	} {
		if got := endpointURL(listen, "/readyz"); got != want {
			t.Errorf("endpointURL(%q) = %q, want %q", listen, got, want)
		}
	}
}
