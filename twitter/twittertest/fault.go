package twittertest

import (
	"net/http"
	"strings"
	"time"
)

// Fault makes the server misbehave on the next requests, the way real API
// deployments and the proxies in front of them do.
type Fault struct {
	// Status is the HTTP status to answer with. 0 serves the request
	// normally (after Delay).
	Status int
	// Body is sent as is; it may be empty, HTML or broken JSON.
	Body string
	// ContentType defaults to JSON for a body starting with '{' or '[',
	// and to HTML otherwise.
	ContentType string
	// Header is added to the response, also to one served normally
	// (Status 0). Each key replaces the server's own header of that name
	// in any case, e.g. x-rate-limit-reset.
	Header http.Header
	// RateLimitReset is sent as x-rate-limit-reset with a 429 (and
	// x-rate-limit-remaining 0). Zero means the current window's reset.
	RateLimitReset time.Time
	// Delay holds the response back; it ends early when the client goes
	// away or the server closes.
	Delay time.Duration
	// Times is how many requests the fault applies to; 0 means 1.
	Times int
	// Path limits the fault to requests whose path contains it, e.g.
	// "user_timeline"; "" matches every request.
	Path string

	// Drop reads the request, then closes the connection without a
	// response, as a crashing server or a middlebox does. The request
	// is logged with Status 0.
	Drop bool
	// BodyBytes > 0 answers Status (default 200) with a timeline of exactly that many
	// bytes, sent with its Content-Length: a JSON array of v1.1 tweets,
	// or for a v2 path {"data":[…],"meta":{…}}, filled with copies of one
	// tweet. It is streamed, so a 200 MB body costs the server nothing.
	BodyBytes int64
	// EndlessBody answers Status (default 200) with a timeline that never ends (chunked,
	// copies of one tweet), until the client goes away or the server
	// closes.
	EndlessBody bool
}

// FaultRateLimited is a 429 with an empty body, as the API sends when the
// window is used up, with x-rate-limit-reset set to reset.
func FaultRateLimited(reset time.Time) Fault {
	return Fault{Status: http.StatusTooManyRequests, RateLimitReset: reset}
}

// FaultTier is the 403 / code 453 the API sends to v1.1 calls made on an X
// API tier that excludes them.
func FaultTier() Fault {
	return Fault{
		Status: http.StatusForbidden,
		Body:   `{"errors":[{"message":"You currently have access to a subset of X API V2 endpoints and limited v1.1 endpoints (e.g. media post, oauth) only. If you need access to this endpoint, you may need a different access level. You can learn more here: https://developer.x.com/en/portal/product","code":453}]}`,
	}
}

// FaultBadGateway is an HTML 502 page from a proxy in front of the API.
func FaultBadGateway() Fault {
	return Fault{
		Status: http.StatusBadGateway,
		Body:   "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
	}
}

// FaultGarbage is a 200 whose JSON body breaks off.
func FaultGarbage() Fault {
	return Fault{Status: http.StatusOK, Body: `[{"created_at":"Mon Jan 02 15:04:05 +0000 2006","id":17000000`}
}

// FaultDelay serves the next request normally, d late.
func FaultDelay(d time.Duration) Fault {
	return Fault{Delay: d}
}

// FaultHugeBody answers the next request with a 200 timeline of n bytes.
func FaultHugeBody(n int64) Fault { return Fault{BodyBytes: n} }

// FaultEndlessBody answers the next request with a 200 timeline that
// never ends.
func FaultEndlessBody() Fault { return Fault{EndlessBody: true} }

// FaultDrop closes the connection of the next request without answering.
func FaultDrop() Fault { return Fault{Drop: true} }

// FaultResetHeader answers the next request with x-rate-limit-remaining
// 0 and x-rate-limit-reset set to reset verbatim: a time 100 years
// ahead, one in the past, or garbage. Status 0 serves the request
// normally otherwise; 429 refuses it as rate-limited (empty body).
func FaultResetHeader(status int, reset string) Fault {
	return Fault{Status: status, Header: http.Header{
		"x-rate-limit-remaining": {"0"},
		"x-rate-limit-reset":     {reset},
	}}
}

// Fail queues f. Queued faults apply in order, each to the next f.Times
// requests it matches.
func (s *Server) Fail(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// takeFault returns the first queued fault matching path and uses up one
// of its times. The caller holds s.mu.
func (s *Server) takeFault(path string) (Fault, bool) {
	for i := range s.faults {
		f := &s.faults[i]
		if f.Path != "" && !strings.Contains(path, f.Path) {
			continue
		}
		out := *f
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return out, true
	}
	return Fault{}, false
}

func (f Fault) contentType() string {
	switch {
	case f.ContentType != "":
		return f.ContentType
	case strings.HasPrefix(f.Body, "{") || strings.HasPrefix(f.Body, "["):
		return "application/json; charset=utf-8"
	}
	return "text/html; charset=utf-8"
}

// FaultClientForbidden is the 403 problem v2 sends when the app is not
// attached to a project with v2 access, or the tier lacks the endpoint.
func FaultClientForbidden() Fault {
	return Fault{
		Status:      http.StatusForbidden,
		ContentType: "application/problem+json",
		Body:        `{"client_id":"12345678","detail":"When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project. You can create a project via the developer portal.","registration_url":"https://developer.twitter.com/en/docs/projects/overview","title":"Client Forbidden","required_enrollment":"Appropriate Level of API Access","reason":"client-not-enrolled","type":"https://api.twitter.com/2/problems/client-forbidden"}`,
	}
}

// FaultUsageCapped is the 429 problem v2 sends when the plan's usage cap
// is used up, with x-rate-limit-reset set to reset.
func FaultUsageCapped(reset time.Time) Fault {
	return Fault{
		Status:         http.StatusTooManyRequests,
		ContentType:    "application/problem+json",
		RateLimitReset: reset,
		Body:           `{"title":"UsageCapExceeded","detail":"Usage cap exceeded: Monthly product cap","type":"https://api.twitter.com/2/problems/usage-capped","period":"Monthly","scope":"Product"}`,
	}
}

// ClearFaults drops every queued fault: the user fixed the cause.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}
