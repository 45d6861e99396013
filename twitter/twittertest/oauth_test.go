package twittertest

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dghubble/oauth1"
)

// The example of RFC 5849 section 3.4.1.1.
func TestRequestBaseStringRFC5849(t *testing.T) {
	r := httptest.NewRequest("POST", "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b", strings.NewReader("c2&a3=2+q"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", `OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D"`)
	params, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		t.Fatal("parseAuthorization failed")
	}
	form, err := url.ParseQuery("c2&a3=2+q")
	if err != nil {
		t.Fatal(err)
	}
	want := "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q" +
		"%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_" +
		"key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m" +
		"ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk" +
		"9d7dh3k39sjv7"
	if got := requestBaseString(r, form, params); got != want {
		t.Errorf("base string:\n got %s\nwant %s", got, want)
	}
}

// Twitter's documented signing example ("Creating a signature").
func TestVerifyTwitterReferenceSignature(t *testing.T) {
	opts := Options{
		ConsumerKey:    "xvz1evFS4wEEPTGEFPHBog",
		ConsumerSecret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
		AccessToken:    "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
		AccessSecret:   "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
	}
	body := "status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21"
	r := httptest.NewRequest("POST", "https://api.twitter.com/1/statuses/update.json?include_entities=true", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", `OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", oauth_signature="tnnArxj06cWHq44gCs1OSKk%2FjLY%3D", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1318622958", oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", oauth_version="1.0"`)
	form, _ := url.ParseQuery(body)
	if _, _, ae := verifyOAuth(r, form, opts, time.Unix(1318622958, 0)); ae != nil {
		t.Fatalf("reference request refused: %+v", *ae)
	}
	opts.AccessSecret = "wrong"
	if _, _, ae := verifyOAuth(r, form, opts, time.Unix(1318622958, 0)); ae == nil || ae.code != 32 {
		t.Fatalf("wrong token secret: got %+v, want code 32", ae)
	}
}

// captureTransport is a fake base transport that keeps the signed request.
type captureTransport struct{ req *http.Request }

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.req = r
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
}

// signed returns the server-side view of a request signed by dghubble/oauth1.
func signed(t *testing.T, creds Options, method, target, form string) (*http.Request, url.Values) {
	t.Helper()
	capture := &captureTransport{}
	ctx := context.WithValue(context.Background(), oauth1.HTTPClient, &http.Client{Transport: capture})
	c := oauth1.NewConfig(creds.ConsumerKey, creds.ConsumerSecret).Client(ctx, oauth1.NewToken(creds.AccessToken, creds.AccessSecret))
	req, err := http.NewRequest(method, target, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sr := httptest.NewRequest(method, target, strings.NewReader(form))
	sr.Header = capture.req.Header.Clone()
	values, _ := url.ParseQuery(form)
	if form == "" {
		values = nil
	}
	return sr, values
}

func TestVerifyOAuth(t *testing.T) {
	server := Options{ConsumerKey: "ck", ConsumerSecret: "cs", AccessToken: "at", AccessSecret: "as"}
	const target = "http://127.0.0.1:8080/1.1/statuses/user_timeline.json?count=200&since_id=1700000000000000001&tweet_mode=extended"
	tests := []struct {
		name     string
		client   Options
		method   string
		target   string
		form     string
		tamper   func(r *http.Request)
		now      time.Time
		wantCode int // 0: accepted
	}{
		{name: "valid get", client: server, method: "GET", target: target},
		{name: "valid post with form", client: server, method: "POST", target: "http://127.0.0.1:8080/1.1/statuses/update.json", form: "status=caf%C3%A9+%26+%3C3+%F0%9F%8E%89&tweet_mode=extended"},
		{name: "wrong consumer secret", client: Options{ConsumerKey: "ck", ConsumerSecret: "nope", AccessToken: "at", AccessSecret: "as"}, method: "GET", target: target, wantCode: 32},
		{name: "wrong access secret", client: Options{ConsumerKey: "ck", ConsumerSecret: "cs", AccessToken: "at", AccessSecret: "nope"}, method: "GET", target: target, wantCode: 32},
		{name: "wrong consumer key", client: Options{ConsumerKey: "nope", ConsumerSecret: "cs", AccessToken: "at", AccessSecret: "as"}, method: "GET", target: target, wantCode: 32},
		{name: "wrong access token", client: Options{ConsumerKey: "ck", ConsumerSecret: "cs", AccessToken: "nope", AccessSecret: "as"}, method: "GET", target: target, wantCode: 89},
		{name: "tampered query", client: server, method: "GET", target: target, tamper: func(r *http.Request) { r.URL.RawQuery = "count=1" }, wantCode: 32},
		{name: "signed for another host", client: server, method: "GET", target: target, tamper: func(r *http.Request) { r.Host = "api.twitter.com" }, wantCode: 32},
		{name: "no authorization", client: server, method: "GET", target: target, tamper: func(r *http.Request) { r.Header.Del("Authorization") }, wantCode: 215},
		{name: "clock skew", client: server, method: "GET", target: target, now: time.Now().Add(time.Hour), wantCode: 135},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, form := signed(t, tt.client, tt.method, tt.target, tt.form)
			if tt.tamper != nil {
				tt.tamper(r)
			}
			now := tt.now
			if now.IsZero() {
				now = time.Now()
			}
			_, _, ae := verifyOAuth(r, form, server, now)
			switch {
			case tt.wantCode == 0 && ae != nil:
				t.Fatalf("refused: %+v", *ae)
			case tt.wantCode != 0 && ae == nil:
				t.Fatalf("accepted, want code %d", tt.wantCode)
			case tt.wantCode != 0 && ae.code != tt.wantCode:
				t.Fatalf("code %d, want %d", ae.code, tt.wantCode)
			}
		})
	}
}

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		name   string
		header string
		ok     bool
		want   map[string]string
	}{
		{name: "typical", header: `OAuth oauth_consumer_key="a%20b", oauth_nonce="n"`, ok: true, want: map[string]string{"oauth_consumer_key": "a b", "oauth_nonce": "n"}},
		{name: "scheme is case-insensitive", header: `oauth oauth_token="t"`, ok: true, want: map[string]string{"oauth_token": "t"}},
		{name: "empty", header: "", ok: false},
		{name: "basic auth", header: "Basic dXNlcjpwYXNz", ok: false},
		{name: "unquoted value", header: `OAuth oauth_token=t`, ok: false},
		{name: "bad escape", header: `OAuth oauth_token="%zz"`, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseAuthorization(tt.header)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			for k, v := range tt.want {
				if got.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, got.Get(k), v)
				}
			}
		})
	}
}

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"abcXYZ019-._~": "abcXYZ019-._~",
		"a b+c":         "a%20b%2Bc",
		"é":             "%C3%A9",
		"=%3D":          "%3D%253D",
		"!*'()":         "%21%2A%27%28%29",
	} {
		if got := percentEncode(in); got != want {
			t.Errorf("percentEncode(%q) = %q, want %q", in, got, want)
		}
	}
	if got := base64.StdEncoding.EncodeToString(sign("cs", "ts", "base")); got == "" {
		t.Error("empty signature")
	}
}
