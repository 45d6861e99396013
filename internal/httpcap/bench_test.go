package httpcap_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/r2sync/r2sync/internal/httpcap"
)

// BenchmarkIdlePoll is one idle poll's HTTP part (GET, a 2-byte answer,
// body capped) through each transport r2sync has had: a new connection
// per request (Base), net/http's keep-alive (which resends), KeepAlive.
func BenchmarkIdlePoll(b *testing.B) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Rate-Limit-Remaining", "899")
		io.WriteString(w, "[]")
	}))
	defer s.Close()
	netKA := httpcap.Base(256 << 10)
	netKA.DisableKeepAlives = false
	for _, tt := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"base", httpcap.Base(256 << 10)},
		{"nethttp-keepalive", netKA},
		{"keepalive", httpcap.KeepAlive(256 << 10)},
	} {
		b.Run(tt.name, func(b *testing.B) {
			hc := &http.Client{Transport: httpcap.Transport(tt.rt, httpcap.Limits{OK: 8 << 20, Err: 64 << 10, Name: "bench"})}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := hc.Get(s.URL)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
