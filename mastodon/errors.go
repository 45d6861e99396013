package mastodon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// APIError is an unsuccessful HTTP status from the server. Every non-2xx
// answer becomes one (wrapped), so callers can branch with errors.As.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Message explains the failure and what to check, in lowercase.
	Message string
	// Detail is the server's "error" text, shortened, or "".
	Detail string
	// Reset is X-RateLimit-Reset of a 429, or zero.
	Reset time.Time
}

// Error implements error.
func (e *APIError) Error() string {
	s := fmt.Sprintf("mastodon api: status %d: %s", e.StatusCode, e.Message)
	if e.Detail != "" {
		s += fmt.Sprintf(" (server said %q)", e.Detail)
	}
	return s
}

// Permanent reports whether retrying cannot help until the user changes
// something: the token, its scopes, the server address, or the post.
func (e *APIError) Permanent() bool {
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusNotFound, http.StatusGone, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// RetryAt returns when a rate-limited request may be retried, or the
// zero time.
func (e *APIError) RetryAt() time.Time {
	if e.StatusCode != http.StatusTooManyRequests {
		return time.Time{}
	}
	return e.Reset
}

// newAPIError builds the error of a non-2xx answer from its body, which
// Mastodon sends as {"error": "..."}; a proxy sends HTML.
func newAPIError(status int, body []byte, rl RateLimit) *APIError {
	e := &APIError{StatusCode: status}
	var v struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil {
		e.Detail = shorten(v.Error)
	}
	if status == http.StatusTooManyRequests {
		e.Reset = rl.Reset
	}
	e.Message = explain(status, e.Reset)
	return e
}

// explain says what a status means for the user. It names the
// credential to check, never its value.
func explain(status int, reset time.Time) string {
	switch {
	case status == http.StatusUnauthorized:
		return "unauthorized: the access token is wrong, expired or revoked; create a new one (scopes read:accounts read:statuses, and write:statuses for posting)"
	case status == http.StatusForbidden:
		return "forbidden: the access token lacks a scope this request needs (read:accounts, read:statuses, write:statuses), or the account is suspended"
	case status == http.StatusNotFound:
		return "not found: check the server address and the account"
	case status == http.StatusUnprocessableEntity:
		return "the server refused the status as invalid"
	case status == http.StatusTooManyRequests:
		if reset.IsZero() {
			return "rate limit exceeded"
		}
		return "rate limit exceeded until " + reset.UTC().Format(time.RFC3339)
	case status >= 500:
		return "server error: " + strings.ToLower(statusText(status))
	}
	return strings.ToLower(statusText(status))
}

func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "unexpected status"
}

// maxDetail bounds the server's text quoted in an error, which is logged
// on every failed poll.
const maxDetail = 300

// shorten cuts s to maxDetail bytes at a character boundary.
func shorten(s string) string {
	if len(s) <= maxDetail {
		return s
	}
	cut := maxDetail
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
