package twitter

import (
	"fmt"
	"io"
	"net/http"
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
// response body and opens one connection per request (see newTransport).
func NewTransport() http.RoundTripper { return newTransport(maxBody, maxErrorBody) }

// newTransport returns the HTTP transport under every request of the
// package, capping response bodies at maxOK for a 2xx status and at
// maxErr for any other.
//
// It speaks HTTP/1.1 only and opens one connection per request, so that
// no layer below the caller retries: net/http silently resends an
// idempotent request when a reused keep-alive connection turns out dead
// (once per idle connection in the pool), and its HTTP/2 client resends
// after GOAWAY or REFUSED_STREAM up to six times. A poll is one request
// per timeline page, and the mirror alone decides when to try again. The
// cost is a TCP and TLS handshake per request, at the default interval
// one a minute, where a keep-alive connection would often have been
// closed by the server in between anyway.
func newTransport(maxOK, maxErr int64) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableKeepAlives = true
	t.ForceAttemptHTTP2 = false
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP1(true)
	t.MaxResponseHeaderBytes = maxHeaderBytes
	return limitTransport{next: t, maxOK: maxOK, maxErr: maxErr}
}

// limitTransport bounds every response body it passes on. Doing it here,
// under the OAuth signer, covers go-twitter, oauth1 and our own v2 client
// alike: none of them can forget it. The limit applies to the body as
// read, after net/http has undone any gzip, so a compressed bomb is
// bounded too.
type limitTransport struct {
	next          http.RoundTripper
	maxOK, maxErr int64
}

// RoundTrip implements http.RoundTripper.
func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	limit := t.maxOK
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		limit = t.maxErr
	}
	b := &limitedBody{rc: resp.Body, left: limit, limit: limit}
	if resp.ContentLength > limit {
		// Declared too large: fail at the first read, before any of it
		// is transferred.
		b.err = &bodyTooLargeError{limit: limit}
	}
	resp.Body = b
	return resp, nil
}

// limitedBody reads up to limit bytes, then fails with a
// *bodyTooLargeError if the body has more. Unlike io.LimitReader it
// does not pass a cut-off body on as complete, which would surface as
// "unexpected end of JSON input" or, worse, decode.
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
		// The limit is reached; one more byte tells a body of exactly
		// limit bytes from a longer one.
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
	return "twitter: response body over " + formatSize(e.limit)
}

// formatSize writes a byte count the way the caps are chosen: 8 MiB,
// 64 KiB.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
