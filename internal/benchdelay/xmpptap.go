package benchdelay

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"time"
)

// XMPPTap is a TCP proxy in front of an XMPP server that timestamps the
// bytes each client writes. The stream is TLS, so it sees records, not
// stanzas: once a session is up and pings are rare, the first chunk
// after a timeline response is the daemon's presence.
type XMPPTap struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	chunks []time.Time // client-to-server reads, in order
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// NewXMPPTap starts a tap on a free port of 127.0.0.1 that forwards to
// target (host:port).
func NewXMPPTap(target string) (*XMPPTap, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("xmpp tap: %w", err)
	}
	t := &XMPPTap{ln: ln, target: target}
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// Addr returns the tap's address.
func (t *XMPPTap) Addr() string { return t.ln.Addr().String() }

// FirstAfter returns the first client chunk at or after at, and false
// when none came yet.
func (t *XMPPTap) FirstAfter(at time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := sort.Search(len(t.chunks), func(i int) bool { return !t.chunks[i].Before(at) })
	if i == len(t.chunks) {
		return time.Time{}, false
	}
	return t.chunks[i], true
}

// Close stops the tap and cuts its connections.
func (t *XMPPTap) Close() {
	t.mu.Lock()
	t.closed = true
	for _, c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.ln.Close()
	t.wg.Wait()
}

func (t *XMPPTap) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", t.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		t.conns = append(t.conns, c, up)
		t.mu.Unlock()
		t.wg.Add(2)
		go func() {
			defer t.wg.Done()
			t.pipe(up, c, true)
		}()
		go func() {
			defer t.wg.Done()
			t.pipe(c, up, false)
		}()
	}
}

// pipe copies src to dst; fromClient chunks are timestamped as they are
// read, before they are passed on.
func (t *XMPPTap) pipe(dst, src net.Conn, fromClient bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if fromClient {
				at := time.Now()
				t.mu.Lock()
				t.chunks = append(t.chunks, at)
				t.mu.Unlock()
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				_ = err // a reset connection ends the pipe like EOF
			}
			return
		}
	}
}
