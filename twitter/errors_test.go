package twitter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gotwitter "github.com/dghubble/go-twitter/twitter"
)

func TestAPIError(t *testing.T) {
	reset := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name      string
		status    int
		decodeErr error
		reset     time.Time
		temporary bool
		fatal     bool
		retryAt   time.Time
		contains  []string
	}{
		{name: "bad signature", status: 401, decodeErr: v11(32, "Could not authenticate you."), fatal: true, contains: []string{"status 401, code 32", "consumer secret", "access token secret", `"Could not authenticate you."`}},
		{name: "bad token", status: 401, decodeErr: v11(89, "Invalid or expired token."), fatal: true, contains: []string{"access token"}},
		{name: "401 without body", status: 401, fatal: true, contains: []string{"consumer key", "access token"}},
		{name: "tier", status: 403, decodeErr: v11(453, "You currently have access to a subset of X API V2 endpoints"), fatal: true, contains: []string{"v1.1 is not available on your x api access tier"}},
		{name: "read-only app", status: 403, decodeErr: v11(261, "Application cannot perform write actions."), fatal: true, contains: []string{"read and write"}},
		{name: "daily limit is not fatal", status: 403, decodeErr: v11(185, "User is over daily status update limit."), contains: []string{"daily"}},
		{name: "rate limited empty body", status: 429, reset: reset, temporary: true, retryAt: reset, contains: []string{"rate limit exceeded until 2027-01-15T08:00:00Z"}},
		{name: "rate limited unknown reset", status: 429, temporary: true, contains: []string{"rate limit exceeded"}},
		{name: "bad gateway html", status: 502, decodeErr: fmt.Errorf("invalid character '<' looking for beginning of value"), temporary: true, contains: []string{"server error: bad gateway"}},
		{name: "reset on a non-429 is no retry time", status: 503, reset: reset, temporary: true},
		{name: "not found", status: 404, decodeErr: v11(34, "Sorry, that page does not exist"), fatal: true, contains: []string{"api base"}},
		{name: "redirect", status: 302, contains: []string{"found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAPIError(tt.status, tt.decodeErr, RateLimit{Reset: tt.reset})
			if e.Temporary() != tt.temporary || e.Permanent() != tt.fatal || !e.RetryAt().Equal(tt.retryAt) {
				t.Errorf("temporary %v permanent %v retryAt %v", e.Temporary(), e.Permanent(), e.RetryAt())
			}
			msg := e.Error()
			for _, c := range tt.contains {
				if !strings.Contains(msg, c) {
					t.Errorf("%q lacks %q", msg, c)
				}
			}
			// Lowercase apart from data such as an RFC 3339 time.
			if words := strings.Fields(e.Message); len(words) == 0 || words[0] != strings.ToLower(words[0]) {
				t.Errorf("message not lowercase: %q", e.Message)
			}
			var target *APIError
			if !errors.As(fmt.Errorf("wrapped: %w", e), &target) {
				t.Error("errors.As failed")
			}
		})
	}
}

func v11(code int, msg string) error {
	return gotwitter.APIError{Errors: []gotwitter.ErrorDetail{{Code: code, Message: msg}}}
}
