package benchdelay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// timelinePath is the v1.1 timeline endpoint both daemons poll.
const timelinePath = "/1.1/statuses/user_timeline.json"

// maxBody bounds a proxied response: twittertest's largest page is a few
// hundred KiB.
const maxBody = 16 << 20

// Response is one timeline response the tap passed on.
type Response struct {
	// Flushed is when the response's last byte was written to the
	// client's socket.
	Flushed time.Time
	// MaxID reports a request that paged back (max_id set).
	MaxID bool
	// IDs are the id_str of the tweets it carried, newest first.
	IDs []string
	// Status is the HTTP status code.
	Status int
}

// HTTPTap is an HTTP proxy in front of an API server that records every
// timeline response and counts the bytes on the client's side.
type HTTPTap struct {
	ln     net.Listener
	srv    *http.Server
	target *url.URL
	rt     *http.Transport

	bytesIn, bytesOut atomic.Int64 // from and to the client, headers included

	mu    sync.Mutex
	resps []Response
	other int // requests to other endpoints
}

// NewHTTPTap starts a tap on a free port of 127.0.0.1 that forwards to
// target (scheme://host:port). Requests keep their Host header, so an
// OAuth 1.0a signature made for the tap's URL verifies upstream.
func NewHTTPTap(target string) (*HTTPTap, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("http tap target: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("http tap: %w", err)
	}
	t := &HTTPTap{ln: ln, target: u, rt: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
	t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second}
	go t.srv.Serve(&countingListener{Listener: ln, in: &t.bytesIn, out: &t.bytesOut})
	return t, nil
}

// URL returns the tap's v1.1 API base.
func (t *HTTPTap) URL() string { return "http://" + t.ln.Addr().String() + "/1.1/" }

// Close stops the tap.
func (t *HTTPTap) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = t.srv.Shutdown(ctx)
	t.rt.CloseIdleConnections()
}

// Responses returns the timeline responses so far, in order.
func (t *HTTPTap) Responses() []Response {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Response(nil), t.resps...)
}

// Bytes returns the bytes received from and sent to clients so far.
func (t *HTTPTap) Bytes() (in, out int64) { return t.bytesIn.Load(), t.bytesOut.Load() }

// ServeHTTP forwards one request and, for the timeline, records it.
func (t *HTTPTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = t.target.Scheme, t.target.Host
	out.Host = r.Host
	out.Header.Del("Connection")
	resp, err := t.rt.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, vs := range resp.Header {
		if k == "Connection" || k == "Keep-Alive" || k == "Transfer-Encoding" {
			continue
		}
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	http.NewResponseController(w).Flush() //nolint:errcheck // a gone client shows in its own numbers
	flushed := time.Now()
	if r.URL.Path != timelinePath {
		t.mu.Lock()
		t.other++
		t.mu.Unlock()
		return
	}
	rec := Response{Flushed: flushed, MaxID: r.URL.Query().Has("max_id"), Status: resp.StatusCode}
	if resp.StatusCode == http.StatusOK {
		rec.IDs = tweetIDs(body)
	}
	t.mu.Lock()
	t.resps = append(t.resps, rec)
	t.mu.Unlock()
}

// tweetIDs returns the id_str of each tweet of a v1.1 timeline page.
func tweetIDs(body []byte) []string {
	var page []struct {
		IDStr string `json:"id_str"`
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&page); err != nil {
		return nil
	}
	ids := make([]string, 0, len(page))
	for _, p := range page {
		if p.IDStr != "" {
			ids = append(ids, p.IDStr)
		}
	}
	return ids
}

// countingListener counts the bytes of every connection it accepts.
type countingListener struct {
	net.Listener
	in, out *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, in: l.in, out: l.out}, nil
}

type countingConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// hasID reports whether r carried tweet id.
func (r Response) hasID(id string) bool {
	for _, x := range r.IDs {
		if strings.EqualFold(x, id) {
			return true
		}
	}
	return false
}
