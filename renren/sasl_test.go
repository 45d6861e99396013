package renren

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/r2sync/r2sync/renren/renrentest"
)

var allMechanisms = []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"}

// TestSASLMechanism checks which mechanism each server gets, as the
// server records it: the strongest both allow, -PLUS with the binding of
// the TLS version, PLAIN only when nothing better is offered.
func TestSASLMechanism(t *testing.T) {
	tests := []struct {
		name     string
		srv      renrentest.Options
		pin      []string
		wantMech string
		wantCB   string
	}{
		{"renren offers plain alone", renrentest.Options{}, nil, "PLAIN", ""},
		{"tls 1.3 with tls-exporter advertised", renrentest.Options{Mechanisms: allMechanisms, ChannelBindings: []string{"tls-exporter"}},
			nil, "SCRAM-SHA-256-PLUS", "tls-exporter"},
		{"tls 1.3 without xep-0440: no binding", renrentest.Options{Mechanisms: allMechanisms}, nil, "SCRAM-SHA-256", ""},
		{"tls 1.2: tls-unique", renrentest.Options{Mechanisms: allMechanisms, TLSMaxVersion: tls.VersionTLS12}, nil, "SCRAM-SHA-256-PLUS", "tls-unique"},
		{"tls 1.2, xep-0440 without tls-unique", renrentest.Options{Mechanisms: allMechanisms, TLSMaxVersion: tls.VersionTLS12,
			ChannelBindings: []string{"tls-server-end-point"}}, nil, "SCRAM-SHA-256", ""},
		{"binding beats the hash", renrentest.Options{Mechanisms: []string{"SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "PLAIN"},
			TLSMaxVersion: tls.VersionTLS12}, nil, "SCRAM-SHA-1-PLUS", "tls-unique"},
		{"prosody-like: sha-1 and plain", renrentest.Options{Mechanisms: []string{"SCRAM-SHA-1", "PLAIN"}}, nil, "SCRAM-SHA-1", ""},
		{"no plus offered, client could bind: y flag", renrentest.Options{Mechanisms: []string{"SCRAM-SHA-256", "PLAIN"},
			TLSMaxVersion: tls.VersionTLS12}, nil, "SCRAM-SHA-256", ""},
		{"pinned plain", renrentest.Options{Mechanisms: allMechanisms}, []string{"PLAIN"}, "PLAIN", ""},
		{"pinned order", renrentest.Options{Mechanisms: allMechanisms}, []string{"scram-sha-1", "SCRAM-SHA-256"}, "SCRAM-SHA-1", ""},
		{"direct tls", renrentest.Options{Mechanisms: allMechanisms, DirectTLS: true, ChannelBindings: []string{"tls-exporter"}},
			nil, "SCRAM-SHA-256-PLUS", "tls-exporter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.srv)
			opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
			opts.SASL = tt.pin
			if tt.srv.DirectTLS {
				opts.Address = "xmpps://" + srv.Addr()
			}
			s := dial(t, opts)
			if err := s.SetStatus(testContext(t), "logged in"); err != nil {
				t.Fatalf("SetStatus: %v", err)
			}
			logins := srv.LoginLog()
			if len(logins) != 1 {
				t.Fatalf("server logins = %+v, want 1", logins)
			}
			l := logins[0]
			if l.Mechanism != tt.wantMech || l.ChannelBinding != tt.wantCB || l.User != testUser {
				t.Errorf("server saw %+v, want %s with binding %q", l, tt.wantMech, tt.wantCB)
			}
			if l.TLSVersion < tls.VersionTLS12 {
				t.Errorf("login over TLS version %#x", l.TLSVersion)
			}
			if n := srv.AuthAttempts(); n != 1 {
				t.Errorf("server got %d <auth/>, want 1: the library's own must not leave the process", n)
			}
			for _, d := range srv.SASLData() {
				if strings.Contains(d, libraryPassword) {
					t.Errorf("the library's placeholder password reached the server: %q", d)
				}
			}
			if mech, _ := s.tr.authInfo(); mech != tt.wantMech {
				t.Errorf("client says %s", mech)
			}
			if strings.HasPrefix(tt.wantMech, "SCRAM") {
				// The GS2 header: p=type with binding; y when the client
				// could bind but the server offered no -PLUS (a stripped
				// -PLUS then fails the login); n otherwise.
				want := "n,,"
				switch {
				case tt.wantCB != "":
					want = "p=" + tt.wantCB + ",,"
				case tt.srv.TLSMaxVersion == tls.VersionTLS12 && tt.srv.ChannelBindings == nil &&
					!slices.ContainsFunc(tt.srv.Mechanisms, func(m string) bool { return strings.HasSuffix(m, "-PLUS") }):
					want = "y,,"
				}
				if !slices.ContainsFunc(srv.SASLData(), func(d string) bool { return strings.HasPrefix(d, want+"n=") }) {
					t.Errorf("no client-first message starts with %q: %q", want, srv.SASLData())
				}
			}
		})
	}
}

func TestSASLFailures(t *testing.T) {
	t.Run("wrong password with scram", func(t *testing.T) {
		srv := newServer(t, renrentest.Options{Mechanisms: []string{"SCRAM-SHA-256", "SCRAM-SHA-1"}})
		opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
		opts.Password = "wrong"
		_, err := Dial(testContext(t), opts)
		if !errors.Is(err, ErrAuth) || !needsUser(err) {
			t.Fatalf("Dial = %v, want ErrAuth", err)
		}
	})
	t.Run("nothing acceptable offered", func(t *testing.T) {
		srv := newServer(t, renrentest.Options{})
		opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
		opts.SASL = []string{"SCRAM-SHA-256"}
		_, err := Dial(testContext(t), opts)
		var me *mechanismError
		if !errors.As(err, &me) || !needsUser(err) || !strings.Contains(err.Error(), "the server offers [PLAIN], renren.sasl allows [SCRAM-SHA-256]") {
			t.Fatalf("Dial = %v, want a mechanism error", err)
		}
		if n := srv.AuthAttempts(); n != 0 {
			t.Errorf("server got %d <auth/>, want none", n)
		}
	})
	t.Run("plus pinned without binding", func(t *testing.T) {
		srv := newServer(t, renrentest.Options{Mechanisms: allMechanisms})
		opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
		opts.SASL = []string{"SCRAM-SHA-256-PLUS"}
		_, err := Dial(testContext(t), opts)
		if err == nil || !strings.Contains(err.Error(), "no channel binding") {
			t.Fatalf("Dial = %v, want a mechanism error naming the binding", err)
		}
	})
	t.Run("unknown mechanism in options", func(t *testing.T) {
		_, err := resolve(Options{JID: "1", Password: "p", SASL: []string{"DIGEST-MD5"}})
		if err == nil || !strings.Contains(err.Error(), `sasl "DIGEST-MD5": unknown mechanism`) {
			t.Fatalf("resolve = %v", err)
		}
	})
}

// TestNoSASLSecretInLogs logs in with every mechanism at debug level and
// looks for the password and every SASL payload the server received in
// everything that was logged.
func TestNoSASLSecretInLogs(t *testing.T) {
	for _, mech := range allMechanisms {
		t.Run(mech, func(t *testing.T) {
			srv := newServer(t, renrentest.Options{Mechanisms: []string{mech}, TLSMaxVersion: tls.VersionTLS12})
			core, logs := observer.New(zapcore.DebugLevel)
			opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
			opts.Logger = zap.New(core)
			s := dial(t, opts)
			if err := s.SetStatus(testContext(t), "x"); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(testContext(t)); err != nil {
				t.Fatal(err)
			}
			if got := srv.LoginLog(); len(got) != 1 || got[0].Mechanism != mech {
				t.Fatalf("logins = %+v", got)
			}
			secrets := append(srv.SASLData(), testPassword, base64.StdEncoding.EncodeToString([]byte(testPassword)))
			enc := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig())
			for _, e := range logs.All() {
				buf, err := enc.EncodeEntry(e.Entry, e.Context)
				if err != nil {
					t.Fatal(err)
				}
				line := buf.String()
				for _, secret := range secrets {
					if len(secret) >= 8 && strings.Contains(line, secret) {
						t.Errorf("log line holds a SASL secret %q: %s", secret, line)
					}
				}
			}
			if logs.FilterMessage("sasl").Len() != 1 {
				t.Errorf("want one debug line naming the mechanism")
			}
		})
	}
}

// TestSCRAMServerFinal checks that the server must prove it knows the
// password, wherever RFC 6120 lets it put the proof.
func TestSCRAMServerFinal(t *testing.T) {
	for _, tt := range []struct {
		final   string
		wantErr string
	}{
		{"", ""},
		{"challenge", ""},
		{"omit", "did not prove that it knows the password"},
		{"forge", "sasl SCRAM-SHA-256"},
	} {
		t.Run("final "+tt.final, func(t *testing.T) {
			srv := newServer(t, renrentest.Options{Mechanisms: []string{"SCRAM-SHA-256"}, SCRAMFinal: tt.final})
			s, err := Dial(testContext(t), clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				_ = s.Close(testContext(t))
				return
			}
			if err == nil {
				_ = s.Close(testContext(t))
				t.Fatal("Dial succeeded against a server that did not prove the password")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrAuth) {
				t.Errorf("Dial = %v, want %q (and not a rejected login)", err, tt.wantErr)
			}
		})
	}
}

// TestSCRAMIterationBound: a server that asks for two billion PBKDF2
// iterations (with the client's nonce, as a real hostile server can) is
// refused at once instead of taking the CPU for minutes.
func TestSCRAMIterationBound(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go func() {
		buf := make([]byte, 4096)
		var got []byte
		for !bytes.Contains(got, []byte("</auth>")) {
			n, err := server.Read(buf)
			if err != nil {
				return
			}
			got = append(got, buf[:n]...)
		}
		b64 := got[bytes.IndexByte(got, '>')+1 : bytes.Index(got, []byte("</auth>"))]
		first, _ := base64.StdEncoding.DecodeString(string(b64))
		_, nonce, _ := strings.Cut(string(first), ",r=")
		challenge := "r=" + nonce + "srv,s=" + base64.StdEncoding.EncodeToString([]byte("salt")) + ",i=2000000000"
		fmt.Fprintf(server, "<challenge xmlns='%s'>%s</challenge>", nsSASL, base64.StdEncoding.EncodeToString([]byte(challenge)))
		_, _ = io.Copy(io.Discard, server)
	}()
	tr := newTransport(t.Context(), transportConfig{domain: "talk.xiaonei.com",
		auth: authConfig{user: testUser, password: testPassword, mechanisms: mechanismPreference, log: zap.NewNop()}})
	tr.raw, tr.conn = client, client
	tr.dec = tr.newDecoder(client)
	start := time.Now()
	err := tr.scramLogin(mechSHA256, scram.SHA256, false, scram.ChannelBinding{}, false)
	if err == nil || !strings.Contains(err.Error(), "2000000000 PBKDF2 iterations") {
		t.Fatalf("scramLogin = %v, want the iteration count refused", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v", took)
	}
}
