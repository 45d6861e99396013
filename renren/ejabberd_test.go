package renren

import (
	"crypto/tls"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/r2sync/r2sync/renren/ejabberdtest"
)

// TestSCRAMWithEjabberd logs in to ejabberd 23.01, which offers PLAIN,
// DIGEST-MD5 and SCRAM-SHA-1/256/512, each with -PLUS, and knows only
// tls-unique for binding, without advertising it (no XEP-0440). Over TLS
// 1.3 renren takes SCRAM-SHA-256 (tls-unique is undefined there); over
// TLS 1.2 SCRAM-SHA-256-PLUS with tls-unique; over direct TLS the same.
// ejabberd's own log names the mechanism.
func TestSCRAMWithEjabberd(t *testing.T) {
	e := ejabberdtest.Start(t, ejabberdtest.Options{Users: map[string]string{testUser: testPassword}})
	tests := []struct {
		name    string
		address string
		maxTLS  uint16
		want    string
	}{
		{"starttls, tls 1.3", e.Addr(), 0, "SCRAM-SHA-256"},
		{"starttls, tls 1.2", e.Addr(), tls.VersionTLS12, "SCRAM-SHA-256-PLUS"},
		{"direct tls, tls 1.3", "xmpps://" + e.DirectTLSAddr(), 0, "SCRAM-SHA-256"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			opts := Options{
				JID:           e.JID(testUser),
				Password:      testPassword,
				Address:       tt.address,
				RootCAs:       e.CAPool(),
				PingTimeout:   5 * time.Second,
				DialTimeout:   10 * time.Second,
				Logger:        zap.New(core),
				tlsMaxVersion: tt.maxTLS,
			}
			start := time.Now()
			s := dial(t, opts)
			if err := s.SetStatus(testContext(t), "on ejabberd"); err != nil {
				t.Fatal(err)
			}
			t.Logf("login and confirmed status in %v", time.Since(start).Round(time.Millisecond))
			logins, err := e.WaitLogins(testContext(t), i+1)
			if err != nil {
				t.Fatal(err)
			}
			if got := logins[i]; got.Mechanism != tt.want || got.JID != e.JID(testUser) {
				t.Errorf("ejabberd logged %+v, want %s", got, tt.want)
			}
			t.Logf("ejabberd: Accepted c2s %s authentication for %s", logins[i].Mechanism, logins[i].JID)
			assertNoSASLInLogs(t, logs)
		})
	}
}
