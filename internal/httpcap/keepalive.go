package httpcap

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Bounds of the idle pool. Servers usually drop an idle connection after
// 60 s or more; one idle for longer than maxIdle is not trusted, so that
// a request rarely meets a connection the server is closing right then
// (such a request fails: it is never sent again).
const (
	maxIdle        = 30 * time.Second
	maxIdlePerHost = 4
	dialTimeout    = 30 * time.Second // when the request's context has no deadline
	tlsTimeout     = 10 * time.Second // the same for the TLS handshake
)

// KeepAliveTransport is an HTTP/1.1 client transport that keeps
// connections alive between requests and never sends a request twice.
// Each request is written and its response read on the caller's own
// goroutine (no reader and writer goroutines per connection, as
// net/http has: fewer thread wake-ups per poll). Unlike net/http's
// keep-alive, a request that fails on a reused connection is not resent:
// the error goes to the caller, and the mirror alone decides when to try
// again. Requests through a proxy (http.ProxyFromEnvironment) go through
// a Base transport instead.
//
// Its zero value is not usable; call KeepAlive. Set the exported fields
// before the first request.
type KeepAliveTransport struct {
	// TLSClientConfig, when set, is the TLS configuration of https
	// connections (tests: a private CA). ServerName defaults to the
	// request's host; NextProtos is always "http/1.1".
	TLSClientConfig *tls.Config
	// Proxy picks a proxy for a request; nil means
	// http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
	// DialContext, when set, opens the TCP connections (tests count them
	// with it); nil means a net.Dialer. A connection without SyscallConn
	// (not a *net.TCPConn) cannot be checked before reuse, so it is used
	// once.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	maxHeader int64

	initOnce sync.Once
	tlsConf  *tls.Config     // TLSClientConfig with our defaults, cloned per dial
	proxied  *http.Transport // Base, for requests through a proxy

	mu   sync.Mutex
	idle map[string][]*persistConn // by scheme://host:port, most recent last
}

// KeepAlive returns a KeepAliveTransport that caps response headers at
// maxHeaderBytes.
func KeepAlive(maxHeaderBytes int64) *KeepAliveTransport {
	return &KeepAliveTransport{maxHeader: maxHeaderBytes}
}

var _ http.RoundTripper = (*KeepAliveTransport)(nil)

func (t *KeepAliveTransport) init() {
	t.initOnce.Do(func() {
		if t.TLSClientConfig != nil {
			t.tlsConf = t.TLSClientConfig.Clone()
		} else {
			t.tlsConf = &tls.Config{}
		}
		if t.tlsConf.ClientSessionCache == nil {
			// Resume TLS sessions when a connection has to be dialled
			// again: a shorter handshake.
			t.tlsConf.ClientSessionCache = tls.NewLRUClientSessionCache(16)
		}
		t.tlsConf.NextProtos = []string{"http/1.1"}
		if t.Proxy == nil {
			t.Proxy = http.ProxyFromEnvironment
		}
		if t.DialContext == nil {
			t.DialContext = (&net.Dialer{Timeout: dialTimeout}).DialContext
		}
		t.proxied = Base(t.maxHeader)
		t.proxied.Proxy = t.Proxy
		if t.TLSClientConfig != nil {
			t.proxied.TLSClientConfig = t.TLSClientConfig.Clone()
		}
	})
}

// RoundTrip implements http.RoundTripper.
func (t *KeepAliveTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("httpcap: request without a url")
	}
	scheme := req.URL.Scheme
	if (scheme != "http" && scheme != "https") || req.URL.Host == "" {
		closeBody(req)
		return nil, fmt.Errorf("httpcap: unsupported url scheme %q or empty host", scheme)
	}
	proxy, err := t.Proxy(req)
	if err != nil {
		closeBody(req)
		return nil, fmt.Errorf("httpcap: proxy: %w", err)
	}
	if proxy != nil {
		return t.proxied.RoundTrip(req)
	}
	host := req.URL.Hostname()
	port := req.URL.Port()
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	addr := net.JoinHostPort(host, port)
	key := scheme + "://" + addr
	ctx := req.Context()
	if ctx.Err() != nil {
		// Else a kept connection could carry it out before the
		// AfterFunc below sets its past deadline.
		closeBody(req)
		return nil, &Error{Op: "send request to", Addr: key, Err: context.Cause(ctx)}
	}

	pc := t.getIdle(key)
	if pc == nil {
		if pc, err = t.dial(ctx, scheme, host, addr, key); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	return pc.roundTrip(req)
}

// closeBody closes a request's body that will not be written, as a
// RoundTripper must.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// dial opens a new connection to addr, with TLS for https.
func (t *KeepAliveTransport) dial(ctx context.Context, scheme, host, addr, key string) (*persistConn, error) {
	raw, err := t.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &Error{Op: "dial", Addr: key, Err: ctxErr(ctx, err)}
	}
	pc := &persistConn{t: t, key: key, conn: raw, raw: raw}
	if scheme == "https" {
		cfg := t.tlsConf.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		tc := tls.Client(raw, cfg)
		hctx, cancel := context.WithTimeout(ctx, tlsTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			return nil, &Error{Op: "tls handshake with", Addr: key, Err: ctxErr(ctx, err)}
		}
		st := tc.ConnectionState()
		if p := st.NegotiatedProtocol; p != "" && p != "http/1.1" {
			raw.Close()
			return nil, &Error{Op: "tls handshake with", Addr: key, Err: fmt.Errorf("server chose protocol %q, want http/1.1", p)}
		}
		pc.conn = tc
		pc.tlsState = &st
	}
	pc.cr = capReader{r: pc.conn}
	pc.br = bufio.NewReaderSize(&pc.cr, 4<<10)
	pc.bw = bufio.NewWriterSize(pc.conn, 4<<10)
	return pc, nil
}

// getIdle takes the most recently used live idle connection to key, or
// returns nil. Connections idle for too long, closed by the server or
// with unread bytes are closed on the way.
func (t *KeepAliveTransport) getIdle(key string) *persistConn {
	now := time.Now()
	for {
		t.mu.Lock()
		list := t.idle[key]
		if len(list) == 0 {
			t.mu.Unlock()
			return nil
		}
		pc := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[key] = list[:len(list)-1]
		t.mu.Unlock()
		if now.Sub(pc.idleSince) < maxIdle && alive(pc.raw) {
			return pc
		}
		pc.conn.Close()
	}
}

// putIdle keeps pc for the next request to its host, closing the oldest
// idle one over the cap.
func (t *KeepAliveTransport) putIdle(pc *persistConn) {
	pc.idleSince = time.Now()
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*persistConn{}
	}
	list := append(t.idle[pc.key], pc)
	var drop *persistConn
	if len(list) > maxIdlePerHost {
		drop = list[0]
		copy(list, list[1:])
		list[len(list)-1] = nil
		list = list[:len(list)-1]
	}
	t.idle[pc.key] = list
	t.mu.Unlock()
	if drop != nil {
		drop.conn.Close()
	}
}

// CloseIdleConnections closes every idle connection (http.Client calls
// it from its own CloseIdleConnections).
func (t *KeepAliveTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, list := range idle {
		for _, pc := range list {
			pc.conn.Close()
		}
	}
	if t.proxied != nil {
		t.proxied.CloseIdleConnections()
	}
}

// idleCount reports the idle connections to key (for tests).
func (t *KeepAliveTransport) idleCount(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.idle[key])
}

// ctxErr turns the error of a read or write that a context cut short
// (through the connection's deadline) into the context's cause, as
// net/http does, so that callers can tell a cancelled or timed-out
// request with errors.Is. The cause, not ctx.Err(): a context cancelled
// because a parent timed out (twitter's ctxTransport under
// http.Client.Timeout) then still reads as a timeout.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			return context.DeadlineExceeded
		}
	}
	return err
}

// wantsClose reports whether the caller asked for the connection to be
// closed after this request.
func wantsClose(req *http.Request) bool {
	if req.Close {
		return true
	}
	for _, v := range req.Header["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "close") {
				return true
			}
		}
	}
	return false
}

// capReader bounds what a response's header may make us read; between
// the header and the next one, it passes reads through.
type capReader struct {
	r      io.Reader
	capped bool
	left   int64
}

var errHeaderCap = errors.New("header cap reached")

// Read implements io.Reader.
func (c *capReader) Read(p []byte) (int, error) {
	if !c.capped {
		return c.r.Read(p)
	}
	if c.left <= 0 {
		return 0, errHeaderCap
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
