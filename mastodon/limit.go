package mastodon

import (
	"context"
	"net/http"

	"github.com/r2sync/r2sync/internal/httpcap"
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
// Options.Transport is nil, for sources that share one: HTTP/1.1, one
// connection per request (httpcap.Base). The body caps are applied by the
// Source above whatever transport it is given.
func NewTransport() http.RoundTripper { return httpcap.Base(maxHeaderBytes) }

// streamKey marks a request's context as the event stream's, whose body
// the cap leaves alone (its lines are capped instead).
type streamKey struct{}

func withStream(ctx context.Context) context.Context {
	return context.WithValue(ctx, streamKey{}, true)
}

// capped bounds every response body rt passes on, but the stream's.
func capped(rt http.RoundTripper) http.RoundTripper {
	return httpcap.Transport(rt, httpcap.Limits{OK: maxBody, Err: maxErrorBody, Name: "mastodon",
		Uncapped: func(r *http.Request) bool { return r.Context().Value(streamKey{}) != nil }})
}
