package renren

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/renren/renrentest"
)

func TestDial(t *testing.T) {
	tests := []struct {
		name string
		jid  string
	}{
		{"served domain", testUser + "@talk.xiaonei.com"},
		// The stream goes to talk.renren.com and is answered from
		// talk.xiaonei.com: what made PyXMPP fail with HostMismatch.
		{"renren alias answered from xiaonei", testUser + "@talk.renren.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, renrentest.Options{})
			s := dial(t, clientOptions(t, srv, tt.jid))
			if want := testUser + "@talk.xiaonei.com/" + DefaultResource; s.JID() != want {
				t.Errorf("JID() = %q, want %q", s.JID(), want)
			}
			if err := s.Ping(testContext(t)); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			// Connect sends the initial presence before Dial returns, and
			// the ping reply proves the server has processed it.
			ps := srv.Presences()
			if len(ps) != 1 {
				t.Fatalf("presences = %+v, want exactly the initial one", ps)
			}
			if p := ps[0]; p.Type != "" || p.HasStatus || p.Show != "" || p.JID != s.JID() {
				t.Errorf("initial presence = %+v, want available, no status, no show, from %s", p, s.JID())
			}
			if st := srv.Statuses(); len(st) != 0 {
				t.Errorf("statuses after login = %+v, want none", st)
			}
		})
	}
}

func TestSetStatusText(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	s := dial(t, clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
	tests := []struct {
		name, text, want string
	}{
		{"plain", "hello from r2sync", "hello from r2sync"},
		{"ampersand and angle brackets", "a & b < c > d", "a & b < c > d"},
		{"quotes", `"double" and 'single'`, `"double" and 'single'`},
		{"cjk", "[r2] 今天天气不错，心情也不错", "[r2] 今天天气不错，心情也不错"},
		{"emoji", "ship it 🚀👍🏽", "ship it 🚀👍🏽"},
		{"markup injection stays text",
			"x</status></presence><presence type='unavailable'/><presence><status>pwned",
			"x</status></presence><presence type='unavailable'/><presence><status>pwned"},
		{"cdata and entities stay text", "<![CDATA[x]]> &amp; &#0;", "<![CDATA[x]]> &amp; &#0;"},
		{"newlines kept", "line 1\nline 2\r\nline 3\ttab", "line 1\nline 2\r\nline 3\ttab"},
		{"xml-illegal characters dropped, invalid utf-8 marked", "nul\x00 esc\x1b bell\a \uFFFE\uFFFF bad\xffutf8 end", "nul esc bell  bad\uFFFDutf8 end"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			if err := s.SetStatus(ctx, tt.text); err != nil {
				t.Fatalf("SetStatus: %v", err)
			}
			// SetStatus returns after the server processed the presence:
			// no waiting needed.
			got := srv.Statuses()
			if len(got) != i+1 {
				t.Fatalf("got %d statuses, want %d: %+v", len(got), i+1, got)
			}
			if last := got[i]; last.Text != tt.want || last.JID != s.JID() {
				t.Errorf("status = %q from %s, want %q from %s", last.Text, last.JID, tt.want, s.JID())
			}
		})
	}
	for _, p := range srv.Presences() {
		if p.Type != "" {
			t.Errorf("injected presence: %+v", p)
		}
	}
}

func TestSetStatusEmpty(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	s := dial(t, clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
	for _, text := range []string{"", "   ", "\x00\x01"} {
		if err := s.SetStatus(testContext(t), text); err == nil {
			t.Errorf("SetStatus(%q) = nil, want an error", text)
		}
	}
	if st := srv.Statuses(); len(st) != 0 {
		t.Errorf("statuses = %+v, want none", st)
	}
}

func TestDialAuthFailure(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	tests := []struct {
		name, user, password string
	}{
		{"wrong password", testUser, "wrong-Passw0rd"},
		{"unknown user", "654321", testPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := clientOptions(t, srv, tt.user+"@talk.xiaonei.com")
			opts.Password = tt.password
			s, err := Dial(testContext(t), opts)
			if err == nil {
				s.Close(testContext(t))
				t.Fatal("Dial succeeded, want an authentication error")
			}
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("err = %v, want ErrAuth", err)
			}
			// A daemon must not stop on it: a password fixed on the server
			// cures it. It says it needs the user, for a long backoff.
			if daemon.IsFatal(err) {
				t.Errorf("daemon.IsFatal(%v) = true, want false", err)
			}
			var p interface{ Permanent() bool }
			if !errors.As(err, &p) || !p.Permanent() {
				t.Errorf("err %v is not Permanent", err)
			}
			want := "login failed for " + tt.user + "@talk.xiaonei.com: not-authorized"
			if err.Error() != want {
				t.Errorf("err = %q, want %q", err, want)
			}
			blob := base64.StdEncoding.EncodeToString([]byte("\x00" + tt.user + "\x00" + tt.password))
			for _, secret := range []string{tt.password, blob} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
		})
	}
}

func TestDialTLSVerification(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	other, err := renrentest.NewServer(renrentest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other.Close()

	tests := []struct {
		name       string
		roots      *x509.CertPool
		serverName string
		wantErr    any // pointer to the x509 error type expected, nil for success
	}{
		{"trusted ca", srv.CAPool(), "", nil},
		{"untrusted ca", other.CAPool(), "", new(x509.UnknownAuthorityError)},
		{"system roots do not know a private ca", nil, "", new(x509.UnknownAuthorityError)},
		{"server name in certificate", srv.CAPool(), "localhost", nil},
		{"server name not in certificate", srv.CAPool(), "xmpp.example.org", new(x509.HostnameError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
			opts.RootCAs, opts.ServerName = tt.roots, tt.serverName
			s, err := Dial(testContext(t), opts)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				s.Close(testContext(t))
				return
			}
			if err == nil {
				s.Close(testContext(t))
				t.Fatal("Dial succeeded, want a certificate error")
			}
			if !errors.As(err, tt.wantErr) {
				t.Errorf("err = %v, want %T", err, tt.wantErr)
			}
			if errors.Is(err, ErrAuth) {
				t.Errorf("err = %v matches ErrAuth", err)
			}
		})
	}
}

func TestSessionClose(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	s := dial(t, clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
	if err := s.SetStatus(testContext(t), "bye"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(testContext(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	if !errors.Is(s.Err(), ErrClosed) {
		t.Errorf("Err() = %v, want ErrClosed", s.Err())
	}
	if err := s.SetStatus(testContext(t), "after close"); !errors.Is(err, ErrClosed) {
		t.Errorf("SetStatus after Close = %v, want ErrClosed", err)
	}
	// Close waited for the server's </stream:stream>, which the server
	// sends after it has processed everything before it.
	ps := srv.Presences()
	if len(ps) != 3 || ps[2].Type != "unavailable" || ps[2].HasStatus {
		t.Fatalf("presences = %+v, want available, status, unavailable without status", ps)
	}
	if err := s.Close(testContext(t)); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestSessionDetectsStreamEnd covers the library's zombie session: a server
// </stream:stream> reaches no error handler, so only the ping notices.
func TestSessionDetectsStreamEnd(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
	opts.PingTimeout = time.Second
	s := dial(t, opts)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(testContext(t)); err == nil {
		t.Fatal("Ping after the server closed the stream = nil, want an error")
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after a failed ping")
	}
	if err := s.SetStatus(testContext(t), "too late"); err == nil {
		t.Error("SetStatus on a dead session = nil, want an error")
	}
}

func TestSessionDetectsKick(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	s := dial(t, clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
	srv.KickAll()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the connection dropped")
	}
	if s.Err() == nil {
		t.Error("Err() = nil on a dead session")
	}
}

func TestFeedEventKeepsSession(t *testing.T) {
	srv := newServer(t, renrentest.Options{FeedEvents: true})
	core, logs := observer.New(zapcore.DebugLevel)
	opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
	opts.Logger = zap.New(core)
	s := dial(t, opts)
	waitFor(t, "the feed event", func() bool { return logs.FilterMessage("feed event").Len() == 1 })
	if n := s.FeedEvents(); n != 1 {
		t.Errorf("FeedEvents() = %d, want 1", n)
	}
	if err := s.SetStatus(testContext(t), "still here"); err != nil {
		t.Fatalf("SetStatus after a feed event: %v", err)
	}
	if s.Err() != nil {
		t.Errorf("session died: %v", s.Err())
	}
}

func TestDialHonoursContext(t *testing.T) {
	// A server that accepts TCP and then says nothing: the library has no
	// deadline of its own there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		opts func(*Options)
		want error
	}{
		{"caller deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(t.Context(), 200*time.Millisecond)
		}, func(*Options) {}, context.DeadlineExceeded},
		{"dial timeout", func() (context.Context, context.CancelFunc) {
			return context.WithCancel(t.Context())
		}, func(o *Options) { o.DialTimeout = 200 * time.Millisecond }, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{JID: testUser + "@talk.xiaonei.com", Password: testPassword, Address: ln.Addr().String()}
			tt.opts(&opts)
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, err := Dial(ctx, opts)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Dial took %s after its deadline", d)
			}
		})
	}
	select {
	case c := <-accepted:
		c.Close() // releases the abandoned Connect
	default:
	}
}
