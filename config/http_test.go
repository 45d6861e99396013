package config_test

import (
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
		{name: "all interfaces", section: "[http]\nlisten = \":9479\"\n", want: ":9479"},
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
			if path == "../deploy/container.toml" && (cfg.HTTP.Listen == "" || cfg.State.File != "/data/state.json") {
				t.Errorf("container config: http.listen %q, state.file %q", cfg.HTTP.Listen, cfg.State.File)
			}
		})
	}
}
