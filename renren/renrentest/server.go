// Package renrentest provides an in-process XMPP server that behaves like
// Renren's long-gone IM service (talk.xiaonei.com), for tests and for
// `r2sync demo`.
//
// It speaks real XMPP over TCP: STARTTLS (required) or direct TLS with a
// throw-away CA, SASL PLAIN (Renren's only mechanism) or SCRAM-SHA-1/256
// with or without channel binding, resource binding and the legacy
// <session/>, XEP-0199 pings.
// It keeps Renren's quirks: a stream opened to 'talk.renren.com' is answered
// from 'talk.xiaonei.com', and news-feed notifications arrive as <message/>
// stanzas with an empty <body/> and a custom <xfeed/> child. It records every
// presence it receives and every protocol violation it sees.
package renrentest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// Server is a running emulated Renren XMPP server. Its methods are safe for
// concurrent use.
type Server struct {
	domain     string
	users      map[string]string
	feedEvents bool
	log        *zap.Logger

	certs     *PKI
	tlsConfig *tls.Config
	ln        net.Listener
	wg        sync.WaitGroup

	seeOtherHost          string
	seeOtherHostBeforeTLS bool
	afterStatus           Fault
	silent                atomic.Bool
	mechanisms            []string
	cbTypes               []string
	directTLS             bool
	scramFinal            string
	salt                  string // of every account's SCRAM keys

	mu         sync.Mutex
	closed     bool
	conns      map[*conn]struct{}
	bound      map[string]*conn // full JID -> session
	statuses   []Status
	presences  []Presence
	violations []string
	changed    chan struct{} // closed and replaced whenever a record is added

	accepted     int // TCP connections
	logins       int // successful SASL logins
	authAttempts int
	pings        int
	loginLog     []Login
	saslData     []string // every SASL payload clients sent, decoded
}

// NewServer starts a server on 127.0.0.1 with a random port. Its
// certificate, signed by a fresh CA (see CAPool), names Domain,
// "talk.renren.com", "localhost" and 127.0.0.1.
func NewServer(opts Options) (*Server, error) {
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	users := make(map[string]string, len(opts.Users))
	for u, p := range opts.Users {
		users[u] = p
	}
	hosts := []string{opts.Domain}
	if opts.Domain != AliasDomain {
		hosts = append(hosts, AliasDomain)
	}
	hosts = append(hosts, "localhost", "127.0.0.1")
	if len(opts.CertHosts) > 0 {
		hosts = opts.CertHosts
	}
	c, err := NewPKI(hosts...)
	if err != nil {
		return nil, err
	}
	if opts.Mechanisms == nil {
		opts.Mechanisms = []string{"PLAIN"}
	}
	for _, m := range opts.Mechanisms {
		if !slices.Contains(knownMechanisms, m) {
			return nil, fmt.Errorf("renrentest: unknown mechanism %q", m)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{
		domain:     opts.Domain,
		users:      users,
		feedEvents: opts.FeedEvents,
		log:        opts.Logger.Named("renrentest"),
		certs:      c,
		tlsConfig: &tls.Config{
			Certificates: []tls.Certificate{c.Cert},
			MinVersion:   tls.VersionTLS12,
			MaxVersion:   opts.TLSMaxVersion,
			NextProtos:   []string{"xmpp-client"}, // XEP-0368 ALPN
		},
		ln:      ln,
		conns:   make(map[*conn]struct{}),
		bound:   make(map[string]*conn),
		changed: make(chan struct{}),

		seeOtherHost:          opts.SeeOtherHost,
		seeOtherHostBeforeTLS: opts.SeeOtherHostBeforeTLS,
		afterStatus:           opts.AfterStatus,
		mechanisms:            slices.Clone(opts.Mechanisms),
		cbTypes:               slices.Clone(opts.ChannelBindings),
		directTLS:             opts.DirectTLS,
		scramFinal:            opts.SCRAMFinal,
		salt:                  newSalt(),
	}
	s.wg.Add(1)
	go s.accept()
	s.log.Info("listening", zap.String("address", s.Addr()), zap.String("domain", s.domain))
	return s, nil
}

// Addr returns the TCP address clients dial, "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Domain returns the served XMPP domain.
func (s *Server) Domain() string { return s.domain }

// Certificate returns the server's certificate, e.g. for a key pin.
func (s *Server) Certificate() *x509.Certificate {
	c, err := x509.ParseCertificate(s.certs.Cert.Certificate[0])
	if err != nil {
		panic(err) // NewServer made it
	}
	return c
}

// CAPool returns a pool holding the CA that signed the server certificate.
func (s *Server) CAPool() *x509.CertPool { return s.certs.CAPool.Clone() }

// CAPEM returns the CA certificate in PEM form, for a file-based config.
func (s *Server) CAPEM() []byte { return append([]byte(nil), s.certs.CAPEM...) }

// Statuses returns every status post received, in order.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.statuses...)
}

// WaitStatuses waits until at least n statuses were received and returns
// them all. When ctx ends first it returns those received so far and an
// error wrapping ctx.Err().
func (s *Server) WaitStatuses(ctx context.Context, n int) ([]Status, error) {
	for {
		s.mu.Lock()
		got, changed := append([]Status(nil), s.statuses...), s.changed
		s.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return got, fmt.Errorf("wait for %d statuses (have %d): %w", n, len(got), ctx.Err())
		}
	}
}

// Wait waits until cond holds, checking it whenever the server records
// something (a presence, a status, a ping, a violation), or until ctx
// ends.
func (s *Server) Wait(ctx context.Context, what string, cond func() bool) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		}
	}
}

// Presences returns every presence received, in order, including those
// without a status and unavailable ones.
func (s *Server) Presences() []Presence {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Presence(nil), s.presences...)
}

// Violations returns the protocol violations clients committed, such as
// "<auth> on a plain (pre-TLS) stream". A correct client causes none.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// KickAll drops every client connection abruptly, without a stream close,
// as a crashed server or a broken network would.
func (s *Server) KickAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.raw.Close()
	}
}

// Close stops accepting, ends every stream with </stream:stream>, closes
// the connections and waits for their handlers.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	err := s.ln.Close()
	for _, c := range conns {
		c.shutdown()
	}
	s.wg.Wait()
	s.log.Info("closed")
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("accept", zap.Error(err))
			}
			return
		}
		c := s.track(nc)
		if c == nil {
			_ = nc.Close()
			return
		}
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

// track registers a new connection, or returns nil once the server is closed.
func (s *Server) track(nc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.accepted++
	s.wg.Add(1)
	return c
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if c.jid != "" && s.bound[c.jid] == c {
		delete(s.bound, c.jid)
	}
}

// bind registers c as the session for jid and returns the session it
// replaces, which the caller ends with a <conflict/> stream error as real
// servers do.
func (s *Server) bind(jid string, c *conn) (old *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old = s.bound[jid]
	s.bound[jid] = c
	if old == c {
		return nil
	}
	return old
}

func (s *Server) recordPresence(p Presence) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.presences = append(s.presences, p)
	if p.Type == "" && p.To == "" && p.HasStatus {
		s.statuses = append(s.statuses, Status{JID: p.JID, Text: p.Status, At: p.At})
	}
	s.notifyLocked()
}

func (s *Server) recordViolation(v string) {
	s.log.Warn("protocol violation", zap.String("violation", v))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, v)
	s.notifyLocked()
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// servesDomain reports whether a stream may be opened to d.
func (s *Server) servesDomain(d string) bool {
	return d == s.domain || d == AliasDomain
}

// checkPlain reports whether user and password match a configured account.
func (s *Server) checkPlain(user, password string) bool {
	want, ok := s.users[user]
	return ok && constantTimeEqual(want, password)
}
