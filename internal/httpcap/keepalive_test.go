package httpcap_test

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/r2sync/r2sync/internal/httpcap"
)

// TestKeepAliveReusesConnection: sequential requests share one
// connection, over plain TCP and over TLS, in HTTP/1.1.
func TestKeepAliveReusesConnection(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			s := newAddrServer(t, tls, func(w http.ResponseWriter, r *http.Request) {
				if r.Proto != "HTTP/1.1" {
					t.Errorf("request over %s", r.Proto)
				}
				io.WriteString(w, "hello")
			})
			s.EnableHTTP2 = true // offered, never taken
			tr := transportFor(s.Server)
			for range 3 {
				resp, body := get(t, tr, s.URL+"/x")
				if body != "hello" || resp.StatusCode != 200 {
					t.Fatalf("got %d %q", resp.StatusCode, body)
				}
				if tls && (resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1") {
					t.Errorf("tls state %+v", resp.TLS)
				}
			}
			if conns, reqs := s.counts(); conns != 1 || reqs != 3 {
				t.Errorf("%d requests over %d connections, want 3 over 1", reqs, conns)
			}
		})
	}
}

// TestKeepAliveNoHiddenRetry: a kept connection the server drops after
// reading the request fails that one request, which is not sent again;
// the next request dials anew.
func TestKeepAliveNoHiddenRetry(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			s := newRawServer(t, func(s *rawServer, i int, c net.Conn, br *bufio.Reader) {
				if i > 0 {
					answerAll(s, i, c, br)
					return
				}
				if _, err := s.read(br); err != nil {
					return
				}
				io.WriteString(c, okAnswer)
				s.read(br) // then close without an answer
			})
			tr := httpcap.KeepAlive(64 << 10)
			do := func() error {
				req, _ := http.NewRequestWithContext(t.Context(), method, s.URL(), strings.NewReader("a=b"))
				req.Header.Set("Authorization", `OAuth oauth_signature="s3cr3t"`)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					return err
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				return err
			}
			if err := do(); err != nil {
				t.Fatal(err)
			}
			err := do()
			if err == nil {
				t.Fatal("no error from a connection dropped without an answer")
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows the Authorization header: %v", err)
			}
			t.Logf("error: %v", err)
			if conns, reqs := s.counts(); conns != 1 || reqs != 2 {
				t.Errorf("server saw %d requests over %d connections, want 2 over 1", reqs, conns)
			}
			if err := do(); err != nil {
				t.Fatalf("after the drop: %v", err)
			}
			if conns, reqs := s.counts(); conns != 2 || reqs != 3 {
				t.Errorf("server saw %d requests over %d connections, want 3 over 2", reqs, conns)
			}
		})
	}
}

// TestKeepAliveServerEndsConnection: a connection the server closed, or
// said it would close, is not used again; each request goes out once, on
// a new connection, and succeeds.
func TestKeepAliveServerEndsConnection(t *testing.T) {
	closed := make(chan struct{}, 10)
	for _, tt := range []struct {
		name  string
		serve func(s *rawServer, i int, c net.Conn, br *bufio.Reader)
		wait  bool
	}{
		{"closed after the answer", func(s *rawServer, i int, c net.Conn, br *bufio.Reader) {
			if _, err := s.read(br); err == nil {
				io.WriteString(c, okAnswer)
			}
			c.Close()
			closed <- struct{}{}
		}, true},
		{"connection close", func(s *rawServer, i int, c net.Conn, br *bufio.Reader) {
			if _, err := s.read(br); err == nil {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
			}
			s.read(br) // a second request would be counted
		}, false},
		{"http/1.0 keep-alive", func(s *rawServer, i int, c net.Conn, br *bufio.Reader) {
			if _, err := s.read(br); err == nil {
				io.WriteString(c, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
			}
			s.read(br)
		}, false},
		{"body to eof", func(s *rawServer, i int, c net.Conn, br *bufio.Reader) {
			if _, err := s.read(br); err == nil {
				io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nok")
			}
		}, false},
		{"bytes after the answer", func(s *rawServer, i int, c net.Conn, br *bufio.Reader) {
			if _, err := s.read(br); err == nil {
				io.WriteString(c, okAnswer+"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad")
			}
			s.read(br)
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newRawServer(t, tt.serve)
			tr := httpcap.KeepAlive(64 << 10)
			for i := range 3 {
				if _, body := get(t, tr, s.URL()); body != "ok" {
					t.Fatalf("request %d: body %q", i, body)
				}
				if tt.wait {
					<-closed
				}
				if conns, reqs := s.counts(); conns != i+1 || reqs != i+1 {
					t.Fatalf("after request %d: server saw %d requests over %d connections", i, reqs, conns)
				}
			}
		})
	}
}

// TestKeepAliveHeaderCap: headers over the cap fail with a clear error
// after a bounded read, even from a server that never ends them; headers
// under it pass.
func TestKeepAliveHeaderCap(t *testing.T) {
	for _, tt := range []struct {
		name    string
		header  int  // bytes of X-Big
		endless bool // the header never ends
		wantErr bool
	}{
		{"under", 60 << 10, false, false},
		{"over", 65 << 10, false, true},
		{"endless", 0, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sent int64
			var mu sync.Mutex
			s := newRawServer(t, func(s *rawServer, i int, c net.Conn, br *bufio.Reader) {
				if _, err := s.read(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: ")
				line := strings.Repeat("x", 1024)
				for n := 0; tt.endless || n < tt.header; n += len(line) {
					if _, err := io.WriteString(c, line); err != nil {
						return
					}
					mu.Lock()
					sent += int64(len(line))
					mu.Unlock()
				}
				io.WriteString(c, "\r\n\r\nok")
			})
			tr := httpcap.KeepAlive(64 << 10)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL(), nil)
			resp, err := tr.RoundTrip(req)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "response headers over 64 KiB") {
					t.Fatalf("err %v, want headers over 64 KiB", err)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := len(resp.Header.Get("X-Big")); got != tt.header {
				t.Errorf("X-Big has %d bytes, want %d", got, tt.header)
			}
		})
	}
}

// TestKeepAliveBodies: chunked, HEAD, 204, 304 and 1xx answers are read
// right and leave the connection reusable.
func TestKeepAliveBodies(t *testing.T) {
	s := newAddrServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			for i := range 3 {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		case "/early":
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "final")
		default:
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "plain")
		}
	})
	tr := transportFor(nil)
	for _, tt := range []struct {
		method, path string
		status       int
		body         string
		chunked      bool
	}{
		{"GET", "/chunked", 200, "part0;part1;part2;", true},
		{"HEAD", "/plain", 200, "", false},
		{"GET", "/204", 204, "", false},
		{"GET", "/304", 304, "", false},
		{"GET", "/early", 200, "final", false},
		{"GET", "/plain", 200, "plain", false},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), tt.method, s.URL+tt.path, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		chunked := len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"
		if err != nil || resp.StatusCode != tt.status || string(b) != tt.body || chunked != tt.chunked {
			t.Errorf("%s %s: %d %q chunked=%v %v, want %d %q chunked=%v", tt.method, tt.path,
				resp.StatusCode, b, chunked, err, tt.status, tt.body, tt.chunked)
		}
	}
	if conns, reqs := s.counts(); conns != 1 || reqs != 6 {
		t.Errorf("%d requests over %d connections, want 6 over 1", reqs, conns)
	}
}

// TestKeepAliveGzip: the transport asks for gzip and undoes it, so the
// body cap above counts decompressed bytes; a caller that asks for an
// encoding itself gets the bytes as sent.
func TestKeepAliveGzip(t *testing.T) {
	s := newAddrServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			io.WriteString(w, "identity")
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		n := 100
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		zw := gzip.NewWriter(w)
		io.WriteString(zw, strings.Repeat("z", n))
		zw.Close()
	})
	tr := transportFor(nil)
	resp, body := get(t, tr, s.URL+"/?n=100")
	if body != strings.Repeat("z", 100) || !resp.Uncompressed || resp.Header.Get("Content-Encoding") != "" ||
		resp.Header.Get("Content-Length") != "" || resp.ContentLength != -1 {
		t.Errorf("body %q uncompressed %v header %v length %d", body, resp.Uncompressed, resp.Header, resp.ContentLength)
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/?n=100", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Uncompressed || resp.Header.Get("Content-Encoding") != "gzip" || len(b) == 0 || b[0] != 0x1f {
		t.Errorf("asked-for gzip: uncompressed %v header %v body % x", resp.Uncompressed, resp.Header, b[:min(len(b), 4)])
	}
	if req.Header.Get("Accept-Encoding") != "gzip" || len(req.Header) != 1 {
		t.Errorf("caller's header changed: %v", req.Header)
	}

	// A gzip bomb (10 MB in 10 KB) meets the cap on what it inflates to.
	capped := httpcap.Transport(tr, httpcap.Limits{OK: 1000, Err: 100, Name: "test"})
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/?n=10000000", nil)
	resp, err = capped.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	var tl *httpcap.TooLargeError
	if !errors.As(err, &tl) {
		t.Errorf("10 MB inflated under a 1000-byte cap: %v", err)
	}
	// The first two shared a connection; the bomb's, closed early, is
	// not reused.
	get(t, tr, s.URL+"/?n=1")
	if conns, reqs := s.counts(); conns != 2 || reqs != 4 {
		t.Errorf("%d requests over %d connections, want 4 over 2", reqs, conns)
	}
}

// TestKeepAliveEarlyClose: a body closed before its end closes the
// connection, without reading the rest.
func TestKeepAliveEarlyClose(t *testing.T) {
	s := newAddrServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 1<<20))
	})
	tr := transportFor(nil)
	for range 2 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
			t.Error("read after close: no error")
		}
	}
	if conns, reqs := s.counts(); conns != 2 || reqs != 2 {
		t.Errorf("%d requests over %d connections, want 2 over 2", reqs, conns)
	}
}

// TestKeepAliveProxy: a request the environment sends through a proxy
// goes through Base, to the proxy.
func TestKeepAliveProxy(t *testing.T) {
	var seen string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.URL.String()
		io.WriteString(w, "via proxy")
	}))
	defer proxy.Close()
	tr := httpcap.KeepAlive(64 << 10)
	tr.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse(proxy.URL) }
	if _, body := get(t, tr, "http://api.example.invalid/x"); body != "via proxy" || seen != "http://api.example.invalid/x" {
		t.Errorf("body %q, proxy saw %q", body, seen)
	}
}

// TestKeepAliveBadRequest: requests the transport cannot send fail with
// a clear error and their bodies are closed.
func TestKeepAliveBadRequest(t *testing.T) {
	for _, u := range []string{"ftp://example.com/", "http:///path"} {
		body := &closeRecorder{Reader: strings.NewReader("x")}
		req, _ := http.NewRequest(http.MethodPost, u, body)
		if _, err := httpcap.KeepAlive(64 << 10).RoundTrip(req); err == nil || !body.closed {
			t.Errorf("%s: err %v, body closed %v", u, err, body.closed)
		}
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestKeepAliveTLSServerClosedIdle: a TLS connection the server dropped
// while idle is found dead by the peek and replaced; the request goes
// out once.
func TestKeepAliveTLSServerClosedIdle(t *testing.T) {
	s := newAddrServer(t, true, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr := transportFor(s.Server)
	for i := range 3 {
		if _, body := get(t, tr, s.URL); body != "ok" {
			t.Fatalf("request %d: %q", i, body)
		}
		s.CloseClientConnections()
	}
	if conns, reqs := s.counts(); conns != 3 || reqs != 3 {
		t.Errorf("%d requests over %d connections, want 3 over 3", reqs, conns)
	}
}

// TestKeepAliveCallerClose: a request that asks for its connection to be
// closed does not leave it in the pool.
func TestKeepAliveCallerClose(t *testing.T) {
	for _, how := range []string{"req.Close", "header"} {
		t.Run(how, func(t *testing.T) {
			s := newAddrServer(t, false, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
			tr := transportFor(nil)
			for range 2 {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL, nil)
				if how == "header" {
					req.Header.Set("Connection", "keep-alive, close")
				} else {
					req.Close = true
				}
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if conns, _ := s.counts(); conns != 2 {
				t.Errorf("2 requests over %d connections, want 2", conns)
			}
		})
	}
}
