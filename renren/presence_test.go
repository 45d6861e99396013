package renren

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren/renrentest"
)

// TestRenrenJIDs logs in with a bare Renren id and with the second
// domain, which the server answers from the first.
func TestRenrenJIDs(t *testing.T) {
	for _, tt := range []struct{ jid, bound string }{
		{"123456", "123456@talk.xiaonei.com/r2sync"},
		{"123456@talk.renren.com", "123456@talk.xiaonei.com/r2sync"},
	} {
		t.Run(tt.jid, func(t *testing.T) {
			srv := newServer(t, renrentest.Options{})
			s := dial(t, clientOptions(t, srv, tt.jid))
			if s.JID() != tt.bound {
				t.Errorf("bound %q, want %q", s.JID(), tt.bound)
			}
			if err := s.SetStatus(testContext(t), "hi"); err != nil {
				t.Fatal(err)
			}
			if got := srv.LoginLog(); len(got) != 1 || got[0].User != testUser || got[0].Mechanism != "PLAIN" || got[0].TLSVersion == 0 {
				t.Errorf("logins = %+v, want one PLAIN login of %s inside TLS", got, testUser)
			}
		})
	}
}

// presenceSummary renders presences as "show/priority/status" per login,
// a login starting at each status-less available presence.
func presenceSummary(ps []renrentest.Presence) string {
	var b strings.Builder
	for _, p := range ps {
		if p.Type == "" && !p.HasStatus {
			b.WriteString("| ")
		}
		st := "-"
		if p.HasStatus {
			st = p.Status
		}
		fmt.Fprintf(&b, "%s%s/%s/%s ", p.Type, p.To, p.Show, p.Priority)
		b.WriteString(st + " ")
	}
	return strings.TrimSpace(b.String())
}

// TestPresenceDiscipline runs a Conn through statuses, a forced
// reconnect and a long idle period (pings every few milliseconds) and
// checks what the server recorded: one status-less presence per login,
// one presence per status, nothing else: no away, no idle, no repeat of
// the last status on Renren.
func TestPresenceDiscipline(t *testing.T) {
	for _, tt := range []struct {
		name   string
		opts   func(*Options)
		want   string
		resend bool
	}{
		{"renren defaults", func(*Options) {}, "| // - // tweet 1 // tweet 2 | // - // tweet 3", false},
		{"priority and chat", func(o *Options) { o.Priority, o.Show = 5, "chat" },
			"| /chat/5 - /chat/5 tweet 1 /chat/5 tweet 2 | /chat/5 - /chat/5 tweet 3", false},
		{"resend on reconnect", func(o *Options) { on := true; o.ResendOnReconnect = &on },
			"| // - // tweet 1 // tweet 2 // tweet 2 // tweet 3", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, renrentest.Options{})
			opts := clientOptions(t, srv, testUser)
			opts.PingInterval = 10 * time.Millisecond
			tt.opts(&opts)
			c := NewConn(opts)
			startConn(t, c)
			waitReady(t, c)
			ctx := testContext(t)
			idle := func(pings int) {
				t.Helper()
				n := srv.Pings()
				if err := srv.Wait(ctx, "pings", func() bool { return srv.Pings() >= n+pings }); err != nil {
					t.Fatal(err)
				}
			}
			for _, text := range []string{"tweet 1", "tweet 2"} {
				if err := c.SetStatus(ctx, text); err != nil {
					t.Fatal(err)
				}
			}
			idle(20)
			srv.KickAll()
			if err := srv.Wait(ctx, "a second login", func() bool { return len(srv.LoginLog()) == 2 }); err != nil {
				t.Fatal(err)
			}
			idle(50)
			if err := c.SetStatus(ctx, "tweet 3"); err != nil {
				t.Fatal(err)
			}
			idle(50)
			got := srv.Presences()
			if s := presenceSummary(got); s != tt.want {
				t.Errorf("presences:\n got %s\nwant %s", s, tt.want)
			}
			if tt.resend && (len(got) < 4 || got[3].Status != "tweet 2") {
				t.Errorf("the second login's first presence is %+v, want the last status", got[3])
			}
			t.Logf("%d pings answered, %d presences recorded", srv.Pings(), len(got))
		})
	}
}

// TestRedirectMidSession has the server send <see-other-host/> in the
// middle of a session: the Conn logs in where it is sent at once, without
// its backoff, and publishes there.
func TestRedirectMidSession(t *testing.T) {
	target := newServer(t, renrentest.Options{})
	first := newServer(t, renrentest.Options{})
	opts := clientOptions(t, first, testUser+"@talk.xiaonei.com")
	opts.RootCAs = bothCAs(first, target)
	c := NewConn(opts)
	c.minBackoff, c.maxBackoff = time.Hour, time.Hour // a backoff would stall the test
	runConn(t, c)
	waitReady(t, c)
	ctx := testContext(t)
	if err := c.SetStatus(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	first.Redirect(target.Addr())
	if err := target.Wait(ctx, "the login at the target", func() bool { return len(target.LoginLog()) == 1 }); err != nil {
		t.Fatal(err)
	}
	t.Logf("followed the redirect in %v", time.Since(start).Round(time.Millisecond))
	if err := c.SetStatus(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	if got := target.Statuses(); len(got) != 1 || got[0].Text != "after" {
		t.Errorf("target statuses = %+v", got)
	}
	if n := len(first.LoginLog()); n != 1 {
		t.Errorf("%d logins at the first server, want 1", n)
	}
}

// TestTLSPinAndVersion: a pinned key needs no CA; another key fails with
// a PinError that names the server's pin; TLS 1.3 as the minimum refuses
// a server that stops at 1.2.
func TestTLSPinAndVersion(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	opts := clientOptions(t, srv, testUser)
	opts.RootCAs = renrentestCA(t) // the chain would not verify
	opts.TLSPin = Pin(srv.Certificate())
	s := dial(t, opts)
	if err := s.SetStatus(testContext(t), "pinned"); err != nil {
		t.Fatal(err)
	}

	other := newServer(t, renrentest.Options{})
	opts = clientOptions(t, other, testUser)
	opts.TLSPin = Pin(srv.Certificate())
	_, err := Dial(testContext(t), opts)
	var pe *PinError
	if !errors.As(err, &pe) || pe.Got != Pin(other.Certificate()) {
		t.Errorf("Dial = %v, want a PinError naming %s", err, Pin(other.Certificate()))
	}
	if n := other.AuthAttempts(); n != 0 {
		t.Errorf("%d logins sent to a server with the wrong key", n)
	}

	old := newServer(t, renrentest.Options{TLSMaxVersion: tls.VersionTLS12})
	opts = clientOptions(t, old, testUser)
	opts.TLSMinVersion = tls.VersionTLS13
	ctx, cancel := context.WithTimeout(testContext(t), 5*time.Second)
	defer cancel()
	if _, err := Dial(ctx, opts); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("Dial = %v, want a TLS protocol version failure", err)
	}
}
