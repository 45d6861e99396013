package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/config"
)

// Under systemd, journald stamps each line; a second timestamp from zap
// would only repeat it.
func TestLoggerOmitsTimestampForJournald(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		journal string
		wantTS  bool
	}{
		{name: "json on a pipe", format: "json", wantTS: true},
		{name: "json to journald", format: "json", journal: "8:12345", wantTS: false},
		{name: "console on a pipe", format: "console", wantTS: true},
		{name: "console to journald", format: "console", journal: "8:12345", wantTS: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			getenv := func(k string) string {
				if k == "JOURNAL_STREAM" {
					return tt.journal
				}
				return ""
			}
			log, err := newLogger(config.Log{Level: "info", Format: tt.format}, &buf, getenv)
			if err != nil {
				t.Fatal(err)
			}
			log.Info("status set")
			_ = log.Sync()
			line := strings.TrimSpace(buf.String())
			var hasTS bool
			if tt.format == "json" {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("not JSON: %q", line)
				}
				_, hasTS = m["ts"]
			} else {
				// A console line starts with the ISO 8601 time, else the level.
				hasTS = !strings.HasPrefix(line, "INFO")
			}
			if hasTS != tt.wantTS {
				t.Errorf("timestamp present %v, want %v: %q", hasTS, tt.wantTS, line)
			}
			if !strings.Contains(line, "status set") {
				t.Errorf("message lost: %q", line)
			}
		})
	}
}
