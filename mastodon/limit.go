package mastodon

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Bounds on what one response may make us hold in memory. A page of 40
// statuses with their accounts, media and cards is 100 to 300 KB on
// mastodon.social; 8 MiB leaves room for long remote posts and stays far
// from what would hurt. An error body is a line of JSON or a proxy's
// HTML page. A stream has no total bound (it lasts for hours) but each of
// its lines has one: one event is one status, which the page bound
// already covers 40 times over.
const (
	maxBody        = 8 << 20   // a 2xx body
	maxErrorBody   = 64 << 10  // any other body
	maxHeaderBytes = 256 << 10 // all response headers (net/http allows 10 MB)
	maxStreamLine  = 1 << 20   // one line of the event stream
)

// NewTransport returns the HTTP transport a Source uses when
// Options.Transport is nil, for sources that share one. It speaks
// HTTP/1.1 only and opens one connection per request, so that no layer
// below the caller resends a request it thinks idempotent (net/http does
// so on a dead keep-alive connection, its HTTP/2 client after GOAWAY):
// the mirror alone decides when to retry. The body caps are applied by
// the Source above whatever transport it is given.
func NewTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableKeepAlives = true
	t.ForceAttemptHTTP2 = false
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP1(true)
	t.MaxResponseHeaderBytes = maxHeaderBytes
	return t
}

// streamKey marks a request's context as the event stream's, whose body
// the limitTransport leaves uncapped (its lines are capped instead).
type streamKey struct{}

func withStream(ctx context.Context) context.Context {
	return context.WithValue(ctx, streamKey{}, true)
}

// limitTransport bounds every response body it passes on, after net/http
// has undone any gzip, so a compressed bomb is bounded too.
type limitTransport struct {
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if ok && req.Context().Value(streamKey{}) != nil {
		return resp, nil
	}
	limit := int64(maxBody)
	if !ok {
		limit = maxErrorBody
	}
	b := &limitedBody{rc: resp.Body, left: limit, limit: limit}
	if resp.ContentLength > limit {
		// Declared too large: fail before any of it is transferred.
		b.err = &bodyTooLargeError{limit: limit}
	}
	resp.Body = b
	return resp, nil
}

// limitedBody reads up to limit bytes, then fails with a
// *bodyTooLargeError if the body has more, instead of passing a cut-off
// body on as complete the way io.LimitReader would.
type limitedBody struct {
	rc    io.ReadCloser
	left  int64
	limit int64
	err   error // sticky
}

// Read implements io.Reader.
func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.err = &bodyTooLargeError{limit: b.limit}
			return 0, b.err
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

// Close implements io.Closer.
func (b *limitedBody) Close() error { return b.rc.Close() }

// bodyTooLargeError says a response body went past its cap.
type bodyTooLargeError struct {
	limit int64
}

func (e *bodyTooLargeError) Error() string {
	return fmt.Sprintf("mastodon: response body over %d KiB", e.limit>>10)
}
