// Package prosodytest starts a real Prosody XMPP server on 127.0.0.1 for
// integration tests, with a throw-away CA, and provides an independent
// stdlib-only XMPP client (Watcher) that records the presences it receives.
//
// Prosody 0.12 must be installed (Debian: apt-get install prosody lua-sec).
// Without it, Start skips the test, except under CI (CI=true), where it
// fails: CI must never silently skip these tests.
//
// Each Start gets its own temporary directory (config, data, pid file, log,
// certificates) and its own c2s port on 127.0.0.1, and with
// Options.DirectTLS a direct TLS one. No s2s, HTTP or component listeners
// are opened. A module of its own records the SASL mechanism of every
// login in Prosody's log (SASLMechanisms). STARTTLS is required and SASL PLAIN is
// only offered over TLS.
package prosodytest

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren/internal/serverproc"
	"github.com/r2sync/r2sync/renren/renrentest"
)

// DefaultDomain is the VirtualHost used when Options.Domain is empty: the
// test server emulates Renren's XMPP domain on 127.0.0.1.
const DefaultDomain = "talk.xiaonei.com"

const (
	startTimeout = 15 * time.Second // from exec to a verified TLS handshake
	stopTimeout  = 10 * time.Second // SIGTERM grace before SIGKILL
	logTailLines = 60
)

// Options configures Start.
type Options struct {
	// Domain is the VirtualHost and the name in the server certificate
	// (which also covers "localhost" and 127.0.0.1). Default DefaultDomain.
	Domain string
	// Users are registered before the server starts: localpart -> password.
	Users map[string]string
	// Group lists localparts that share one mod_groups roster group: each
	// has every other as a contact with subscription "both", so they see
	// each other's presence without any subscription handshake. They need
	// not be registered yet.
	Group []string
	// DirectTLS opens a second c2s port for direct TLS (XEP-0368,
	// c2s_direct_tls_ports); see DirectTLSAddr.
	DirectTLS bool
}

// Server is a running (or stopped) private Prosody.
type Server struct {
	tb      testing.TB
	opts    Options
	domain  string
	port    int
	tlsPort int // direct TLS, or 0
	pki     *renrentest.PKI

	prosodyBin, prosodyctlBin string

	dir, cfgPath, logPath, outPath, pidPath, caPath string

	mu   sync.Mutex
	proc *process // nil when stopped
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed after Wait returned
	err  error         // Wait's result, valid after done
}

var errPortInUse = errors.New("c2s port already in use")

// Start starts a private Prosody for tb and registers Stop with tb.Cleanup.
// It fails the test (with the tail of Prosody's log) if Prosody does not
// accept a verified STARTTLS connection within 15s.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	prosodyBin, ctlBin, err := lookupBinaries()
	if err != nil {
		skipOrFatal(tb, err)
		return nil
	}
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if err := validateDomain(opts.Domain); err != nil {
		tb.Fatalf("prosodytest: %v", err)
	}
	for u := range opts.Users {
		if err := validateLocalpart(u); err != nil {
			tb.Fatalf("prosodytest: Options.Users: %v", err)
		}
	}
	for _, u := range opts.Group {
		if err := validateLocalpart(u); err != nil {
			tb.Fatalf("prosodytest: Options.Group: %v", err)
		}
	}
	opts.Group = slices.Clone(opts.Group)

	dir := tb.TempDir()
	s := &Server{
		tb:            tb,
		opts:          opts,
		domain:        opts.Domain,
		prosodyBin:    prosodyBin,
		prosodyctlBin: ctlBin,
		dir:           dir,
		cfgPath:       filepath.Join(dir, "prosody.cfg.lua"),
		logPath:       filepath.Join(dir, "prosody.log"),
		outPath:       filepath.Join(dir, "prosody.stdout"),
		pidPath:       filepath.Join(dir, "prosody.pid"),
		caPath:        filepath.Join(dir, "certs", "ca.crt"),
	}
	if err := s.writeFiles(); err != nil {
		tb.Fatalf("prosodytest: %v", err)
	}
	// Registered before launching, so a Fatal during startup still stops
	// Prosody; runs before TempDir's own cleanup (LIFO).
	tb.Cleanup(s.Stop)

	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("prosodytest: pick a free port: %v", err)
		}
		s.port = port
		if opts.DirectTLS {
			if s.tlsPort, err = freePort(); err != nil {
				tb.Fatalf("prosodytest: pick a free port: %v", err)
			}
		}
		if err := s.writeConfig(); err != nil {
			tb.Fatalf("prosodytest: %v", err)
		}
		if attempt == 1 {
			users := make([]string, 0, len(opts.Users))
			for u := range opts.Users {
				users = append(users, u)
			}
			sort.Strings(users)
			for _, u := range users {
				if err := s.register(u, opts.Users[u]); err != nil {
					tb.Fatalf("prosodytest: %v", err)
				}
			}
		}
		took, err := s.launch()
		if errors.Is(err, errPortInUse) && attempt < 5 {
			tb.Logf("prosodytest: port %d was taken before Prosody could bind it; retrying with another", port)
			continue
		}
		if err != nil {
			tb.Fatalf("prosodytest: start prosody: %v\n%s", err, s.logTail())
		}
		tb.Logf("prosodytest: prosody pid %d serving %s on %s, ready in %v", s.PID(), s.domain, s.Addr(), took.Round(time.Millisecond))
		return s
	}
}

// Addr returns the c2s address, "127.0.0.1:PORT". It stays the same across
// Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// DirectTLSAddr returns the direct TLS c2s address, "127.0.0.1:PORT", or
// "" without Options.DirectTLS.
func (s *Server) DirectTLSAddr() string {
	if s.tlsPort == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tlsPort))
}

// Domain returns the VirtualHost, the domain part of every account's JID.
func (s *Server) Domain() string { return s.domain }

// JID returns localpart@Domain().
func (s *Server) JID(localpart string) string { return localpart + "@" + s.domain }

// CAFile returns the path of the throw-away CA certificate (PEM).
func (s *Server) CAFile() string { return s.caPath }

// CAPool returns a new pool holding only the throw-away CA.
func (s *Server) CAPool() *x509.CertPool { return s.pki.CAPool.Clone() }

// LogFile returns the path of Prosody's log (debug level).
func (s *Server) LogFile() string { return s.logPath }

// PID returns the PID of the running Prosody, or 0 when stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// AddUser registers an account (or resets its password) with
// `prosodyctl --config ... register`. It works whether or not the server is
// running.
func (s *Server) AddUser(tb testing.TB, localpart, password string) {
	tb.Helper()
	if err := validateLocalpart(localpart); err != nil {
		tb.Fatalf("prosodytest: AddUser: %v", err)
	}
	if err := s.register(localpart, password); err != nil {
		tb.Fatalf("prosodytest: %v", err)
	}
}

// Restart stops Prosody (as Stop does) and starts it again on the same port
// with the same data, so accounts survive. Existing client connections,
// including Watchers, are closed by the server.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	took, err := s.launch()
	if err != nil {
		tb.Fatalf("prosodytest: restart prosody on %s: %v\n%s", s.Addr(), err, s.logTail())
	}
	tb.Logf("prosodytest: prosody restarted as pid %d on %s, ready in %v", s.PID(), s.Addr(), took.Round(time.Millisecond))
}

// Stop sends SIGTERM to Prosody's PID, waits up to 10s for it to exit and
// then sends SIGKILL. It is idempotent and registered with tb.Cleanup.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	if killed := p.stop(); killed {
		s.tb.Logf("prosodytest: prosody pid %d ignored SIGTERM for %v and was killed\n%s", p.cmd.Process.Pid, stopTimeout, s.logTail())
	}
}

func (s *Server) register(localpart, password string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The password is on the command line: acceptable for throw-away test
	// accounts. (prosodyctl's argument parser stops at the first non-option,
	// so a password starting with '-' is fine.)
	cmd := exec.CommandContext(ctx, s.prosodyctlBin, "--config", s.cfgPath, "register", localpart, s.domain, password)
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("prosodyctl register %s %s: %v\n%s", localpart, s.domain, err, out)
	}
	return nil
}

func (s *Server) writeFiles() error {
	p, err := renrentest.NewPKI(s.domain, "localhost", "127.0.0.1", "::1")
	if err != nil {
		return fmt.Errorf("generate certificates: %w", err)
	}
	s.pki = p
	certDir := filepath.Join(s.dir, "certs")
	for _, d := range []string{certDir, filepath.Join(s.dir, "data"), filepath.Join(s.dir, "plugins")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// Prosody's certmanager also indexes the certificates directory and
	// would find DOMAIN.crt/DOMAIN.key there; the ssl option names them
	// explicitly anyway. The key is 0600, which OpenSSL/Prosody accept.
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{s.caPath, p.CAPEM, 0o644},
		{filepath.Join(certDir, s.domain+".crt"), p.CertPEM, 0o644},
		{filepath.Join(certDir, s.domain+".key"), p.KeyPEM, 0o600},
		{filepath.Join(s.dir, "groups.txt"), []byte(renderGroups(s.groupJIDs())), 0o644},
		{filepath.Join(s.dir, "plugins", "mod_"+auditModule+".lua"), []byte(auditModuleSource), 0o644},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) groupJIDs() []string {
	jids := make([]string, len(s.opts.Group))
	for i, u := range s.opts.Group {
		jids[i] = s.JID(u)
	}
	return jids
}

func (s *Server) writeConfig() error {
	certDir := filepath.Join(s.dir, "certs")
	cfg := renderConfig(configParams{
		Domain:     s.domain,
		Port:       s.port,
		TLSPort:    s.tlsPort,
		PluginDir:  filepath.Join(s.dir, "plugins"),
		PidFile:    s.pidPath,
		DataDir:    filepath.Join(s.dir, "data"),
		LogFile:    s.logPath,
		GroupsFile: filepath.Join(s.dir, "groups.txt"),
		CertDir:    certDir,
		CertFile:   filepath.Join(certDir, s.domain+".crt"),
		KeyFile:    filepath.Join(certDir, s.domain+".key"),
	})
	return os.WriteFile(s.cfgPath, []byte(cfg), 0o644)
}

func skipOrFatal(tb testing.TB, err error) {
	tb.Helper()
	serverproc.SkipOrFatal(tb, "prosodytest", "CI must install the prosody package (apt-get install prosody lua-sec, see .ci/run)", "apt-get install prosody lua-sec", err)
}

func validateDomain(d string) error {
	if d == "" || len(d) > 253 || strings.ContainsAny(d, "@/\"'\\[]= \t\r\n") || strings.ContainsFunc(d, isControl) {
		return fmt.Errorf("invalid domain %q", d)
	}
	return nil
}

// validateLocalpart rejects what would break the JID, the groups file or
// the prosodyctl command line.
func validateLocalpart(u string) error {
	if u == "" || len(u) > 1023 || strings.ContainsAny(u, "@/\"&'<>:= \t\r\n[]") || strings.ContainsFunc(u, isControl) {
		return fmt.Errorf("invalid localpart %q", u)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
