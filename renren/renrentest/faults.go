package renrentest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// This file holds the server's fault injection: the ways a real server or
// network ends a session, and the checks that prove a client never sends
// credentials before TLS.

// EndStreams ends every bound session gracefully: the server sends
// </stream:stream> and from then on ignores the client (answers no ping)
// but keeps the TCP connection open until the client closes its stream.
// A client that waits for an error from its XMPP library never learns of
// it; one that pings does.
func (s *Server) EndStreams() {
	for _, c := range s.boundConns() {
		if c.ended.CompareAndSwap(false, true) {
			_ = c.write("</stream:stream>")
		}
	}
}

// StreamError ends every bound session with <stream:error/> carrying
// condition (e.g. "conflict", "system-shutdown", "not-authorized") and
// closes the connections.
func (s *Server) StreamError(condition string) {
	for _, c := range s.boundConns() {
		if c.ended.CompareAndSwap(false, true) {
			_ = c.write(fmt.Sprintf("<stream:error><%s xmlns='%s'/></stream:error></stream:stream>", esc(condition), nsStreams))
			_ = c.raw.Close()
		}
	}
}

// misbehave carries out f on this connection.
func (c *conn) misbehave(f Fault) error {
	if f.Send != "" {
		if err := c.write(f.Send); err != nil {
			return err
		}
	}
	if f.Drop {
		c.ended.Store(true)
		_ = c.raw.Close()
		return errDropped
	}
	return nil
}

// errDropped ends a connection the server dropped on purpose.
var errDropped = errors.New("server dropped the connection")

// SendRaw copies r, as it is, into the stream of the one bound session:
// a hostile server's endless attribute or element name. It returns how
// many bytes were written when r ends or a write fails (the client closed
// the connection, or stopped reading for 10 s).
func (s *Server) SendRaw(r io.Reader) (int64, error) {
	conns := s.boundConns()
	if len(conns) != 1 {
		return 0, fmt.Errorf("%d bound sessions, want 1", len(conns))
	}
	return conns[0].copyFrom(r, make([]byte, 32<<10))
}

func (c *conn) copyFrom(r io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := c.write(string(buf[:n])); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// Silence makes every session, current and future, a dead peer while on:
// the server reads but answers nothing and sends nothing once a session
// is past authentication, as a host that vanished behind a NAT or a
// firewall that drops packets would. New logins hang at resource binding.
func (s *Server) Silence(on bool) { s.silent.Store(on) }

// Connections returns how many TCP connections the server has accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Logins returns how many SASL logins succeeded.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// AuthAttempts returns how many SASL <auth/> elements arrived, on any
// stream, whether they succeeded or not.
func (s *Server) AuthAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authAttempts
}

func (s *Server) boundConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.bound))
	for _, c := range s.bound {
		out = append(out, c)
	}
	return out
}

// Pings returns how many XEP-0199 pings the server answered.
func (s *Server) Pings() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pings
}

func (s *Server) countPing() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pings++
	s.notifyLocked()
}

// LoginLog returns every successful SASL login, in order.
func (s *Server) LoginLog() []Login {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Login(nil), s.loginLog...)
}

// SASLData returns every SASL payload clients sent (initial responses
// and responses), base64-decoded where it decodes: what a client must
// never write into its logs.
func (s *Server) SASLData() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.saslData...)
}

func (s *Server) recordLogin(l Login) {
	s.countLogin(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loginLog = append(s.loginLog, l)
	s.notifyLocked()
}

func (s *Server) recordSASL(b64 string) {
	b64 = strings.TrimSpace(b64)
	if b64 == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saslData = append(s.saslData, b64)
	if raw, err := base64.StdEncoding.DecodeString(b64); err == nil {
		s.saslData = append(s.saslData, string(raw))
	}
}

func (s *Server) countLogin(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authAttempts++
	if ok {
		s.logins++
	}
}

// plainRecorder keeps every byte a client sent before TLS, so that the
// server can prove afterwards that no credential was among them, whatever
// element it came in.
type plainRecorder struct {
	r  io.Reader
	mu sync.Mutex
	b  bytes.Buffer
}

func (p *plainRecorder) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.mu.Lock()
	if p.b.Len() < maxStanzaBytes {
		p.b.Write(b[:n])
	}
	p.mu.Unlock()
	return n, err
}

// checkPlaintext records a violation when the plain (pre-TLS) part of a
// connection carried any account's password, alone or as a SASL PLAIN
// message in base64.
func (c *conn) checkPlaintext() {
	c.plain.mu.Lock()
	plain := c.plain.b.Bytes()
	defer c.plain.mu.Unlock()
	for user, password := range c.srv.users {
		secrets := []string{password}
		for _, authzid := range []string{"", user + "@" + c.srv.domain, user + "@" + AliasDomain} {
			secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(authzid+"\x00"+user+"\x00"+password)))
		}
		for _, secret := range secrets {
			if bytes.Contains(plain, []byte(secret)) {
				c.violation(fmt.Sprintf("credentials of %s on a plain (pre-TLS) stream", user))
				return
			}
		}
	}
}

// redirect answers the stream just opened with <see-other-host/>.
func (c *conn) redirect() error {
	_ = c.write(fmt.Sprintf("<stream:error><see-other-host xmlns='%s'>%s</see-other-host></stream:error></stream:stream>",
		nsStreams, esc(c.srv.seeOtherHost)))
	return errRedirected
}
