package twitter

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dghubble/oauth1"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/internal/httpcap"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// bodyServer answers every request with status and body, gzipped when
// gz, with a Content-Length when declare.
func bodyServer(t *testing.T, status int, body []byte, gz bool, declare bool) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := body
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(body)
			zw.Close()
			b = buf.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
		if declare {
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		}
		w.WriteHeader(status)
		if !declare {
			w.(http.Flusher).Flush() // chunked: the length is unknown
		}
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestLimitTransport(t *testing.T) {
	const limit, errLimit = 1000, 100
	tests := []struct {
		name    string
		status  int
		size    int
		gz      bool
		declare bool
		tooBig  bool
	}{
		{name: "exactly the cap", status: 200, size: limit, declare: true},
		{name: "exactly the cap, chunked", status: 200, size: limit},
		{name: "one byte over, declared", status: 200, size: limit + 1, declare: true, tooBig: true},
		{name: "one byte over, chunked", status: 200, size: limit + 1, tooBig: true},
		{name: "gzip bomb", status: 200, size: 5 << 20, gz: true, declare: true, tooBig: true},
		{name: "small gzip", status: 200, size: limit, gz: true, declare: true},
		{name: "error body at its cap", status: 503, size: errLimit},
		{name: "error body over its cap", status: 503, size: errLimit + 1, tooBig: true},
		{name: "error body over, declared", status: 429, size: 10 * limit, declare: true, tooBig: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("a"), tt.size)
			s := bodyServer(t, tt.status, body, tt.gz, tt.declare)
			hc := &http.Client{Transport: newTransport(limit, errLimit)}
			resp, err := hc.Get(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d", resp.StatusCode)
			}
			got, err := io.ReadAll(resp.Body)
			var tl *httpcap.TooLargeError
			if !tt.tooBig {
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("read %d bytes, %v; want the %d-byte body", len(got), err, len(body))
				}
				return
			}
			if !errors.As(err, &tl) {
				t.Fatalf("read %d bytes, err %v; want a body-too-large error", len(got), err)
			}
			max := limit
			if tt.status != 200 {
				max = errLimit
			}
			if len(got) > max {
				t.Errorf("read %d bytes, more than the cap %d", len(got), max)
			}
			if tt.declare && !tt.gz && len(got) != 0 {
				t.Errorf("read %d bytes of a body declared too large, want none", len(got))
			}
			want := "twitter: response body over " + httpcap.Size(int64(max))
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

// TestTransportReusesConnections: HTTP/1.1 even where the server offers
// HTTP/2 (whose client resends after GOAWAY), and, since the transport is
// httpcap.KeepAlive, sequential requests share one connection (it used to
// open one per request; TestDroppedConnections checks that reuse brings
// no resent request).
func TestTransportReusesConnections(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		if r.Proto != "HTTP/1.1" {
			t.Errorf("request over %s, want HTTP/1.1", r.Proto)
		}
		io.WriteString(w, "[]")
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	defer s.Close()
	rt := newTransport(maxBody, maxErrorBody)
	tr, ok := httpcap.Next(rt).(*httpcap.KeepAliveTransport)
	if !ok {
		t.Fatalf("base transport %T, want *httpcap.KeepAliveTransport", httpcap.Next(rt))
	}
	tr.TLSClientConfig = s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	hc := &http.Client{Transport: rt}
	for range 3 {
		resp, err := hc.Get(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if len(conns) != 1 {
		t.Errorf("3 requests came over %d connections, want 1", len(conns))
	}
}

// TestPollsShareConnection: the V1 and V2 clients read every answer to
// its end, so that polls (with posts and without) and a post go over the
// one kept connection.
func TestPollsShareConnection(t *testing.T) {
	for _, api := range []string{"v1.1", "v2"} {
		t.Run(api, func(t *testing.T) {
			s := twittertest.NewServer(twittertest.Options{})
			defer s.Close()
			var dials atomic.Int32
			rt := newTransport(maxBody, maxErrorBody)
			ka := httpcap.Next(rt).(*httpcap.KeepAliveTransport)
			ka.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}
			o := s.Options()
			opts := Options{APIBase: s.URL(), ConsumerKey: o.ConsumerKey, ConsumerSecret: o.ConsumerSecret,
				AccessToken: o.AccessToken, AccessSecret: o.AccessSecret, Transport: rt}
			var c interface {
				Since(context.Context, string) ([]daemon.Post, error)
				Post(context.Context, string) (daemon.Post, error)
			}
			var err error
			if api == "v2" {
				opts.APIBase = s.V2URL()
				c, err = NewV2(opts)
			} else {
				c, err = NewV1(opts)
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			cursor := ""
			for i := range 4 {
				if i%2 == 1 {
					s.AddTweet(twittertest.Tweet{Text: "tweet " + strconv.Itoa(i)})
				}
				posts, err := c.Since(ctx, cursor)
				if err != nil {
					t.Fatalf("poll %d: %v", i, err)
				}
				if len(posts) > 0 {
					cursor = posts[len(posts)-1].Cursor
				}
			}
			if _, err := c.Post(ctx, "posted"); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d requests", len(s.Requests()))
			if n := dials.Load(); n != 1 {
				t.Errorf("%d requests dialled %d connections, want 1", len(s.Requests()), n)
			}
		})
	}
}

// TestTimelinePageFitsCap measures the biggest v1.1 page twittertest
// serves (200 retweets of tweets with four photos: two full user objects
// and two sets of media entities each) and checks the cap leaves room.
func TestTimelinePageFitsCap(t *testing.T) {
	s := twittertest.NewServer(twittertest.Options{})
	defer s.Close()
	o := s.Options()
	text := strings.Repeat("fish & chips ", 15) + "https://example.com/a/long/path?with=a&query=string"
	for range pageSize {
		s.AddTweet(twittertest.Tweet{RetweetOf: &twittertest.Tweet{
			Text:   text,
			URLs:   []twittertest.URL{{Expanded: "https://example.com/a/long/path?with=a&query=string"}},
			Media:  []twittertest.Media{{}, {}, {}, {}},
			UserID: 7, ScreenName: "someone_with_a_long_name",
		}})
	}
	hc := oauth1.NewConfig(o.ConsumerKey, o.ConsumerSecret).Client(context.Background(), oauth1.NewToken(o.AccessToken, o.AccessSecret))
	resp, err := hc.Get(s.URL() + "statuses/user_timeline.json?count=200&tweet_mode=extended")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"extended_entities"`)) {
		t.Fatalf("status %d, %v, %.200s", resp.StatusCode, err, b)
	}
	t.Logf("a full v1.1 page of 200 retweets with 4 photos: %d bytes (cap %s, %.1fx)", len(b), httpcap.Size(maxBody), float64(maxBody)/float64(len(b)))
	if len(b)*3 > maxBody {
		t.Errorf("a %d-byte page leaves less than 3x room under the %d-byte cap", len(b), maxBody)
	}

	c, err := NewV1(Options{APIBase: s.URL(), ConsumerKey: o.ConsumerKey, ConsumerSecret: o.ConsumerSecret, AccessToken: o.AccessToken, AccessSecret: o.AccessSecret})
	if err != nil {
		t.Fatal(err)
	}
	posts, err := c.Since(context.Background(), "")
	if err != nil || len(posts) != pageSize {
		t.Fatalf("Since: %d posts, %v", len(posts), err)
	}
	if !strings.HasSuffix(posts[0].Text, "/photo/1") {
		t.Errorf("media link not expanded: %q", posts[0].Text)
	}
}

// TestV1PagingBounded: a server whose every page steps back one tweet
// would be paged through for ever.
func TestV1PagingBounded(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		id := int64(1_700_000_000_000_000_000)
		if v, err := strconv.ParseInt(r.URL.Query().Get("max_id"), 10, 64); err == nil {
			id = v
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id":`+strconv.FormatInt(id, 10)+`,"id_str":"`+strconv.FormatInt(id, 10)+`","full_text":"one more","user":{"id":1,"id_str":"1","screen_name":"a"}}]`)
	}))
	defer s.Close()
	c, err := NewV1(Options{APIBase: s.URL + "/1.1/", ConsumerKey: "a", ConsumerSecret: "b", AccessToken: "c", AccessSecret: "d"})
	if err != nil {
		t.Fatal(err)
	}
	posts, err := c.Since(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if requests != maxPages || len(posts) != maxPages {
		t.Errorf("%d requests, %d posts; want %d of each", requests, len(posts), maxPages)
	}
}

// TestHugeResponseHeaders: net/http would hold 10 MB of headers; ours
// stop at maxHeaderBytes.
func TestHugeResponseHeaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		buf := make([]byte, 4096)
		conn.Read(buf)
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nX-Junk: ")
		junk := bytes.Repeat([]byte("j"), 64<<10)
		for range 5 << 20 / len(junk) {
			if _, err := conn.Write(junk); err != nil {
				return
			}
		}
	}()
	hc := &http.Client{Transport: newTransport(maxBody, maxErrorBody)}
	_, err = hc.Get("http://" + ln.Addr().String() + "/")
	if err == nil || !strings.Contains(err.Error(), "response headers over "+httpcap.Size(maxHeaderBytes)) {
		t.Fatalf("err %v, want the headers refused", err)
	}
}
