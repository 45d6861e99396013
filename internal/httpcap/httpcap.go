// Package httpcap bounds what one HTTP response can make r2sync hold in
// memory, for every source's API client: a transport that caps response
// bodies (a larger body fails loudly instead of passing on cut off), and
// two HTTP/1.1 transports to put below it that never resend a request on
// their own: Base (net/http, a new connection per request) and KeepAlive
// (kept connections, each request on the caller's goroutine).
package httpcap

import (
	"fmt"
	"io"
	"net/http"
)

// Base returns an HTTP/1.1 transport that opens one connection per
// request and caps response headers at maxHeaderBytes. With no
// keep-alive connection and no HTTP/2, no layer below the caller resends
// a request: net/http silently retries an idempotent request on a reused
// connection that turns out dead, and its HTTP/2 client after GOAWAY or
// REFUSED_STREAM. The mirror alone decides when to try again.
func Base(maxHeaderBytes int64) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableKeepAlives = true
	t.ForceAttemptHTTP2 = false
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP1(true)
	t.MaxResponseHeaderBytes = maxHeaderBytes
	return t
}

// Limits caps response bodies: OK for a 2xx status, Err for any other.
type Limits struct {
	OK, Err int64
	// Name starts the error of a body over its cap ("twitter").
	Name string
	// Uncapped, when set, exempts the 2xx bodies of the requests it
	// accepts (a stream that lasts for hours, whose lines are capped
	// instead).
	Uncapped func(*http.Request) bool
}

// Transport returns next with every response body capped by l. The cap
// applies to the body as read, after net/http has undone any gzip, so a
// compressed bomb is bounded too.
func Transport(next http.RoundTripper, l Limits) http.RoundTripper {
	return &transport{next: next, l: l}
}

type transport struct {
	next http.RoundTripper
	l    Limits
}

// Next returns the transport under a Transport, or nil for any other.
func Next(rt http.RoundTripper) http.RoundTripper {
	if t, ok := rt.(*transport); ok {
		return t.next
	}
	return nil
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if ok && t.l.Uncapped != nil && t.l.Uncapped(req) {
		return resp, nil
	}
	limit := t.l.OK
	if !ok {
		limit = t.l.Err
	}
	b := &body{rc: resp.Body, left: limit, limit: limit, name: t.l.Name}
	if resp.ContentLength > limit {
		// Declared too large: fail at the first read, before any of it
		// is transferred.
		b.err = &TooLargeError{Name: t.l.Name, Limit: limit}
	}
	resp.Body = b
	return resp, nil
}

// body reads up to limit bytes, then fails with a *TooLargeError if the
// body has more. Unlike io.LimitReader it does not pass a cut-off body on
// as complete, which would surface as "unexpected end of JSON input" or,
// worse, decode.
type body struct {
	rc    io.ReadCloser
	left  int64
	limit int64
	name  string
	err   error // sticky
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
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
			b.err = &TooLargeError{Name: b.name, Limit: b.limit}
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
func (b *body) Close() error { return b.rc.Close() }

// TooLargeError says a response body went past its cap.
type TooLargeError struct {
	Name  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return e.Name + ": response body over " + Size(e.Limit)
}

// Size writes a byte count the way caps are chosen: 8 MiB, 64 KiB.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
