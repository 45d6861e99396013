package httpcap_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/internal/httpcap"
)

func TestCaps(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		if r.URL.Query().Get("err") != "" {
			w.WriteHeader(http.StatusBadGateway)
		}
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", fmt.Sprint(n))
		}
		io.WriteString(w, strings.Repeat("x", n))
	}))
	defer srv.Close()
	rt := httpcap.Transport(httpcap.Base(64<<10), httpcap.Limits{OK: 1000, Err: 100, Name: "test",
		Uncapped: func(r *http.Request) bool { return r.URL.Query().Get("stream") != "" }})
	c := &http.Client{Transport: rt}
	for _, tt := range []struct {
		query   string
		n       int
		tooBig  bool
		wantErr string
	}{
		{"n=1000", 1000, false, ""},
		{"n=1001", 0, true, "test: response body over 1000 bytes"},
		{"n=1001&chunked=1", 1000, true, "test: response body over 1000 bytes"},
		{"n=1000&chunked=1", 1000, false, ""},
		{"n=101&err=1", 0, true, "test: response body over 100 bytes"},
		{"n=5000&stream=1", 5000, false, ""},
		{"n=101&err=1&stream=1", 0, true, "test: response body over 100 bytes"}, // error bodies stay capped
	} {
		resp, err := c.Get(srv.URL + "/?" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		var tl *httpcap.TooLargeError
		if tt.tooBig != errors.As(err, &tl) || (tt.tooBig && err.Error() != tt.wantErr) {
			t.Errorf("%s: err %v, want too large %v (%q)", tt.query, err, tt.tooBig, tt.wantErr)
		}
		if !tt.tooBig && len(b) != tt.n {
			t.Errorf("%s: read %d bytes, want %d", tt.query, len(b), tt.n)
		}
	}
	if base, ok := httpcap.Next(rt).(*http.Transport); !ok || !base.DisableKeepAlives || base.MaxResponseHeaderBytes != 64<<10 {
		t.Errorf("base transport %+v", httpcap.Next(rt))
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[int64]string{8 << 20: "8 MiB", 64 << 10: "64 KiB", 1000: "1000 bytes", 1<<20 + 1: "1048577 bytes"} {
		if got := httpcap.Size(in); got != want {
			t.Errorf("Size(%d) = %q, want %q", in, got, want)
		}
	}
}
