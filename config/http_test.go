package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/config"
)

func TestHTTPListen(t *testing.T) {
	tests := []struct {
		name    string
		section string
		want    string // the listen address, or "" for off
		wantErr string
	}{
		{name: "off by default", section: "", want: ""},
		{name: "loopback", section: "[http]\nlisten = \"127.0.0.1:9479\"\n", want: "127.0.0.1:9479"},
		{name: "all interfaces without a token", section: "[http]\nlisten = \":9479\"\n", wantErr: `http.token_file: required when http.listen is not a loopback address (got listen ":9479")`},
		{name: "any address without a token", section: "[http]\nlisten = \"0.0.0.0:9479\"\n", wantErr: `http.token_file: required`},
		{name: "a name without a token", section: "[http]\nlisten = \"r2sync.internal:9479\"\n", wantErr: `http.token_file: required`},
		{name: "loopback v4 other", section: "[http]\nlisten = \"127.0.0.2:9479\"\n", want: "127.0.0.2:9479"},
		{name: "ipv6", section: "[http]\nlisten = \"[::1]:9479\"\n", want: "[::1]:9479"},
		{name: "no port", section: "[http]\nlisten = \"127.0.0.1\"\n", wantErr: `http.listen: must be host:port with a port from 1 to 65535, such as "127.0.0.1:9479" (got "127.0.0.1")`},
		{name: "port zero", section: "[http]\nlisten = \"127.0.0.1:0\"\n", wantErr: `http.listen: must be host:port`},
		{name: "named port", section: "[http]\nlisten = \"localhost:http\"\n", wantErr: `http.listen: must be host:port`},
		{name: "port too big", section: "[http]\nlisten = \"localhost:65536\"\n", wantErr: `(got "localhost:65536")`},
		{name: "url", section: "[http]\nlisten = \"http://127.0.0.1:9479/\"\n", wantErr: `http.listen`},
		{name: "unknown key", section: "[http]\naddr = \"127.0.0.1:9479\"\n", wantErr: "unknown key http.addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(path, []byte(minimal+tt.section), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HTTP.Listen != tt.want {
				t.Errorf("http.listen = %q, want %q", cfg.HTTP.Listen, tt.want)
			}
		})
	}
}

func TestHTTPTokenFile(t *testing.T) {
	const token = "s3cret-s3cret-s3cret"
	tests := []struct {
		name    string
		section string
		file    string // the token file's content; "" writes none
		wantErr string
	}{
		{name: "all interfaces with a token", section: "[http]\nlisten = \":9479\"\ntoken_file = \"http.token\"\n", file: token + "\n"},
		{name: "loopback with a token", section: "[http]\nlisten = \"127.0.0.1:9479\"\ntoken_file = \"http.token\"\n", file: token},
		{name: "missing file", section: "[http]\nlisten = \":9479\"\ntoken_file = \"http.token\"\n", wantErr: "http.token_file: open "},
		{name: "empty file", section: "[http]\nlisten = \":9479\"\ntoken_file = \"http.token\"\n", file: "\n", wantErr: "http.token_file: "},
		{name: "short token", section: "[http]\nlisten = \":9479\"\ntoken_file = \"http.token\"\n", file: "short\n", wantErr: "http.token_file: the token in http.token must be at least 16 characters (got 5)"},
		{name: "token is not a key", section: "[http]\nlisten = \":9479\"\ntoken = \"x\"\n", wantErr: "unknown key http.token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config.toml")
			if err := os.WriteFile(path, []byte(minimal+tt.section), 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(dir, "http.token"), []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := config.Load(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "short\n") || strings.Contains(err.Error(), token) {
					t.Errorf("error shows the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HTTP.Token.Value() != token {
				t.Errorf("token %q, want the file's content", cfg.HTTP.Token.Value())
			}
			if s := fmt.Sprintf("%v %+v", cfg.HTTP, cfg.HTTP); strings.Contains(s, token) {
				t.Errorf("printing [http] shows the token: %s", s)
			}
		})
	}
}

func TestLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:1": true, "127.0.0.2:1": true, "[::1]:1": true, "localhost:1": true, "LOCALHOST:1": true,
		":1": false, "0.0.0.0:1": false, "[::]:1": false, "10.0.0.1:1": false, "example.org:1": false, "bad": false,
	} {
		if got := config.LoopbackListen(addr); got != want {
			t.Errorf("LoopbackListen(%q) = %v, want %v", addr, got, want)
		}
	}
}

// The shipped example configs must parse: a renamed key would otherwise
// break every copy of them.
func TestDeployConfigsParse(t *testing.T) {
	for _, path := range []string{"../deploy/config.example.toml", "../deploy/container.toml"} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cfg, err := config.Parse(f)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if path == "../deploy/container.toml" && (cfg.HTTP.Listen == "" || cfg.State.File != "/data/state.json" ||
				cfg.HTTP.TokenFile != "/run/secrets/http_token") {
				// Its listen is not loopback, so without a token_file it would exit 78.
				t.Errorf("container config: http.listen %q, state.file %q, http.token_file %q", cfg.HTTP.Listen, cfg.State.File, cfg.HTTP.TokenFile)
			}
		})
	}
}
