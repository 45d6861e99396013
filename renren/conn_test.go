package renren

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren/renrentest"
)

// startConn runs c until the test ends and returns Run's result channel.
func startConn(t *testing.T, c *Conn) (cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	c.minBackoff, c.maxBackoff = 10*time.Millisecond, 50*time.Millisecond
	return runConn(t, c)
}

// runConn is startConn with c's own backoff.
func runConn(t *testing.T, c *Conn) (cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		errc <- c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return cancel, errc
}

func waitReady(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case <-c.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("Conn not ready")
	}
}

func TestConnReconnectsAfterKick(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	c := NewConn(clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
	startConn(t, c)
	waitReady(t, c)
	ctx := testContext(t)
	if err := c.SetStatus(ctx, "before the kick"); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}

	srv.KickAll()
	// The new session's initial presence shows that Run has noticed the old
	// one's death and logged in again.
	waitFor(t, "a second login", func() bool {
		n := 0
		for _, p := range srv.Presences() {
			if p.Type == "" && !p.HasStatus {
				n++
			}
		}
		return n == 2
	})
	if err := c.SetStatus(ctx, "after the kick"); err != nil {
		t.Fatalf("SetStatus after reconnect: %v", err)
	}
	got := srv.Statuses()
	if len(got) != 2 || got[0].Text != "before the kick" || got[1].Text != "after the kick" {
		t.Fatalf("statuses = %+v", got)
	}
	// The reconnect sent no status of its own (on Renren it would be a
	// post): the two statuses above are all there are.
}

func TestConnSetStatusWaitsForSession(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	c := NewConn(clientOptions(t, srv, testUser+"@talk.xiaonei.com"))

	// Before Run, SetStatus waits until its context ends.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.SetStatus(short, "too early"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SetStatus before Run = %v, want DeadlineExceeded", err)
	}

	// A SetStatus started before Run completes once a session is up.
	errc := make(chan error, 1)
	go func() { errc <- c.SetStatus(testContext(t), "queued") }()
	startConn(t, c)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("SetStatus: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("SetStatus did not complete")
	}
	if got := srv.Statuses(); len(got) != 1 || got[0].Text != "queued" {
		t.Errorf("statuses = %+v", got)
	}
}

func TestConnShutdownClosesCleanly(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	c := NewConn(clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
	cancel, done := startConn(t, c)
	waitReady(t, c)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	ps := srv.Presences()
	if len(ps) != 2 || ps[1].Type != "unavailable" {
		t.Fatalf("presences = %+v, want initial then unavailable", ps)
	}
	if err := c.SetStatus(testContext(t), "after Run"); !errors.Is(err, ErrClosed) {
		t.Errorf("SetStatus after Run = %v, want ErrClosed", err)
	}
}

func TestConnRunStopsOnInvalidOptions(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
	opts.JID = "not a jid"
	c := NewConn(opts)
	_, done := startConn(t, c)
	var err error
	select {
	case err = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	if err == nil {
		t.Fatal("Run = nil, want an error")
	}
	if serr := c.SetStatus(testContext(t), "x"); serr == nil {
		t.Error("SetStatus after Run failed = nil, want an error")
	}
	if n := srv.Connections(); n != 0 {
		t.Errorf("%d connections with invalid options, want 0", n)
	}
}

func TestConnRunTwice(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	c := NewConn(clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
	startConn(t, c)
	waitReady(t, c)
	if err := c.Run(testContext(t)); err == nil {
		t.Error("second Run = nil, want an error")
	}
}

func TestConnPingDetectsDeadSession(t *testing.T) {
	srv := newServer(t, renrentest.Options{})
	opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
	opts.PingInterval = 20 * time.Millisecond
	opts.PingTimeout = time.Second
	c := NewConn(opts)
	startConn(t, c)
	waitReady(t, c)
	// The server ends every stream; the library reports nothing, so Run
	// finds out through its pings and then keeps retrying the dead server.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session to be dropped", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sess == nil
	})
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.SetStatus(short, "nobody listens"); err == nil {
		t.Error("SetStatus with the server gone = nil, want an error")
	}
}
