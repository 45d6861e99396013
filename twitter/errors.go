package twitter

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	gotwitter "github.com/dghubble/go-twitter/twitter"
)

// APIError is an unsuccessful HTTP status from the API. It is returned
// (wrapped) for every non-2xx response, whether or not the body carried a
// v1.1 errors[] array, so callers can branch with errors.As.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the first v1.1 error code from the body, or 0.
	Code int
	// Problem is the type URI of a v2 problem+json body, e.g.
	// "https://api.twitter.com/2/problems/client-forbidden", or "".
	Problem string
	// Message explains the failure and what to check, in lowercase.
	Message string
	// Detail is the server's own message, verbatim, or "".
	Detail string
	// RateLimitReset is x-rate-limit-reset, or zero when absent.
	RateLimitReset time.Time
}

// Error implements error.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "twitter api: status %d", e.StatusCode)
	if e.Code != 0 {
		fmt.Fprintf(&b, ", code %d", e.Code)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.Detail != "" {
		fmt.Fprintf(&b, " (server said %q)", e.Detail)
	}
	return b.String()
}

// Temporary reports whether the same request may succeed later without any
// change on the user's side: server errors and rate limits.
func (e *APIError) Temporary() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests || e.StatusCode == 420
}

// RateLimited reports whether the request was refused for the rate limit.
func (e *APIError) RateLimited() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == 420 || e.Code == codeRateLimit
}

// TierNotAllowed reports whether the API refused the endpoint for the
// account's X API access tier: code 453 from v1.1, or a v2
// client-forbidden problem (an app outside a project with v2 access).
func (e *APIError) TierNotAllowed() bool {
	return e.Code == codeTierNotAllowed || isV2Problem(e.Problem, "client-forbidden")
}

// RetryAt returns when a rate-limited request may be retried (from
// x-rate-limit-reset), or the zero time when that is unknown or the error
// is not a rate limit.
func (e *APIError) RetryAt() time.Time {
	if !e.RateLimited() {
		return time.Time{}
	}
	return e.RateLimitReset
}

// Permanent reports whether retrying cannot help until the user changes
// something: credentials, app permissions, the API tier or the API base.
// A duplicate or too-long status (Post) is permanent for that status.
func (e *APIError) Permanent() bool {
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound:
		return true
	case http.StatusForbidden:
		// 185: daily status limit, which passes by itself.
		return e.Code != codeDailyLimit
	}
	return false
}

// v1.1 error codes that change the explanation.
const (
	codeNotFound       = 34
	codeAuthFailed     = 32
	codeRateLimit      = 88
	codeInvalidToken   = 89
	codeTimestamp      = 135
	codeSuspended      = 64
	codeDailyLimit     = 185
	codeTooLong        = 186
	codeDuplicate      = 187
	codeBadAuthData    = 215
	codeNoPermission   = 220
	codeReadOnlyApp    = 261
	codeLocked         = 326
	codeReplyNotFound  = 385
	codeInvalidApp     = 416
	codeTierNotAllowed = 453
)

// newAPIError builds the error for a non-2xx response. decodeErr is what
// go-twitter returned: a gotwitter.APIError when the body had errors[],
// nil for an empty body, a JSON syntax error for an HTML page.
func newAPIError(status int, decodeErr error, rl RateLimit) *APIError {
	e := &APIError{StatusCode: status, RateLimitReset: rl.Reset}
	var ge gotwitter.APIError
	if errors.As(decodeErr, &ge) && len(ge.Errors) > 0 {
		e.Code = ge.Errors[0].Code
		e.Detail = shorten(ge.Errors[0].Message)
	}
	e.Message = explain(status, e.Code, rl.Reset)
	return e
}

// explain says what a status and code mean for the user. It names the
// credential to check, never its value.
func explain(status, code int, reset time.Time) string {
	switch code {
	case codeAuthFailed:
		return "could not authenticate: the oauth signature did not verify; the consumer secret or the access token secret is likely wrong (also check the consumer key and the system clock)"
	case codeInvalidToken:
		return "invalid or expired token: the access token is likely wrong or was revoked; generate a new access token and secret"
	case codeTimestamp:
		return "oauth timestamp out of bounds: the system clock is off; synchronize it"
	case codeBadAuthData:
		return "bad authentication data: the consumer key or the access token is missing or malformed"
	case codeInvalidApp:
		return "invalid or suspended application: the consumer key is likely wrong, or the app was suspended"
	case codeTierNotAllowed:
		return "x api v1.1 is not available on your x api access tier (since 2023 the free and basic tiers answer v1.1 timeline and posting requests with 453): use the x api v2 instead"
	case codeReadOnlyApp:
		return "the app cannot write: give it read and write permission, then generate a new access token and secret"
	case codeNoPermission:
		return "the access token does not allow this request: generate a new access token with the needed permissions"
	case codeDuplicate:
		return "status is a duplicate of a recent one"
	case codeTooLong:
		return "status is too long"
	case codeDailyLimit:
		return "daily status update limit reached"
	case codeLocked:
		return "account is locked: log in on the web to unlock it"
	case codeSuspended:
		return "account is suspended"
	case codeReplyNotFound:
		return "the tweet replied to is deleted or not visible"
	case codeNotFound:
		return "not found: check the api base url and the account"
	}
	switch {
	case status == http.StatusTooManyRequests || status == 420 || code == codeRateLimit:
		if reset.IsZero() {
			return "rate limit exceeded"
		}
		return "rate limit exceeded until " + reset.UTC().Format(time.RFC3339)
	case status == http.StatusUnauthorized:
		return "unauthorized: check the consumer key and secret and the access token and secret"
	case status == http.StatusForbidden:
		return "forbidden: the app or the access token lacks permission for this endpoint, or the api tier does not include it"
	case status == http.StatusNotFound:
		return "not found: check the api base url"
	case status >= 500:
		return "server error: " + strings.ToLower(statusText(status))
	}
	return strings.ToLower(statusText(status))
}

// maxDetail bounds the server's message quoted in an error: the error
// is logged on every failed poll, and the body may hold 64 KiB of it.
const maxDetail = 300

// shorten cuts a server message to maxDetail bytes, at a character
// boundary.
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

func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "unexpected status"
}

// explainV2 says what a v2 answer means for the user.
func explainV2(status, code int, problem, detail string, reset time.Time) string {
	switch {
	case code != 0:
		return explain(status, code, reset)
	case isV2Problem(problem, "client-forbidden"):
		return "the app has no x api v2 access: attach it to a project in the developer portal (https://developer.x.com/en/portal/dashboard), or your access tier lacks this endpoint"
	case isV2Problem(problem, "usage-capped"):
		return "the usage cap of your x api plan is used up: raise it in the developer portal or wait for the next period"
	case isV2Problem(problem, "not-authorized-for-resource"):
		return "the access token is not allowed to see this resource"
	case isV2Problem(problem, "invalid-request"):
		return "invalid request: check the api base url"
	case status == http.StatusForbidden && strings.Contains(strings.ToLower(detail), "duplicate"):
		return "status is a duplicate of a recent one"
	case status == http.StatusForbidden && strings.Contains(strings.ToLower(detail), "oauth1-permissions"):
		return "the app cannot write: give it read and write permission, then generate a new access token and secret"
	}
	return explain(status, 0, reset)
}
