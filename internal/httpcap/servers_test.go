package httpcap_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/internal/httpcap"
)

// rawServer is a loopback HTTP server written by hand, for the answers
// net/http's server would not give: a request read and never answered,
// extra bytes after a response, a header without end.
type rawServer struct {
	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
	reqs  int
}

// newRawServer serves each connection with serve; i counts connections
// from 0.
func newRawServer(t *testing.T, serve func(s *rawServer, i int, c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				serve(s, i, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// URL is the server's root.
func (s *rawServer) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// read reads one request and its body, counting it.
func (s *rawServer) read(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.reqs++
	s.mu.Unlock()
	_, err = io.Copy(io.Discard, req.Body)
	return req, err
}

// counts returns the connections accepted and the requests read.
func (s *rawServer) counts() (conns, reqs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns), s.reqs
}

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// answerAll answers every request of a connection with okAnswer.
func answerAll(s *rawServer, _ int, c net.Conn, br *bufio.Reader) {
	for {
		if _, err := s.read(br); err != nil {
			return
		}
		if _, err := io.WriteString(c, okAnswer); err != nil {
			return
		}
	}
}

// addrServer is an httptest server that records the client address of
// every request: one address per connection.
type addrServer struct {
	*httptest.Server
	mu    sync.Mutex
	addrs map[string]int
	reqs  int
}

func newAddrServer(t *testing.T, tls bool, h http.HandlerFunc) *addrServer {
	t.Helper()
	s := &addrServer{addrs: map[string]int{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.addrs[r.RemoteAddr]++
		s.reqs++
		s.mu.Unlock()
		h(w, r)
	}))
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// counts returns the connections that carried requests and the requests.
func (s *addrServer) counts() (conns, reqs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.addrs), s.reqs
}

// transportFor returns a KeepAlive transport that trusts s's certificate.
func transportFor(s *httptest.Server) *httpcap.KeepAliveTransport {
	tr := httpcap.KeepAlive(64 << 10)
	if s != nil && s.TLS != nil {
		tr.TLSClientConfig = s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	}
	return tr
}

// get does one GET and returns the body read to its end.
func get(t *testing.T, rt http.RoundTripper, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// within fails the test if f does not return within d; it returns f's
// result. d bounds a wait that should end at once; nothing waits for it.
func within[T any](t *testing.T, d time.Duration, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	start := time.Now()
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		t.Logf("returned after %v", time.Since(start).Round(time.Millisecond))
		return v
	case <-time.After(d):
		t.Fatalf("still blocked after %v", d)
		panic("unreachable")
	}
}
