package twitter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// goTwitterBase is the API base that go-twitter hard-codes into every
// request URL.
const goTwitterBase = "https://api.twitter.com/1.1/"

// rewriter moves go-twitter's requests from goTwitterBase to another
// v1.1-compatible base. It must sit in front of the OAuth signer: the
// signature covers scheme, host and path, so a server that verifies it
// only accepts a request signed for the URL it actually received.
type rewriter struct {
	base *url.URL // absolute, no query, path ending in "/"
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (r rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	u, ok := r.rewrite(req.URL)
	if !ok {
		if req.Body != nil {
			req.Body.Close()
		}
		// Refuse rather than forward: the next hop signs the request with
		// the user's credentials.
		return nil, fmt.Errorf("refusing request outside the api base: %s %s://%s%s", req.Method, req.URL.Scheme, req.URL.Host, req.URL.Path)
	}
	req2 := req.Clone(req.Context())
	req2.URL = u
	// http.NewRequest copied "api.twitter.com" into Host; left alone it
	// would go out as the Host header and the server would compute the
	// signature base string for the wrong host.
	req2.Host = ""
	return r.next.RoundTrip(req2)
}

// rewrite maps a URL under goTwitterBase to the same path under r.base.
func (r rewriter) rewrite(u *url.URL) (*url.URL, bool) {
	const prefix = "/1.1/"
	if u.Scheme != "https" || u.Host != "api.twitter.com" || !strings.HasPrefix(u.EscapedPath(), prefix) {
		return nil, false
	}
	s := r.base.String() + strings.TrimPrefix(u.EscapedPath(), prefix)
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	nu, err := url.Parse(s)
	if err != nil {
		return nil, false
	}
	return nu, true
}

// rewriteString rewrites a URL string for error messages, so that they name
// the server that was really contacted.
func (r rewriter) rewriteString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	if nu, ok := r.rewrite(u); ok {
		return nu.String()
	}
	return s
}

// ctxTransport gives a request the caller's context. go-twitter builds its
// requests with http.NewRequest and so without one. The request's own
// context (which carries http.Client.Timeout) stays in force too: the
// request ends when either ends.
type ctxTransport struct {
	ctx  context.Context
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(t.ctx)
	reqCtx := req.Context()
	stop := context.AfterFunc(reqCtx, func() { cancel(context.Cause(reqCtx)) })
	done := func() {
		stop()
		cancel(nil)
	}
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		done()
		return nil, err
	}
	// The context must outlive RoundTrip until the body has been read.
	resp.Body = &doneBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// doneBody calls done once, when the body is closed.
type doneBody struct {
	io.ReadCloser
	done func()
	once sync.Once
}

// Close implements io.Closer.
func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
