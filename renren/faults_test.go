package renren

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/r2sync/r2sync/renren/renrentest"
)

// events records what a Conn reports through Options.Events.
type events struct {
	mu    sync.Mutex
	ups   []time.Time
	downs []error
	feeds int
	up    chan struct{} // receives on every SessionUp
	down  chan error    // receives on every SessionDown
}

func newEvents() *events {
	return &events{up: make(chan struct{}, 100), down: make(chan error, 100)}
}

func (e *events) SessionUp() {
	e.mu.Lock()
	e.ups = append(e.ups, time.Now())
	e.mu.Unlock()
	e.up <- struct{}{}
}

func (e *events) SessionDown(err error) {
	e.mu.Lock()
	e.downs = append(e.downs, err)
	e.mu.Unlock()
	e.down <- err
}

func (e *events) FeedEvent() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.feeds++
}

func (e *events) waitUp(t *testing.T) {
	t.Helper()
	select {
	case <-e.up:
	case <-time.After(15 * time.Second):
		t.Fatal("no SessionUp")
	}
}

func (e *events) waitDown(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-e.down:
		return err
	case <-time.After(within):
		t.Fatalf("no SessionDown within %s", within)
		return nil
	}
}

// TestConnDetectsEveryDeath kills the session in each way a server or
// network can, and checks that the Conn notices within two ping intervals,
// logs in again (over TLS: newServer's cleanup fails the test on any
// credential seen before TLS) and publishes on the new session.
func TestConnDetectsEveryDeath(t *testing.T) {
	const interval = 400 * time.Millisecond
	tests := []struct {
		name   string
		kill   func(*renrentest.Server)
		revive func(*renrentest.Server)
		want   string // in the SessionDown error
	}{
		{name: "tcp reset", kill: (*renrentest.Server).KickAll, want: "connection lost"},
		// The library reports a server's </stream:stream> to nobody; the
		// transport does, at once.
		{name: "graceful stream close", kill: (*renrentest.Server).EndStreams, want: "connection lost: the server closed the stream"},
		{name: "stream error", kill: func(s *renrentest.Server) { s.StreamError("system-shutdown") }, want: "stream error: system-shutdown"},
		{name: "silent dead peer", kill: func(s *renrentest.Server) { s.Silence(true) },
			revive: func(s *renrentest.Server) { s.Silence(false) }, want: "no ping reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, renrentest.Options{FeedEvents: true})
			ev := newEvents()
			opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
			opts.PingInterval, opts.PingTimeout, opts.Events = interval, 0, ev
			c := NewConn(opts)
			startConn(t, c)
			ev.waitUp(t)
			ctx := testContext(t)
			if err := c.SetStatus(ctx, "before"); err != nil {
				t.Fatalf("SetStatus: %v", err)
			}

			start := time.Now()
			tt.kill(srv)
			err := ev.waitDown(t, 10*time.Second)
			took := time.Since(start)
			if took > 2*interval {
				t.Errorf("death noticed after %s, want within two ping intervals (%s)", took, 2*interval)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SessionDown(%v), want an error with %q", err, tt.want)
			}
			if tt.revive != nil {
				tt.revive(srv)
			}
			ev.waitUp(t)
			if err := c.SetStatus(ctx, "after"); err != nil {
				t.Fatalf("SetStatus after reconnect: %v", err)
			}
			got := srv.Statuses()
			if len(got) != 2 || got[0].Text != "before" || got[1].Text != "after" {
				t.Errorf("statuses = %+v, want before, after", got)
			}
			if n := srv.Logins(); n != 2 {
				t.Errorf("%d logins, want 2", n)
			}
			ev.mu.Lock()
			feeds := ev.feeds
			ev.mu.Unlock()
			if feeds < 1 {
				t.Errorf("FeedEvent called %d times, want at least 1", feeds)
			}
			t.Logf("%s noticed after %s", tt.name, took.Round(time.Millisecond))
		})
	}
}

// TestConnBacksOffLong covers the failures that reconnecting at once would
// only repeat: one clear error line, then a wait of 15 to 30 minutes, and
// no second connection meanwhile.
func TestConnBacksOffLong(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, srv *renrentest.Server, opts *Options, ev *events)
		wantErr string
		wantFix string
		conns   int // connections the server saw when the error line is logged
	}{
		{
			name: "login rejected",
			setup: func(t *testing.T, srv *renrentest.Server, opts *Options, ev *events) {
				opts.Password = "wrong-Passw0rd"
			},
			wantErr: "login failed for 123456@talk.xiaonei.com: not-authorized",
			wantFix: "check renren.jid and renren.password",
			conns:   1,
		},
		{
			name: "resource taken by another login",
			setup: func(t *testing.T, srv *renrentest.Server, opts *Options, ev *events) {
				go func() {
					// Once the Conn is up, another client logs in with the
					// same resource; the server ends the older session.
					<-ev.up
					other := *opts
					other.Events, other.Logger = nil, zap.NewNop()
					s, err := Dial(context.Background(), other)
					if err != nil {
						t.Errorf("second login: %v", err)
						return
					}
					t.Cleanup(func() { _ = s.Close(context.Background()) })
				}()
			},
			wantErr: "connection lost: stream error: conflict",
			wantFix: "another client logged in with the same jid and resource",
			conns:   2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, renrentest.Options{})
			ev := newEvents()
			core, logs := observer.New(zapcore.InfoLevel)
			opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
			opts.Logger, opts.Events = zap.New(core), ev
			tt.setup(t, srv, &opts, ev)
			c := NewConn(opts)
			cancel, done := startConn(t, c)

			waitFor(t, "the error line", func() bool { return logs.FilterLevelExact(zapcore.ErrorLevel).Len() > 0 })
			lines := logs.FilterLevelExact(zapcore.ErrorLevel).All()
			if len(lines) != 1 {
				t.Fatalf("%d error lines, want 1: %+v", len(lines), lines)
			}
			f := lines[0].ContextMap()
			if got, _ := f["error"].(string); got != tt.wantErr {
				t.Errorf("error field %q, want %q", got, tt.wantErr)
			}
			if got, _ := f["fix"].(string); !strings.Contains(got, tt.wantFix) {
				t.Errorf("fix field %q, want %q", got, tt.wantFix)
			}
			wait, _ := f["retry_in"].(time.Duration)
			if wait < LongBackoffMin || wait > LongBackoffMax {
				t.Errorf("retry_in %s, want within [%s, %s]", wait, LongBackoffMin, LongBackoffMax)
			}
			if n := srv.Connections(); n != tt.conns {
				t.Errorf("%d connections, want %d", n, tt.conns)
			}
			if strings.Contains(lines[0].Message+tt.wantErr, testPassword) {
				t.Error("the error line holds the password")
			}
			// The Conn waits instead of stopping: SetStatus waits too.
			short, stop := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer stop()
			if err := c.SetStatus(short, "x"); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("SetStatus during the long backoff = %v, want DeadlineExceeded", err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v after cancel, want nil", err)
			}
		})
	}
}

// TestDialFollowsSeeOtherHost redirects the login to a second server, as
// Renren should have done instead of answering for another domain.
func TestDialFollowsSeeOtherHost(t *testing.T) {
	for _, beforeTLS := range []bool{false, true} {
		name := map[bool]string{false: "after starttls", true: "before starttls"}[beforeTLS]
		t.Run(name, func(t *testing.T) {
			target := newServer(t, renrentest.Options{})
			redirector := newServer(t, renrentest.Options{SeeOtherHost: target.Addr(), SeeOtherHostBeforeTLS: beforeTLS})
			opts := clientOptions(t, redirector, testUser+"@talk.renren.com")
			opts.RootCAs = bothCAs(redirector, target)
			s := dial(t, opts)
			if err := s.SetStatus(testContext(t), "redirected"); err != nil {
				t.Fatalf("SetStatus: %v", err)
			}
			if got := target.Statuses(); len(got) != 1 || got[0].Text != "redirected" {
				t.Errorf("target statuses = %+v", got)
			}
			if n := redirector.AuthAttempts(); n != 0 {
				t.Errorf("the redirecting server got %d logins, want 0", n)
			}
			if n := target.Logins(); n != 1 {
				t.Errorf("the target got %d logins, want 1", n)
			}
		})
	}
	t.Run("invalid target", func(t *testing.T) {
		redirector := newServer(t, renrentest.Options{SeeOtherHost: "bad host:5222"})
		_, err := Dial(testContext(t), clientOptions(t, redirector, testUser+"@talk.xiaonei.com"))
		if err == nil || !strings.Contains(err.Error(), `see-other-host names an invalid address "bad host:5222"`) {
			t.Errorf("Dial = %v, want an invalid address error", err)
		}
	})
	t.Run("other stream error at login", func(t *testing.T) {
		// A redirect to a server that refuses the domain: host-unknown is
		// reported as such, not as a decoding error.
		srv := newServer(t, renrentest.Options{Domain: "example.org"})
		opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
		opts.ServerName = "example.org"
		_, err := Dial(testContext(t), opts)
		var se *StreamError
		if !errors.As(err, &se) || se.Condition != "host-unknown" {
			t.Errorf("Dial = %v, want a host-unknown StreamError", err)
		}
	})
}

func bothCAs(a, b *renrentest.Server) *x509.CertPool {
	pool := a.CAPool()
	pool.AppendCertsFromPEM(b.CAPEM())
	return pool
}

func TestRedirectAddress(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"xmpp.example.org", "xmpp.example.org:5222", true},
		{"xmpp.example.org:5223", "xmpp.example.org:5223", true},
		{"[2001:db8::1]:5222", "[2001:db8::1]:5222", true},
		{"[2001:db8::1]", "[2001:db8::1]:5222", true},
		{"127.0.0.1:99999", "", false},
		{"evil'host", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := redirectAddress(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("redirectAddress(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLibStreamError(t *testing.T) {
	tests := []struct {
		in   string
		want string // condition; "" means not a stream error
	}{
		{"stream error: conflict", "conflict"},
		{"stream error: system-shutdown", "system-shutdown"},
		{"stream error: ", ""},
		{"stream error: <x/>", ""},
		{"connection closed", ""},
	}
	for _, tt := range tests {
		se, ok := libStreamError(errors.New(tt.in))
		if got := ""; ok {
			got = se.Condition
			if got != tt.want {
				t.Errorf("libStreamError(%q) = %q, want %q", tt.in, got, tt.want)
			}
		} else if tt.want != "" {
			t.Errorf("libStreamError(%q) not recognized, want %q", tt.in, tt.want)
		}
	}
}
