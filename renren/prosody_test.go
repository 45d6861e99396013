package renren

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/r2sync/r2sync/renren/prosodytest"
)

// TestTransportWithProsody logs in to a real Prosody through renren's own
// transport (STARTTLS, SASL PLAIN, bind, the legacy session), publishes
// statuses a contact sees, closes cleanly without waiting out the ping
// timeout (Prosody answers </stream:stream>), and notices at once when
// Prosody shuts down and closes the stream.
func TestTransportWithProsody(t *testing.T) {
	p := prosodytest.Start(t, prosodytest.Options{
		Users: map[string]string{testUser: testPassword, "watcher": "w"},
		Group: []string{testUser, "watcher"},
	})
	w := p.Watch(t, "watcher", "w")
	const pingTimeout = 5 * time.Second
	opts := Options{
		JID:          p.JID(testUser),
		Password:     testPassword,
		Address:      p.Addr(),
		RootCAs:      p.CAPool(),
		PingInterval: time.Hour,
		PingTimeout:  pingTimeout,
		DialTimeout:  10 * time.Second,
		Logger:       zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
	}
	ctx := testContext(t)

	s := dial(t, opts)
	for i := range 3 {
		if err := s.SetStatus(ctx, fmt.Sprintf("status %d", i)); err != nil {
			t.Fatalf("SetStatus: %v", err)
		}
	}
	got, err := w.WaitStatuses(ctx, p.JID(testUser), 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range got {
		if want := fmt.Sprintf("status %d", i); st.Text != want {
			t.Errorf("status %d = %q, want %q", i, st.Text, want)
		}
	}
	start := time.Now()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took > pingTimeout/2 {
		t.Errorf("Close took %s: it did not see Prosody's </stream:stream>", took)
	}

	s = dial(t, opts)
	start = time.Now()
	p.Stop()
	select {
	case <-s.Done():
	case <-time.After(pingTimeout):
		t.Fatal("session still up after Prosody stopped")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Errorf("Err() = %v, want a lost connection", err)
	}
	t.Logf("Prosody's shutdown noticed after %s: %v", time.Since(start).Round(time.Millisecond), s.Err())
}

// TestSCRAMWithProsody logs in to Prosody 0.12, which stores hashed
// passwords and offers SCRAM-SHA-1 and PLAIN (no -PLUS over TLS 1.3):
// Prosody's own log, through prosodytest's audit module, must show
// SCRAM-SHA-1, and nothing SASL carried may be in the client's debug log.
func TestSCRAMWithProsody(t *testing.T) {
	p := prosodytest.Start(t, prosodytest.Options{Users: map[string]string{testUser: testPassword}})
	core, logs := observer.New(zapcore.DebugLevel)
	opts := Options{
		JID:         p.JID(testUser),
		Password:    testPassword,
		Address:     p.Addr(),
		RootCAs:     p.CAPool(),
		PingTimeout: 5 * time.Second,
		DialTimeout: 10 * time.Second,
		Logger:      zap.New(core),
	}
	s := dial(t, opts)
	if err := s.SetStatus(testContext(t), "scram"); err != nil {
		t.Fatal(err)
	}
	logins, err := p.WaitSASLLogins(testContext(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(logins) != 1 || logins[0] != (prosodytest.SASLLogin{User: testUser, Mechanism: "SCRAM-SHA-1", Success: true}) {
		t.Errorf("prosody logged %+v, want one SCRAM-SHA-1 login of %s", logins, testUser)
	}
	t.Logf("prosody's audit: %+v", logins)
	assertNoSASLInLogs(t, logs)
}

// assertNoSASLInLogs looks for the password and for the shapes of SASL
// messages (PLAIN's NUL-separated blob, SCRAM's attribute lists) in every
// log entry.
func assertNoSASLInLogs(t *testing.T, logs *observer.ObservedLogs) {
	t.Helper()
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPassword))
	enc := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig())
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		line := buf.String()
		for _, bad := range []string{testPassword, plain, "n,,n=", "c=biws", ",p=", "r=", "v="} {
			if strings.Contains(line, bad) {
				t.Errorf("log line holds %q: %s", bad, line)
			}
		}
	}
	if logs.Len() == 0 {
		t.Error("nothing logged: the check proves nothing")
	}
}

// TestDirectTLSWithProsody connects to Prosody's c2s_direct_tls_ports
// (XEP-0368): TLS from the first byte, the certificate checked against
// the JID's domain, then SCRAM.
func TestDirectTLSWithProsody(t *testing.T) {
	p := prosodytest.Start(t, prosodytest.Options{
		Users:     map[string]string{testUser: testPassword, "watcher": "w"},
		Group:     []string{testUser, "watcher"},
		DirectTLS: true,
	})
	w := p.Watch(t, "watcher", "w")
	opts := Options{
		JID:         p.JID(testUser),
		Password:    testPassword,
		Address:     "xmpps://" + p.DirectTLSAddr(),
		RootCAs:     p.CAPool(),
		PingTimeout: 5 * time.Second,
		DialTimeout: 10 * time.Second,
		Logger:      zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
	}
	s := dial(t, opts)
	if err := s.SetStatus(testContext(t), "over direct tls"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WaitStatuses(testContext(t), p.JID(testUser), 1); err != nil {
		t.Fatal(err)
	}
	if mech, _ := s.tr.authInfo(); mech != "SCRAM-SHA-1" {
		t.Errorf("mechanism %q", mech)
	}

	t.Run("certificate checked", func(t *testing.T) {
		other := renrentestCA(t)
		bad := opts
		bad.RootCAs = other
		_, err := Dial(testContext(t), bad)
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &ua) {
			t.Errorf("Dial with another CA = %v, want x509.UnknownAuthorityError", err)
		}
		bad = opts
		bad.RootCAs, bad.TLSPin = nil, "sha256/"+base64.StdEncoding.EncodeToString(make([]byte, 32))
		_, err = Dial(testContext(t), bad)
		var pe *PinError
		if !errors.As(err, &pe) {
			t.Fatalf("Dial with another pin = %v, want a PinError", err)
		}
		// The right pin works without any CA.
		bad.TLSPin = pe.Got
		s, err := Dial(testContext(t), bad)
		if err != nil {
			t.Fatalf("Dial with the server's pin: %v", err)
		}
		_ = s.Close(testContext(t))
	})
}

// TestResendOnReconnectWithProsody checks the presence discipline on a
// normal server with resend_on_reconnect: each login sends one presence,
// the first without a status, every later one with the last status, and
// a status is never sent twice within a login.
func TestResendOnReconnectWithProsody(t *testing.T) {
	p := prosodytest.Start(t, prosodytest.Options{
		Users: map[string]string{testUser: testPassword, "watcher": "w"},
		Group: []string{testUser, "watcher"},
	})
	w := p.Watch(t, "watcher", "w")
	resend := true
	d := &connRecorder{}
	c := NewConn(Options{
		JID:               p.JID(testUser),
		Password:          testPassword,
		Address:           p.Addr(),
		RootCAs:           p.CAPool(),
		ResendOnReconnect: &resend,
		PingInterval:      time.Hour,
		PingTimeout:       5 * time.Second,
		DialTimeout:       10 * time.Second,
		Logger:            zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
		dial:              d.dial,
	})
	startConn(t, c)
	waitReady(t, c)
	ctx := testContext(t)
	if err := c.SetStatus(ctx, "tweet 1"); err != nil {
		t.Fatal(err)
	}
	for login := 2; login <= 3; login++ {
		d.dropAll() // the network fails under the session
		got, err := w.WaitPresences(ctx, p.JID(testUser), func(ps []prosodytest.Status) bool {
			return len(availableWithStatus(ps)) == login
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("after login %d prosody delivered: %+v", login, got)
	}
	if err := c.SetStatus(ctx, "tweet 2"); err != nil {
		t.Fatal(err)
	}
	got, err := w.WaitPresences(ctx, p.JID(testUser), func(ps []prosodytest.Status) bool {
		return len(availableWithStatus(ps)) == 4
	})
	if err != nil {
		t.Fatal(err)
	}
	// Per login (up to the unavailable presence Prosody broadcasts for a
	// dropped session): login 1 sends the status-less initial presence and
	// "tweet 1"; logins 2 and 3 one presence each, with "tweet 1"; login 3
	// then "tweet 2".
	var perLogin [][]string
	cur := []string{}
	for i, st := range got {
		switch {
		case st.Type == "unavailable" && i == 0:
			// Prosody's answer to the watcher's probe, before any login.
		case st.Type == "unavailable":
			perLogin = append(perLogin, cur)
			cur = []string{}
		case st.Type == "":
			if st.Show != "" {
				t.Errorf("presence with show %q", st.Show)
			}
			cur = append(cur, fmt.Sprintf("%v:%s", st.HasStatus, st.Text))
		}
	}
	perLogin = append(perLogin, cur)
	want := [][]string{{"false:", "true:tweet 1"}, {"true:tweet 1"}, {"true:tweet 1", "true:tweet 2"}}
	if fmt.Sprint(perLogin) != fmt.Sprint(want) {
		t.Errorf("presences per login = %q, want %q", perLogin, want)
	}
}

func availableWithStatus(ps []prosodytest.Status) []prosodytest.Status {
	var out []prosodytest.Status
	for _, p := range ps {
		if p.Type == "" && p.HasStatus {
			out = append(out, p)
		}
	}
	return out
}
