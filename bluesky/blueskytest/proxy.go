package blueskytest

import (
	"net"
	"sync"
	"time"
)

// proxy forwards TCP connections to the server and injects network
// faults on the Jetstream path: closing every stream, going silent
// (bytes, pongs included, are held back while the connection stays
// open) and being down (connections are refused by closing them at
// once).
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	dials  int // connections accepted
	silent bool
	down   bool
	wake   chan struct{} // closed when silence ends
	closed chan struct{} // closed by close
	once   sync.Once
}

func newProxy(target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("blueskytest: listen: " + err.Error())
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, wake: make(chan struct{}), closed: make(chan struct{})}
	go p.serve()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) close() {
	p.once.Do(func() { close(p.closed) })
	p.ln.Close()
	p.closeAll()
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.dials++
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.copy(up, c); done <- struct{}{} }()
	go func() { p.copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// copy moves bytes from src to dst, holding them while the proxy is
// silent.
func (p *proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.waitVoice()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitVoice blocks while the proxy is silent.
func (p *proxy) waitVoice() {
	for {
		p.mu.Lock()
		silent, wake := p.silent, p.wake
		p.mu.Unlock()
		if !silent {
			return
		}
		select {
		case <-wake:
		case <-p.closed:
			return
		}
	}
}

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// CloseStreams closes every Jetstream connection, as a relay restart
// does.
func (s *Server) CloseStreams() { s.proxy.closeAll() }

// SetSilent makes every Jetstream connection stop passing bytes (events
// and pongs) while staying open, or resumes them.
func (s *Server) SetSilent(on bool) {
	p := s.proxy
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.silent == on {
		return
	}
	p.silent = on
	if !on {
		close(p.wake)
		p.wake = make(chan struct{})
	}
}

// SetDown takes Jetstream down (every connection closed, new ones
// refused) or brings it back.
func (s *Server) SetDown(on bool) {
	p := s.proxy
	p.mu.Lock()
	p.down = on
	p.mu.Unlock()
	if on {
		p.closeAll()
	}
}

// Dials returns how many TCP connections the Jetstream proxy accepted
// (refused ones too): a client that noticed a fault dials again.
func (s *Server) Dials() int {
	s.proxy.mu.Lock()
	defer s.proxy.mu.Unlock()
	return s.proxy.dials
}
