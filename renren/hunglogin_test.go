package renren

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren/renrentest"
)

// hungServer is a hostile XMPP server that goes quiet at one step of the
// login and holds the connection until the client closes it.
type hungServer struct {
	ln    net.Listener
	stall func(c net.Conn) // talks until the step, then returns
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func newHungServer(t *testing.T, stall func(c net.Conn)) *hungServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hungServer{ln: ln, stall: stall}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				defer c.Close()
				h.stall(c)
				// Say nothing more; read until the client hangs up.
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		h.mu.Lock()
		for _, c := range h.conns { // a leaking client never hangs up
			c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
	return h
}

// readUntil reads c until what has been seen; the client's bytes are
// never large here.
func readUntil(c net.Conn, what string) error {
	var seen []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(seen, []byte(what)) {
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		seen = append(seen, buf[:n]...)
	}
	return nil
}

const hungHeader = "<?xml version='1.0'?><stream:stream from='talk.xiaonei.com' id='x' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

// openSockets counts the sockets this process holds open.
func openSockets(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// TestHungLoginsLeakNoSocket dials servers that stall at each step of the
// login, many times over, and checks that every attempt ends at its
// deadline and that the process's sockets and goroutines return to what
// they were. gosrc.io/xmpp's own transport left one socket (and the
// server's end) behind per attempt.
func TestHungLoginsLeakNoSocket(t *testing.T) {
	pki, err := renrentest.NewPKI("talk.xiaonei.com")
	if err != nil {
		t.Fatal(err)
	}
	tlsServer := &tls.Config{Certificates: []tls.Certificate{pki.Cert}, MinVersion: tls.VersionTLS12}
	starttls := func(c net.Conn) (net.Conn, error) {
		if err := readUntil(c, "<stream:stream"); err != nil {
			return nil, err
		}
		fmt.Fprint(c, hungHeader+"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>")
		if err := readUntil(c, "starttls"); err != nil {
			return nil, err
		}
		fmt.Fprint(c, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		return c, nil
	}
	servers := []struct {
		name  string
		stall func(net.Conn)
	}{
		{"accepts and says nothing", func(net.Conn) {}},
		{"sends a header and never features", func(c net.Conn) {
			if readUntil(c, "<stream:stream") == nil {
				fmt.Fprint(c, hungHeader)
			}
		}},
		{"stalls mid-tls", func(c net.Conn) {
			_, _ = starttls(c) // then reads the ClientHello and never answers
		}},
		{"stalls after tls at sasl", func(c net.Conn) {
			if _, err := starttls(c); err != nil {
				return
			}
			tc := tls.Server(c, tlsServer)
			if tc.Handshake() != nil || readUntil(tc, "<stream:stream") != nil {
				return
			}
			fmt.Fprint(tc, hungHeader+"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>")
			_ = readUntil(tc, "</auth>") // and never answers
		}},
	}
	const attempts = 8
	const timeout = 300 * time.Millisecond
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			h := newHungServer(t, srv.stall)
			sockets, goroutines := openSockets(t), runtime.NumGoroutine()
			opts := Options{
				JID:         testUser + "@talk.xiaonei.com",
				Password:    testPassword,
				Address:     h.ln.Addr().String(),
				RootCAs:     pki.CAPool,
				DialTimeout: timeout,
			}
			var wg sync.WaitGroup
			for i := 0; i < attempts; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					s, err := Dial(t.Context(), opts)
					took := time.Since(start)
					if err == nil {
						s.Close(t.Context())
						t.Error("Dial succeeded against a hung server")
						return
					}
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("Dial = %v, want the dial deadline", err)
					}
					if took > timeout+2*time.Second {
						t.Errorf("Dial took %s, deadline %s", took, timeout)
					}
				}()
			}
			wg.Wait()
			waitAtMost(t, "open sockets", func() int { return openSockets(t) }, sockets)
			waitAtMost(t, "goroutines", runtime.NumGoroutine, goroutines)
			t.Logf("%d attempts: sockets %d -> %d, goroutines %d -> %d",
				attempts, sockets, openSockets(t), goroutines, runtime.NumGoroutine())
		})
	}
}

// waitAtMost polls count until it is at most want, or fails with the last
// count after a deadline.
func waitAtMost(t *testing.T, what string, count func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := count()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s, want at most %d (the baseline)", n, what, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
