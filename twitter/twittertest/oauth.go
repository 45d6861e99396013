package twittertest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxClockSkew is how far oauth_timestamp may be from the server's clock.
const maxClockSkew = 5 * time.Minute

// authError is a refused OAuth 1.0a request, in v1.1 terms.
type authError struct {
	status, code int
	message      string
}

// The v1.1 answers to refused credentials.
func errBadAuthData() *authError {
	return &authError{http.StatusBadRequest, 215, "Bad Authentication data."}
}

func errCouldNotAuth() *authError {
	return &authError{http.StatusUnauthorized, 32, "Could not authenticate you."}
}

func errBadToken() *authError {
	return &authError{http.StatusUnauthorized, 89, "Invalid or expired token."}
}

func errTimestamp() *authError {
	return &authError{http.StatusUnauthorized, 135, "Timestamp out of bounds."}
}

// verifyOAuth checks the request's OAuth 1.0a HMAC-SHA1 signature for
// real (RFC 5849 section 3.4), against the URL as this server received it,
// with the access token of o. form holds the parsed
// application/x-www-form-urlencoded body, if any. It returns the nonce and
// timestamp for replay checks.
func verifyOAuth(r *http.Request, form url.Values, o Options, now time.Time) (nonce string, ts time.Time, ae *authError) {
	nonce, ts, _, ae = verifySigned(r, form, o, func(token string) (string, bool) {
		return o.AccessSecret, token == o.AccessToken
	}, now)
	return nonce, ts, ae
}

// verifySigned is verifyOAuth with the token looked up by secretOf; an
// empty oauth_token (a request-token request) is looked up as "". It also
// returns the OAuth parameters, for oauth_callback and oauth_verifier.
func verifySigned(r *http.Request, form url.Values, o Options, secretOf func(token string) (string, bool), now time.Time) (nonce string, ts time.Time, params url.Values, ae *authError) {
	params, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return "", time.Time{}, nil, errBadAuthData()
	}
	for _, k := range []string{"oauth_consumer_key", "oauth_signature_method", "oauth_timestamp", "oauth_nonce", "oauth_signature"} {
		if params.Get(k) == "" {
			return "", time.Time{}, nil, errBadAuthData()
		}
	}
	if params.Get("oauth_signature_method") != "HMAC-SHA1" {
		return "", time.Time{}, nil, errCouldNotAuth()
	}
	if v, ok := params["oauth_version"]; ok && (len(v) != 1 || v[0] != "1.0") {
		return "", time.Time{}, nil, errCouldNotAuth()
	}
	if params.Get("oauth_consumer_key") != o.ConsumerKey {
		return "", time.Time{}, nil, errCouldNotAuth()
	}
	tokenSecret, ok := secretOf(params.Get("oauth_token"))
	if !ok {
		if params.Get("oauth_token") == "" {
			return "", time.Time{}, nil, errBadAuthData()
		}
		return "", time.Time{}, nil, errBadToken()
	}
	sec, err := strconv.ParseInt(params.Get("oauth_timestamp"), 10, 64)
	if err != nil {
		return "", time.Time{}, nil, errBadAuthData()
	}
	ts = time.Unix(sec, 0)
	if d := now.Sub(ts); d > maxClockSkew || d < -maxClockSkew {
		return "", time.Time{}, nil, errTimestamp()
	}

	base := requestBaseString(r, form, params)
	want := sign(o.ConsumerSecret, tokenSecret, base)
	got, err := base64.StdEncoding.DecodeString(params.Get("oauth_signature"))
	if err != nil || !hmac.Equal(got, want) {
		return "", time.Time{}, nil, errCouldNotAuth()
	}
	return params.Get("oauth_nonce"), ts, params, nil
}

// requestBaseString is the signature base string of r: query, form body
// and OAuth parameters (RFC 5849 3.4.1.3), over the URL as received.
func requestBaseString(r *http.Request, form, oauthParams url.Values) string {
	all := url.Values{}
	for k, vs := range r.URL.Query() {
		all[k] = append(all[k], vs...)
	}
	for k, vs := range form {
		all[k] = append(all[k], vs...)
	}
	for k, vs := range oauthParams {
		if k != "oauth_signature" && k != "realm" {
			all[k] = append(all[k], vs...)
		}
	}
	return signatureBase(r.Method, baseURI(r), all)
}

// parseAuthorization parses `OAuth k="v", k2="v2"` (RFC 5849 3.5.1).
func parseAuthorization(h string) (url.Values, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "OAuth") {
		return nil, false
	}
	params := url.Values{}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, false
		}
		key, err1 := url.PathUnescape(k)
		val, err2 := url.PathUnescape(v[1 : len(v)-1])
		if err1 != nil || err2 != nil {
			return nil, false
		}
		params.Add(key, val)
	}
	return params, true
}

// isForm reports whether the body is application/x-www-form-urlencoded,
// whose parameters are signed (RFC 5849 3.4.1.3.1).
func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// baseURI is the base string URI (RFC 5849 3.4.1.2) of the request as
// received: scheme, lowercase Host header without the default port, and
// the path as sent on the wire.
func baseURI(r *http.Request) string {
	scheme, defPort := "http", ":80"
	if r.TLS != nil {
		scheme, defPort = "https", ":443"
	}
	host := strings.TrimSuffix(strings.ToLower(r.Host), defPort)
	path := r.URL.EscapedPath()
	if strings.HasPrefix(r.RequestURI, "/") {
		path, _, _ = strings.Cut(r.RequestURI, "?")
	}
	return scheme + "://" + host + path
}

// signatureBase builds the signature base string (RFC 5849 3.4.1.1) from
// all parameters except oauth_signature and realm.
func signatureBase(method, baseURI string, params url.Values) string {
	pairs := make([][2]string, 0, len(params))
	for k, vs := range params {
		for _, v := range vs {
			pairs = append(pairs, [2]string{percentEncode(k), percentEncode(v)})
		}
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	var ps strings.Builder
	for i, p := range pairs {
		if i > 0 {
			ps.WriteByte('&')
		}
		ps.WriteString(p[0])
		ps.WriteByte('=')
		ps.WriteString(p[1])
	}
	return strings.ToUpper(method) + "&" + percentEncode(baseURI) + "&" + percentEncode(ps.String())
}

// sign is HMAC-SHA1 keyed with the encoded secrets (RFC 5849 3.4.2).
func sign(consumerSecret, tokenSecret, base string) []byte {
	mac := hmac.New(sha1.New, []byte(percentEncode(consumerSecret)+"&"+percentEncode(tokenSecret)))
	mac.Write([]byte(base))
	return mac.Sum(nil)
}

// percentEncode encodes all but the RFC 3986 unreserved characters
// (RFC 5849 3.6). Written here rather than borrowed from the client
// library, so that the server checks the client instead of agreeing with it.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
