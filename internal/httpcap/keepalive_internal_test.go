package httpcap

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newCountingServer counts the connections its clients open.
func newCountingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var conns atomic.Int32
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &conns
}

func doGet(t *testing.T, tr *KeepAliveTransport, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestKeepAliveIdleTooLong: a connection idle for longer than maxIdle is
// closed instead of reused.
func TestKeepAliveIdleTooLong(t *testing.T) {
	s, conns := newCountingServer(t)
	tr := KeepAlive(64 << 10)
	key := "http://" + strings.TrimPrefix(s.URL, "http://")
	for i, age := range []time.Duration{0, maxIdle - time.Second, maxIdle + time.Second} {
		resp := doGet(t, tr, s.URL)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n := tr.idleCount(key); n != 1 {
			t.Fatalf("step %d: %d idle, want 1", i, n)
		}
		tr.mu.Lock()
		tr.idle[key][0].idleSince = time.Now().Add(-age)
		tr.mu.Unlock()
	}
	doGet(t, tr, s.URL).Body.Close()
	// Steps 1 and 2 reused the first connection; the last found it too old.
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// TestKeepAliveIdleCap: no more than maxIdlePerHost connections wait in
// the pool; the others are closed.
func TestKeepAliveIdleCap(t *testing.T) {
	s, conns := newCountingServer(t)
	tr := KeepAlive(64 << 10)
	key := "http://" + strings.TrimPrefix(s.URL, "http://")
	var resps []*http.Response
	for range 6 { // six at once: each needs its own connection
		resps = append(resps, doGet(t, tr, s.URL))
	}
	var wg sync.WaitGroup
	for _, resp := range resps {
		wg.Go(func() {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if n := tr.idleCount(key); n != maxIdlePerHost {
		t.Errorf("%d idle, want %d", n, maxIdlePerHost)
	}
	if n := conns.Load(); n != 6 {
		t.Errorf("%d connections, want 6", n)
	}
	tr.CloseIdleConnections()
	if n := tr.idleCount(key); n != 0 {
		t.Errorf("%d idle after CloseIdleConnections", n)
	}
}
