package twitter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dghubble/oauth1"
)

// LoginOptions configure a PIN login.
type LoginOptions struct {
	// API and APIBase as in Options; the OAuth endpoints are found next to
	// the API base (see ResolveAPI): https://api.x.com/oauth/ for X.
	API, APIBase string
	// The app's (consumer's) credentials.
	ConsumerKey, ConsumerSecret string
	// Timeout bounds each HTTP request. Default DefaultTimeout.
	Timeout time.Duration
}

// Login is an OAuth 1.0a PIN (out-of-band) login in progress: the user
// opens AuthorizeURL, approves the app and reads back the PIN, which
// Finish trades for the access token.
type Login struct {
	cfg           *oauth1.Config
	timeout       time.Duration
	requestToken  string
	requestSecret string
	authorizeURL  string
}

// Credentials are a user's access token and secret.
type Credentials struct {
	AccessToken, AccessSecret string
}

// StartLogin asks the API for a request token and returns the login. The
// config requires the consumer key and secret; without them the API
// refuses the request.
func StartLogin(ctx context.Context, opts LoginOptions) (*Login, error) {
	_, base, err := ResolveAPI(opts.API, opts.APIBase)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	ob := oauthBase(base).String()
	l := &Login{
		cfg: &oauth1.Config{
			ConsumerKey:    opts.ConsumerKey,
			ConsumerSecret: opts.ConsumerSecret,
			CallbackURL:    "oob",
			Endpoint: oauth1.Endpoint{
				RequestTokenURL: ob + "request_token",
				AuthorizeURL:    ob + "authorize",
				AccessTokenURL:  ob + "access_token",
			},
		},
		timeout: opts.Timeout,
	}
	var tokErr error
	l.withClient(ctx, func() {
		l.requestToken, l.requestSecret, tokErr = l.cfg.RequestToken()
	})
	if tokErr != nil {
		return nil, fmt.Errorf("login: get a request token from %s: %w", l.cfg.Endpoint.RequestTokenURL, oauthError(tokErr))
	}
	u, err := l.cfg.AuthorizationURL(l.requestToken)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	l.authorizeURL = u.String()
	return l, nil
}

// AuthorizeURL is the page where the user approves the app and gets the PIN.
func (l *Login) AuthorizeURL() string { return l.authorizeURL }

// Finish trades the PIN the user read on the authorize page for the
// access token and secret.
func (l *Login) Finish(ctx context.Context, pin string) (Credentials, error) {
	pin = strings.TrimSpace(pin)
	if pin == "" {
		return Credentials{}, errors.New("login: empty pin")
	}
	var c Credentials
	var err error
	l.withClient(ctx, func() {
		c.AccessToken, c.AccessSecret, err = l.cfg.AccessToken(l.requestToken, l.requestSecret, pin)
	})
	if err != nil {
		return Credentials{}, fmt.Errorf("login: trade the pin for an access token at %s: %w", l.cfg.Endpoint.AccessTokenURL, oauthError(err))
	}
	return c, nil
}

// withClient runs f with an HTTP client for the oauth1 calls, which take
// no context: ctx reaches the requests through the transport. oauth1
// reads whole bodies and quotes an error body in its error, so the
// transport caps them like the API's.
func (l *Login) withClient(ctx context.Context, f func()) {
	l.cfg.HTTPClient = &http.Client{
		Transport:     ctxTransport{ctx: ctx, next: newTransport(maxLoginBody, maxLoginBody)},
		Timeout:       l.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer func() { l.cfg.HTTPClient = nil }()
	f()
}

// oauthError shortens oauth1's errors, which quote the whole response
// body: the status and the body's first line are what a user needs. The
// original stays reachable through errors.Unwrap.
func oauthError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "oauth1: ")
	if i := strings.IndexAny(msg, "\r\n"); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return &shortError{msg: msg, err: err}
}

// shortError is an error with a shorter message than the one it wraps.
type shortError struct {
	msg string
	err error
}

func (e *shortError) Error() string { return e.msg }
func (e *shortError) Unwrap() error { return e.err }
