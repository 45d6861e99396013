package httpcap_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/internal/httpcap"
)

// stallServer reads a request, sends prefix, reports on got, and then
// sends nothing more.
func stallServer(t *testing.T, prefix string, got chan<- struct{}) *rawServer {
	return newRawServer(t, func(s *rawServer, i int, c net.Conn, br *bufio.Reader) {
		if _, err := s.read(br); err != nil {
			return
		}
		io.WriteString(c, prefix)
		got <- struct{}{}
		io.Copy(io.Discard, br) // until the client gives up
	})
}

// TestKeepAliveContext: cancelling the context ends a request stalled
// in its header or its body at once; a deadline ends it in time.
func TestKeepAliveContext(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		s := newRawServer(t, answerAll)
		tr := httpcap.KeepAlive(64 << 10)
		get(t, tr, s.URL()) // leaves a kept connection
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL(), nil)
		if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
		get(t, tr, s.URL()) // the kept connection is still good
		if conns, reqs := s.counts(); conns != 1 || reqs != 2 {
			t.Errorf("server saw %d requests over %d connections, want 2 over 1", reqs, conns)
		}
	})
	t.Run("cancel in header", func(t *testing.T) {
		got := make(chan struct{}, 1)
		s := stallServer(t, "HTTP/1.1 200 OK\r\n", got)
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL(), nil)
		errc := make(chan error, 1)
		go func() {
			_, err := httpcap.KeepAlive(64 << 10).RoundTrip(req)
			errc <- err
		}()
		<-got
		cancel()
		err := within(t, 5*time.Second, func() error { return <-errc })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	})
	t.Run("cancel in body", func(t *testing.T) {
		got := make(chan struct{}, 1)
		s := stallServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome", got)
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL(), nil)
		resp, err := httpcap.KeepAlive(64 << 10).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		<-got
		errc := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(resp.Body)
			errc <- err
		}()
		cancel()
		err = within(t, 5*time.Second, func() error { return <-errc })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		got := make(chan struct{}, 1)
		s := stallServer(t, "", got)
		hc := &http.Client{Timeout: 100 * time.Millisecond, Transport: httpcap.KeepAlive(64 << 10)}
		err := within(t, 5*time.Second, func() error {
			_, err := hc.Get(s.URL())
			return err
		})
		// url.Error's Timeout looks only one level down: at *httpcap.Error.
		var ue *url.Error
		if !errors.As(err, &ue) || !ue.Timeout() {
			t.Errorf("err %v: not a timeout", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		got := make(chan struct{}, 1)
		s := stallServer(t, "", got)
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL(), nil)
		start := time.Now()
		err := within(t, 5*time.Second, func() error {
			_, err := httpcap.KeepAlive(64 << 10).RoundTrip(req)
			return err
		})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 200*time.Millisecond {
			t.Errorf("err %v after %v, want context.DeadlineExceeded after 200ms", err, time.Since(start))
		}
	})
}

// TestKeepAliveConcurrent: parallel requests each get a connection of
// their own, never more connections than requests in flight, and at most
// four stay idle.
func TestKeepAliveConcurrent(t *testing.T) {
	s := newAddrServer(t, false, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
	tr := transportFor(nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				path := fmt.Sprintf("/%d/%d", g, i)
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+path, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != path {
					t.Errorf("%s: %q %v", path, b, err)
				}
			}
		})
	}
	wg.Wait()
	conns, reqs := s.counts()
	t.Logf("%d requests over %d connections", reqs, conns)
	if conns > 8 || reqs != 160 {
		t.Errorf("%d requests over %d connections, want 160 over ≤ 8", reqs, conns)
	}
}
