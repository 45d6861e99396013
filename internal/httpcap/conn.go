package httpcap

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// persistConn is one connection of a KeepAliveTransport. It serves one
// request at a time: it is either in the idle pool or owned by the
// request whose response body has not been closed yet.
type persistConn struct {
	t        *KeepAliveTransport
	key      string   // scheme://host:port
	conn     net.Conn // what requests go over: TLS or TCP
	raw      net.Conn // the TCP connection, for the liveness check
	tlsState *tls.ConnectionState
	cr       capReader
	br       *bufio.Reader // over cr
	bw       *bufio.Writer
	// idleSince is when the connection went back to the pool.
	idleSince time.Time
}

// aLongTimeAgo is a deadline that makes every blocked read and write
// return at once: how a cancelled context interrupts one.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes req and reads its response header, on the caller's
// goroutine. Any failure closes the connection and is returned: the
// request is never written again.
func (pc *persistConn) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	deadline, _ := ctx.Deadline() // zero (none) clears an older one
	if err := pc.conn.SetDeadline(deadline); err != nil {
		pc.conn.Close()
		closeBody(req)
		return nil, &Error{Op: "use connection to", Addr: pc.key, Err: err}
	}
	conn := pc.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })
	fail := func(what string, err error) (*http.Response, error) {
		stop()
		pc.conn.Close()
		return nil, &Error{Op: what, Addr: pc.key, Err: err}
	}

	wreq, gzipAsked := req, false
	if req.Method != http.MethodHead && req.Header.Get("Accept-Encoding") == "" && req.Header.Get("Range") == "" {
		// Ask for gzip and undo it below, as net/http does; the header
		// goes on a copy, the caller's request stays as it was.
		r2 := *req
		r2.Header = req.Header.Clone()
		if r2.Header == nil {
			r2.Header = make(http.Header, 1)
		}
		r2.Header["Accept-Encoding"] = []string{"gzip"}
		wreq, gzipAsked = &r2, true
	}
	// Write closes the request's body, whatever happens.
	err := wreq.Write(pc.bw)
	if err == nil {
		err = pc.bw.Flush()
	}
	if err != nil {
		return fail("write request to", ctxErr(ctx, err))
	}

	budget := pc.t.maxHeader + int64(pc.br.Size())
	pc.cr.capped, pc.cr.left = true, budget
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(pc.br, wreq)
		// 1xx answers (100 Continue, 103 Early Hints) come before the
		// real one and count against the same header cap.
		if err != nil || resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	// What the bufio.Reader holds beyond the header is body, not header.
	header := budget - pc.cr.left - int64(pc.br.Buffered())
	pc.cr.capped = false
	if header > pc.t.maxHeader || (err != nil && (pc.cr.left <= 0 || errors.Is(err, errHeaderCap))) {
		return fail("read response from", fmt.Errorf("response headers over %s", Size(pc.t.maxHeader)))
	}
	if err != nil {
		return fail("read response from", ctxErr(ctx, err))
	}

	reusable := !resp.Close && !wantsClose(req) && resp.ProtoAtLeast(1, 1) &&
		resp.StatusCode != http.StatusSwitchingProtocols
	resp.Request = req
	resp.TLS = pc.tlsState
	if resp.Body == http.NoBody {
		// HEAD, 204, 304, Content-Length: 0: done already.
		pc.release(stop, reusable)
		return resp, nil
	}
	b := &connBody{pc: pc, ctx: ctx, rc: resp.Body, stop: stop, reusable: reusable}
	resp.Body = b
	if gzipAsked && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		resp.Body = &gzipBody{b: b}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
	}
	return resp, nil
}

// release ends the request that owns pc: back to the pool if the
// response allows it, its context's AfterFunc did not fire (so no past
// deadline is pending) and no byte beyond the response was received;
// closed otherwise.
func (pc *persistConn) release(stop func() bool, reusable bool) {
	if stop() && reusable && pc.br.Buffered() == 0 {
		pc.t.putIdle(pc)
		return
	}
	pc.conn.Close()
}

var errBodyClosed = errors.New("httpcap: read on closed response body")

// connBody is a response body on a persistConn. Closing it after reading
// it to the end hands the connection back to the pool; closing it
// earlier closes the connection, without reading the rest (a hostile
// server could send without end).
type connBody struct {
	pc       *persistConn
	ctx      context.Context
	rc       io.Reader // the body as http.ReadResponse returned it
	stop     func() bool
	reusable bool

	mu      sync.Mutex
	eof     bool  // rc returned io.EOF
	failed  bool  // a read failed, or what was read made no sense
	readErr error // the failed read's error, as returned
	closed  bool
}

// Read implements io.Reader.
func (b *connBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return 0, errBodyClosed
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.mu.Lock()
		b.eof = true
		b.mu.Unlock()
	} else if err != nil {
		err = &Error{Op: "read response body from", Addr: b.pc.key, Err: ctxErr(b.ctx, err)}
		b.mu.Lock()
		b.failed, b.readErr = true, err
		b.mu.Unlock()
	}
	return n, err
}

// readError returns the error of a failed Read, if any.
func (b *connBody) readError() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.readErr
}

// fail keeps the connection out of the pool.
func (b *connBody) fail() {
	b.mu.Lock()
	b.failed = true
	b.mu.Unlock()
}

// Close implements io.Closer. It may run while a Read is blocked on
// another goroutine: closing the connection ends that Read.
func (b *connBody) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	done := b.eof && !b.failed
	b.mu.Unlock()
	b.pc.release(b.stop, b.reusable && done)
	return nil
}

// gzipBody undoes the gzip encoding the transport asked for. Its gzip
// reader reads until the body's end (multistream), so a body read to
// io.EOF here was read to its end below too.
type gzipBody struct {
	b   *connBody
	zr  *gzip.Reader
	err error
}

// Read implements io.Reader.
func (g *gzipBody) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.zr == nil {
		zr, err := gzip.NewReader(g.b)
		if err != nil {
			// An empty body reads as empty, as in net/http.
			if err != io.EOF {
				err = g.wrap(err)
			}
			g.err = err
			return 0, err
		}
		g.zr = zr
	}
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		err = g.wrap(err)
	}
	return n, err
}

// wrap names a gzip error and keeps the connection out of the pool; the
// body's own read errors pass as they are.
func (g *gzipBody) wrap(err error) error {
	if rerr := g.b.readError(); rerr != nil {
		return rerr
	}
	g.b.fail()
	return &Error{Op: "gunzip response from", Addr: g.b.pc.key, Err: err}
}

// Close implements io.Closer.
func (g *gzipBody) Close() error { return g.b.Close() }
