package renren

import (
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/renren/renrentest"
)

// TestSessionLeavesNothingBehind ends a session in each way a session
// ends and checks that, once Close returns, the process is back to the
// sockets and goroutines it had before Dial: the library's reader and
// keepalive, the writes and the drains all end.
func TestSessionLeavesNothingBehind(t *testing.T) {
	tests := []struct {
		name string
		end  func(*renrentest.Server, *Session)
	}{
		{"close", func(*renrentest.Server, *Session) {}},
		{"tcp reset", func(srv *renrentest.Server, _ *Session) { srv.KickAll() }},
		{"server closes the stream", func(srv *renrentest.Server, _ *Session) { srv.EndStreams() }},
		{"stream error", func(srv *renrentest.Server, _ *Session) { srv.StreamError("system-shutdown") }},
		{"silent server", func(srv *renrentest.Server, s *Session) {
			srv.Silence(true)
			_ = s.Ping(t.Context())
		}},
		{"endless stanza", func(srv *renrentest.Server, _ *Session) {
			go func() { _, _ = srv.SendRaw(&repeatReader{prefix: "<message a='", pattern: "a", n: endlessBytes}) }()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, renrentest.Options{})
			opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
			opts.Logger, opts.PingTimeout = zap.NewNop(), 300*time.Millisecond
			sockets, goroutines := openSockets(t), runtime.NumGoroutine()
			s, err := Dial(testContext(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetStatus(testContext(t), "hello"); err != nil {
				t.Fatal(err)
			}
			tt.end(srv, s)
			if tt.name != "close" {
				select {
				case <-s.Done():
				case <-time.After(10 * time.Second):
					t.Fatal("session still up")
				}
			}
			start := time.Now()
			_ = s.Close(testContext(t))
			if took := time.Since(start); took > time.Second {
				t.Errorf("Close took %s", took)
			}
			waitAtMost(t, "open sockets", func() int { return openSockets(t) }, sockets)
			waitAtMost(t, "goroutines", runtime.NumGoroutine, goroutines)
		})
	}
}
