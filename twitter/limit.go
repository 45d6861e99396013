package twitter

import (
	"net/http"

	"github.com/r2sync/r2sync/internal/httpcap"
)

// Bounds on what one response may make us hold in memory. The biggest
// v1.1 timeline page twittertest serves (200 retweets of tweets with four
// photos: two full user objects and two media lists each) is 1.6 MB;
// real ones carry more (quoted tweets with their authors and media), an
// estimated 3 to 4 MB at the very worst, and a page over the cap fails
// every poll for as long as it is served. So maxBody is v2's old bound,
// 8 MiB, which a v2 page of 100 posts with includes (under 1 MB) never
// nears. An error body is a line of JSON or a proxy's HTML page.
const (
	maxBody        = 8 << 20   // a 2xx body
	maxErrorBody   = 64 << 10  // any other body
	maxLoginBody   = 64 << 10  // an OAuth token answer, a form of a few fields
	maxHeaderBytes = 256 << 10 // all response headers (net/http allows 10 MB)
)

// NewTransport returns the transport a V1 or V2 uses when
// Options.Transport is nil, for sources that share one: it caps every
// response body and keeps connections alive without ever resending a
// request (see newTransport).
func NewTransport() http.RoundTripper { return newTransport(maxBody, maxErrorBody) }

// newTransport returns the HTTP transport under every request of the
// package, capping response bodies at maxOK for a 2xx status and at
// maxErr for any other. Doing it here, under the OAuth signer, covers
// go-twitter, oauth1 and our own v2 client alike: none of them can forget
// it.
//
// It speaks HTTP/1.1 only and keeps connections alive
// (httpcap.KeepAlive), but never resends a request: a poll is one request
// per timeline page, and the mirror alone decides when to try again.
// net/http's keep-alive would resend an idempotent request whose reused
// connection turned out dead; httpcap.KeepAlive returns that error
// instead. Reuse saves a TCP and TLS handshake per poll at short
// intervals, and its request runs on the caller's goroutine, which costs
// less CPU per idle poll than net/http's per-connection goroutines.
func newTransport(maxOK, maxErr int64) http.RoundTripper {
	return httpcap.Transport(httpcap.KeepAlive(maxHeaderBytes), httpcap.Limits{OK: maxOK, Err: maxErr, Name: "twitter"})
}
