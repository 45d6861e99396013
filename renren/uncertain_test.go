package renren

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/renren/renrentest"
)

// isUncertain is how daemon reads contract 1: anywhere in the chain, an
// Uncertain method that returns true.
func isUncertain(err error) bool {
	var u interface{ Uncertain() bool }
	return errors.As(err, &u) && u.Uncertain()
}

// TestSetStatusUncertain covers the servers that take a status and never
// confirm it: SetStatus must say that the status may have been published,
// so that the daemon does not send it again and again.
func TestSetStatusUncertain(t *testing.T) {
	tests := []struct {
		name  string
		fault renrentest.Fault
		want  string // in the error
	}{
		{"drops the connection after each status", renrentest.Fault{Drop: true}, "connection lost"},
		{"sends an undefined entity", renrentest.Fault{Send: "<message from='x@talk.xiaonei.com'><body>&foo;</body></message>"}, "invalid character entity &foo;"},
		{"sends invalid utf-8", renrentest.Fault{Send: "<message from='x@talk.xiaonei.com'><body>\xff\xfe</body></message>"}, "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, renrentest.Options{AfterStatus: tt.fault})
			s := dial(t, clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
			err := s.SetStatus(testContext(t), "once only")
			if err == nil {
				t.Fatal("SetStatus = nil, want an error")
			}
			if !isUncertain(err) {
				t.Errorf("SetStatus = %v, want an Uncertain error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SetStatus = %v, want %q in it", err, tt.want)
			}
			// Uncertain was the right call: the server has the status.
			if got := srv.Statuses(); len(got) != 1 || got[0].Text != "once only" {
				t.Errorf("statuses = %+v, want the one sent", got)
			}
		})
	}
	t.Run("never answers the ping", func(t *testing.T) {
		srv := newServer(t, renrentest.Options{})
		opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
		opts.PingTimeout = 300 * time.Millisecond
		s := dial(t, opts)
		srv.Silence(true)
		err := s.SetStatus(testContext(t), "into the void")
		if !isUncertain(err) || !strings.Contains(err.Error(), "no ping reply") {
			t.Errorf("SetStatus = %v, want an Uncertain error about the ping", err)
		}
	})
	t.Run("caller gives up waiting for the reply", func(t *testing.T) {
		srv := newServer(t, renrentest.Options{})
		s := dial(t, clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
		srv.Silence(true)
		ctx, cancel := context.WithTimeout(testContext(t), 200*time.Millisecond)
		defer cancel()
		if err := s.SetStatus(ctx, "maybe"); !isUncertain(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("SetStatus = %v, want an Uncertain DeadlineExceeded", err)
		}
	})
}

// TestSetStatusCertainFailure covers failures where nothing of the status
// reached the server: no Uncertain there, or the daemon would drop a
// status it can safely send again.
func TestSetStatusCertainFailure(t *testing.T) {
	t.Run("dead session", func(t *testing.T) {
		srv := newServer(t, renrentest.Options{})
		s := dial(t, clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
		srv.KickAll()
		<-s.Done()
		if err := s.SetStatus(testContext(t), "x"); err == nil || isUncertain(err) {
			t.Errorf("SetStatus = %v, want an error that is not Uncertain", err)
		}
	})
	t.Run("write fails before any byte", func(t *testing.T) {
		srv := newServer(t, renrentest.Options{})
		opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
		w := &writeFaults{}
		opts.dial = w.dial
		s := dial(t, opts)
		w.mode.Store(writeFail)
		err := s.SetStatus(testContext(t), "x")
		if err == nil || isUncertain(err) || !strings.Contains(err.Error(), "injected write failure") {
			t.Errorf("SetStatus = %v, want the write failure, not Uncertain", err)
		}
		if got := srv.Statuses(); len(got) != 0 {
			t.Errorf("statuses = %+v, want none", got)
		}
	})
	t.Run("write never completes", func(t *testing.T) {
		// The counterpart: a write stuck in the kernel may have sent
		// anything, so it is uncertain.
		srv := newServer(t, renrentest.Options{})
		opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
		w := &writeFaults{}
		opts.dial = w.dial
		s := dial(t, opts)
		w.mode.Store(writeBlock)
		ctx, cancel := context.WithTimeout(testContext(t), 200*time.Millisecond)
		defer cancel()
		if err := s.SetStatus(ctx, "x"); !isUncertain(err) {
			t.Errorf("SetStatus = %v, want Uncertain", err)
		}
	})
	t.Run("empty text", func(t *testing.T) {
		srv := newServer(t, renrentest.Options{})
		s := dial(t, clientOptions(t, srv, testUser+"@talk.xiaonei.com"))
		if err := s.SetStatus(testContext(t), " "); err == nil || isUncertain(err) {
			t.Errorf("SetStatus = %v, want an error that is not Uncertain", err)
		}
	})
}

// TestConnSetStatusUncertain checks that a Conn passes the distinction on.
func TestConnSetStatusUncertain(t *testing.T) {
	t.Run("no session", func(t *testing.T) {
		c := NewConn(Options{JID: testUser + "@talk.xiaonei.com", Password: testPassword, Address: "127.0.0.1:1"})
		ctx, cancel := context.WithTimeout(testContext(t), 100*time.Millisecond)
		defer cancel()
		if err := c.SetStatus(ctx, "x"); err == nil || isUncertain(err) {
			t.Errorf("SetStatus = %v, want an error that is not Uncertain", err)
		}
	})
	t.Run("server drops the connection after the status", func(t *testing.T) {
		srv := newServer(t, renrentest.Options{AfterStatus: renrentest.Fault{Drop: true}})
		opts := clientOptions(t, srv, testUser+"@talk.xiaonei.com")
		opts.Logger = zap.NewNop()
		c := NewConn(opts)
		startConn(t, c)
		waitReady(t, c)
		if err := c.SetStatus(testContext(t), "x"); !isUncertain(err) {
			t.Errorf("SetStatus = %v, want Uncertain", err)
		}
	})
}

const (
	writePass int32 = iota
	writeFail
	writeBlock
)

// writeFaults dials real connections whose writes can be made to fail or
// to hang, below TLS.
type writeFaults struct{ mode atomic.Int32 }

func (w *writeFaults) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &faultyConn{Conn: c, w: w, closed: make(chan struct{})}, nil
}

type faultyConn struct {
	net.Conn
	w      *writeFaults
	once   sync.Once
	closed chan struct{}
}

func (c *faultyConn) Write(p []byte) (int, error) {
	switch c.w.mode.Load() {
	case writeFail:
		return 0, errors.New("injected write failure")
	case writeBlock:
		<-c.closed
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

func (c *faultyConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
