package renren

import (
	"context"
	"crypto/x509"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/r2sync/r2sync/renren/renrentest"
)

const (
	testUser     = "123456"
	testPassword = "s3cret-Passw0rd"
)

// newServer starts an emulated Renren server with one account and checks,
// when the test ends, that the client committed no protocol violation.
func newServer(t *testing.T, opts renrentest.Options) *renrentest.Server {
	t.Helper()
	if opts.Users == nil {
		opts.Users = map[string]string{testUser: testPassword}
	}
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	srv, err := renrentest.NewServer(opts)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
		if v := srv.Violations(); len(v) != 0 {
			t.Errorf("protocol violations: %q", v)
		}
	})
	return srv
}

// clientOptions returns Options that reach srv as jid and trust its CA,
// with short timeouts so that failures show up fast.
func clientOptions(t *testing.T, srv *renrentest.Server, jid string) Options {
	t.Helper()
	return Options{
		JID:          jid,
		Password:     testPassword,
		Address:      srv.Addr(),
		RootCAs:      srv.CAPool(),
		PingInterval: time.Hour, // tests ping explicitly
		PingTimeout:  5 * time.Second,
		DialTimeout:  10 * time.Second,
		Logger:       zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial opens a session and closes it when the test ends.
func dial(t *testing.T, opts Options) *Session {
	t.Helper()
	s, err := Dial(testContext(t), opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connRecorder dials real connections and can drop them all, as a
// network failure under a session would.
type connRecorder struct {
	mu    sync.Mutex
	conns []net.Conn
	dials int
}

func (d *connRecorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := new(net.Dialer).DialContext(ctx, network, addr)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials++
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *connRecorder) dropAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.Close()
	}
	d.conns = nil
}

// renrentestCA returns a pool with a CA that signed none of the servers.
func renrentestCA(t *testing.T) *x509.CertPool {
	t.Helper()
	p, err := renrentest.NewPKI("unrelated.example")
	if err != nil {
		t.Fatal(err)
	}
	return p.CAPool
}
