package httpcap

import "errors"

// Error is a request of a KeepAliveTransport that failed: the step, the
// server (scheme://host:port) and the cause. It never quotes the
// request, whose headers carry credentials.
type Error struct {
	Op   string // "dial", "write request to", "read response from", …
	Addr string
	Err  error
}

// Error implements error.
func (e *Error) Error() string { return "httpcap: " + e.Op + " " + e.Addr + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the request ran out of time. url.Error's
// Timeout looks only at the error directly under it, which is this one
// when http.Client wraps it, so it must see through to the cause as
// net/http's own errors let it.
func (e *Error) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}
