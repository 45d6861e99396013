package twitter

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fakeTransport records the request it gets and answers 200.
type fakeTransport struct {
	got *http.Request
}

func (f *fakeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.got = r
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("[]")), Request: r}, nil
}

func TestRewriter(t *testing.T) {
	tests := []struct {
		name    string
		base    string
		in      string
		want    string
		refused bool
	}{
		{name: "local test server", base: "http://127.0.0.1:1234/1.1/", in: "https://api.twitter.com/1.1/statuses/user_timeline.json?count=200&since_id=5", want: "http://127.0.0.1:1234/1.1/statuses/user_timeline.json?count=200&since_id=5"},
		{name: "other prefix", base: "https://social.example/api/", in: "https://api.twitter.com/1.1/account/verify_credentials.json", want: "https://social.example/api/account/verify_credentials.json"},
		{name: "escaped path kept", base: "https://x.example/a%2Fb/", in: "https://api.twitter.com/1.1/statuses/update.json", want: "https://x.example/a%2Fb/statuses/update.json"},
		{name: "other host refused", base: "http://127.0.0.1:1/1.1/", in: "https://upload.twitter.com/1.1/media/upload.json", refused: true},
		{name: "plain http refused", base: "http://127.0.0.1:1/1.1/", in: "http://api.twitter.com/1.1/statuses/update.json", refused: true},
		{name: "other version refused", base: "http://127.0.0.1:1/1.1/", in: "https://api.twitter.com/2/tweets", refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := parseBase(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			next := &fakeTransport{}
			req, err := http.NewRequest("GET", tt.in, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = rewriter{base: base, next: next}.RoundTrip(req)
			if tt.refused {
				if err == nil || next.got != nil {
					t.Fatalf("request was forwarded to %v", next.got.URL)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if next.got.URL.String() != tt.want {
				t.Errorf("url = %s, want %s", next.got.URL, tt.want)
			}
			// The Host header must follow, or the signature is computed
			// for api.twitter.com.
			if next.got.Host != "" {
				t.Errorf("Host = %q, want empty (from the URL)", next.got.Host)
			}
			if req.URL.String() != tt.in || req.Host != "api.twitter.com" {
				t.Error("the caller's request was modified")
			}
		})
	}
}

func TestParseBase(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{in: "https://api.twitter.com/1.1/", want: "https://api.twitter.com/1.1/"},
		{in: "http://127.0.0.1:8080/1.1", want: "http://127.0.0.1:8080/1.1/"},
		{in: "https://fanfou.example", want: "https://fanfou.example/"},
		{in: "ftp://x/", err: true},
		{in: "/1.1/", err: true},
		{in: "https://x/?a=b", err: true},
		{in: "https://user:pw@x/", err: true},
		{in: "://", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := parseBase(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v", err)
			}
			if err == nil && u.String() != tt.want {
				t.Errorf("got %s, want %s", u, tt.want)
			}
		})
	}
}

// blockingTransport waits for the request's context to end.
type blockingTransport struct{}

func (blockingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	<-r.Context().Done()
	return nil, context.Cause(r.Context())
}

func TestCtxTransport(t *testing.T) {
	t.Run("caller context cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req, _ := http.NewRequest("GET", "http://x.example/", nil)
		_, err := ctxTransport{ctx: ctx, next: blockingTransport{}}.RoundTrip(req)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("request context (client timeout) still applies", func(t *testing.T) {
		reqCtx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(reqCtx, "GET", "http://x.example/", nil)
		_, err := ctxTransport{ctx: context.Background(), next: blockingTransport{}}.RoundTrip(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("context lives until the body is closed", func(t *testing.T) {
		var got *http.Request
		next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("x"))}, nil
		})
		req, _ := http.NewRequest("GET", "http://x.example/", nil)
		resp, err := ctxTransport{ctx: context.Background(), next: next}.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got.Context().Err() != nil {
			t.Fatal("context ended before the body was read")
		}
		resp.Body.Close()
		resp.Body.Close()
		if got.Context().Err() == nil {
			t.Fatal("context still alive after Close")
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRewriteStringInErrors(t *testing.T) {
	base, _ := parseBase("http://127.0.0.1:9/1.1/")
	rw := rewriter{base: base}
	if got := rw.rewriteString("https://api.twitter.com/1.1/statuses/user_timeline.json?count=1"); got != "http://127.0.0.1:9/1.1/statuses/user_timeline.json?count=1" {
		t.Errorf("got %s", got)
	}
	if got := rw.rewriteString("%zz"); got != "%zz" {
		t.Errorf("got %s", got)
	}
}
