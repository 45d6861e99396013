package renren

import (
	"context"
	"errors"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"gosrc.io/xmpp"
)

// TestUseTransport guards the one reach into gosrc.io/xmpp's internals: if
// an upgrade renames or retypes Client.transport, this fails (and so does
// every Dial, with the same message) instead of logging in without the
// limits.
func TestUseTransport(t *testing.T) {
	c, err := xmpp.NewClient(&xmpp.Config{
		TransportConfiguration: xmpp.TransportConfiguration{Address: "127.0.0.1:5222", Domain: "talk.xiaonei.com"},
		Jid:                    "123456@talk.xiaonei.com/r2sync",
		Credential:             xmpp.Password("x"),
	}, xmpp.NewRouter(), func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	tr := newTransport(t.Context(), transportConfig{})
	if err := useTransport(c, tr); err != nil {
		t.Fatalf("useTransport: %v", err)
	}
	f := reflect.ValueOf(c).Elem().FieldByName("transport")
	got := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface()
	if got != xmpp.Transport(tr) {
		t.Fatalf("client transport = %T %p, want ours %p", got, got, tr)
	}
	if err := useTransport(c, tr); err == nil || !strings.Contains(err.Error(), "library changed") {
		t.Errorf("second useTransport = %v, want a refusal: only the library's own transport is replaced", err)
	}
}

// pipeTransport is a logged-in transport over one end of a net.Pipe whose
// other end nobody reads: every write blocks, as on a peer that stopped
// reading once the socket buffers are full.
func pipeTransport(t *testing.T, writeTimeout time.Duration) *transport {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { server.Close() })
	tr := newTransport(t.Context(), transportConfig{writeTimeout: writeTimeout})
	tr.raw, tr.conn, tr.open, tr.loggedIn = client, client, true, true
	tr.stopTimer = func() bool { return true }
	return tr
}

// TestTransportCloseWithStuckWrite: the library's Close writes
// </stream:stream> without a deadline behind a write that never ends, and
// so never returns. This one returns at once and ends the write.
func TestTransportCloseWithStuckWrite(t *testing.T) {
	tr := pipeTransport(t, time.Hour)
	wrote := make(chan error, 1)
	go func() {
		_, err := tr.Write([]byte("<presence><status>stuck</status></presence>"))
		wrote <- err
	}()
	waitFor(t, "the write to block", func() bool { return tr.writers.Load() == 1 })
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		tr.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked behind a stuck write")
	}
	select {
	case err := <-wrote:
		if err == nil {
			t.Error("the stuck write succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck write outlived Close")
	}
	t.Logf("Close returned after %s", time.Since(start).Round(time.Millisecond))
}

// TestTransportWriteDeadline: after login every write has a deadline, so a
// peer that stops reading ends the connection by itself.
func TestTransportWriteDeadline(t *testing.T) {
	tr := pipeTransport(t, 100*time.Millisecond)
	_, err := tr.Write([]byte("<presence/>"))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write = %v, want a deadline error", err)
	}
	if tr.failed() == nil {
		t.Error("a failed write left the connection open")
	}
}

// TestTransportWriteBacklog floods writes at a peer that does not read, as
// gosrc.io/xmpp does when it answers a flood of <iq/> requests each on a
// goroutine of its own: beyond maxWriters the connection is dropped and
// every write returns.
func TestTransportWriteBacklog(t *testing.T) {
	tr := pipeTransport(t, time.Hour)
	const n = 4 * maxWriters
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := tr.Write([]byte("<iq type='error' id='x'/>"))
			errs <- err
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d writes still blocked", tr.writers.Load())
	}
	close(errs)
	for err := range errs {
		if err == nil {
			t.Fatal("a write succeeded on a peer that reads nothing")
		}
	}
	if f := tr.failed(); f == nil || !strings.Contains(f.Error(), "writes waiting") {
		t.Errorf("failed() = %v, want the backlog", f)
	}
}

// TestTransportCloseDuringConnect closes a transport whose dial hangs:
// Connect returns at once, and the connection it would have made is
// closed.
func TestTransportCloseDuringConnect(t *testing.T) {
	dialing := make(chan struct{})
	tr := newTransport(t.Context(), transportConfig{
		addr: "127.0.0.1:1",
		dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			close(dialing)
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	res := make(chan error, 1)
	go func() {
		_, err := tr.Connect()
		res <- err
	}()
	<-dialing
	tr.Close()
	select {
	case err := <-res:
		if err == nil {
			t.Error("Connect succeeded after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Connect still dialing after Close")
	}
}
