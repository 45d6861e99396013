// Package ejabberdtest starts a real ejabberd XMPP server on 127.0.0.1 for
// integration tests, with a throw-away CA.
//
// ejabberd 23.01 must be installed (Debian: apt-get install ejabberd; its
// own system service need not run, and should not: .ci/run keeps it and
// epmd from starting). Without it, Start skips the test, except under CI
// (CI=true), where it fails: CI must never silently skip these tests.
//
// Each Start runs the Erlang VM directly (not through ejabberdctl) without
// distribution, so that no epmd is started and nothing outlives the test:
// its own config, spool (Mnesia) and log directories in a temporary
// directory, its own 127.0.0.1 ports for c2s with STARTTLS, c2s with direct
// TLS and the HTTP API that registers the accounts. It is stopped by its
// PID, and the kernel kills it if the test binary dies first.
package ejabberdtest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren/internal/serverproc"
	"github.com/r2sync/r2sync/renren/renrentest"
)

// DefaultDomain is the virtual host used when Options.Domain is empty.
const DefaultDomain = "talk.xiaonei.com"

const (
	startTimeout = 30 * time.Second // the VM, Mnesia, listeners, accounts
	stopTimeout  = 10 * time.Second // SIGTERM grace before SIGKILL
)

// Options configures Start.
type Options struct {
	// Domain is the virtual host and the name in the server certificate
	// (which also covers "localhost" and 127.0.0.1). Default DefaultDomain.
	Domain string
	// Users are registered once the server runs: localpart -> password.
	Users map[string]string
}

// Server is a running (or stopped) private ejabberd.
type Server struct {
	tb                         testing.TB
	domain                     string
	c2sPort, tlsPort, httpPort int
	pki                        *renrentest.PKI
	dir, logPath, outPath      string

	mu   sync.Mutex
	proc *process
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts ejabberd for tb, registers Options.Users and registers
// Stop with tb.Cleanup. It fails the test (with the log's tail) if
// ejabberd does not accept a verified TLS connection within 30s.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	erl, libs, err := lookup()
	if err != nil {
		skipOrFatal(tb, err)
		return nil
	}
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if strings.ContainsAny(opts.Domain, "@/\"'\\ \t\r\n") {
		tb.Fatalf("ejabberdtest: invalid domain %q", opts.Domain)
	}
	dir := tb.TempDir()
	s := &Server{tb: tb, domain: opts.Domain, dir: dir,
		logPath: filepath.Join(dir, "logs", "ejabberd.log"), outPath: filepath.Join(dir, "logs", "erl.out")}
	if err := s.writeFiles(); err != nil {
		tb.Fatalf("ejabberdtest: %v", err)
	}
	tb.Cleanup(s.Stop)
	for attempt := 1; ; attempt++ {
		took, err := s.launch(erl, libs)
		if errors.Is(err, errPortInUse) && attempt < 5 {
			tb.Logf("ejabberdtest: a port was taken before ejabberd could bind it; retrying")
			continue
		}
		if err != nil {
			tb.Fatalf("ejabberdtest: start ejabberd: %v\n%s", err, s.logTail())
		}
		tb.Logf("ejabberdtest: ejabberd pid %d serving %s on %s (direct TLS %s), ready in %v",
			s.PID(), s.domain, s.Addr(), s.DirectTLSAddr(), took.Round(time.Millisecond))
		break
	}
	for u, p := range opts.Users {
		if err := s.register(u, p); err != nil {
			tb.Fatalf("ejabberdtest: %v\n%s", err, s.logTail())
		}
	}
	return s
}

// Addr returns the STARTTLS c2s address, "127.0.0.1:PORT".
func (s *Server) Addr() string { return hostPort(s.c2sPort) }

// DirectTLSAddr returns the direct TLS c2s address, "127.0.0.1:PORT".
func (s *Server) DirectTLSAddr() string { return hostPort(s.tlsPort) }

// Domain returns the virtual host.
func (s *Server) Domain() string { return s.domain }

// JID returns localpart@Domain().
func (s *Server) JID(localpart string) string { return localpart + "@" + s.domain }

// CAPool returns a new pool holding only the throw-away CA.
func (s *Server) CAPool() *x509.CertPool { return s.pki.CAPool.Clone() }

// LogFile returns the path of ejabberd's log (info level).
func (s *Server) LogFile() string { return s.logPath }

// PID returns the PID of the running VM, or 0 when stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Stop sends SIGTERM to the VM's PID (Erlang then stops cleanly), waits up
// to 10s and then sends SIGKILL. It is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sigterm)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		s.tb.Logf("ejabberdtest: pid %d ignored SIGTERM for %v; killing it", p.cmd.Process.Pid, stopTimeout)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

var errPortInUse = errors.New("port already in use")

func (s *Server) writeFiles() error {
	p, err := renrentest.NewPKI(s.domain, "localhost", "127.0.0.1")
	if err != nil {
		return fmt.Errorf("generate certificates: %w", err)
	}
	s.pki = p
	for _, d := range []string{"spool", "logs", "certs"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o700); err != nil {
			return err
		}
	}
	// ejabberd reads the certificate, its chain and the key from one file.
	bundle := append(append(append([]byte(nil), p.CertPEM...), p.CAPEM...), p.KeyPEM...)
	if err := os.WriteFile(filepath.Join(s.dir, "certs", "server.pem"), bundle, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "certs", "ca.pem"), p.CAPEM, 0o644)
}

// launch picks ports, writes the config and runs the VM until a verified
// TLS handshake succeeds on the direct TLS port.
func (s *Server) launch(erl, libs string) (time.Duration, error) {
	begin := time.Now()
	for _, p := range []*int{&s.c2sPort, &s.tlsPort, &s.httpPort} {
		port, err := freePort()
		if err != nil {
			return 0, err
		}
		*p = port
	}
	cfgPath := filepath.Join(s.dir, "ejabberd.yml")
	cfg := renderConfig(configParams{Domain: s.domain, C2SPort: s.c2sPort, TLSPort: s.tlsPort, HTTPPort: s.httpPort,
		CertFile: filepath.Join(s.dir, "certs", "server.pem"), CAFile: filepath.Join(s.dir, "certs", "ca.pem")})
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return 0, err
	}
	out, err := os.OpenFile(s.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	logOffset := fileSize(s.logPath)
	// No -sname/-name: without distribution the VM needs no epmd and
	// starts none. Mnesia works on the node nonode@nohost.
	cmd := exec.Command(erl, "-noinput", "-noshell", "-start_epmd", "false",
		"-mnesia", "dir", strconv.Quote(filepath.Join(s.dir, "spool")), "-s", "ejabberd")
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(),
		"EJABBERD_CONFIG_PATH="+cfgPath,
		"EJABBERD_LOG_PATH="+s.logPath,
		"ERL_LIBS="+libs,
		"ERL_CRASH_DUMP="+filepath.Join(s.dir, "logs", "erl_crash.dump"),
		"HOME="+s.dir,
	)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return 0, fmt.Errorf("exec %s: %w", erl, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	if err := s.waitReady(p, logOffset); err != nil {
		s.Stop()
		return 0, err
	}
	return time.Since(begin), nil
}

// waitReady polls until a direct TLS handshake verified against our CA
// succeeds and the STARTTLS and HTTP listeners accept connections.
func (s *Server) waitReady(p *process, logOffset int64) error {
	return serverproc.WaitReady(serverproc.Ready{
		Name: "ejabberd", Done: p.done, Exited: func() error { return p.err },
		Timeout: startTimeout, Backoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Probe: func(time.Time) (error, bool) {
			if bytes.Contains(serverproc.ReadFrom(s.logPath, logOffset), []byte("eaddrinuse")) {
				return errPortInUse, true
			}
			err := s.probe()
			var verr *tls.CertificateVerificationError
			return err, errors.As(err, &verr)
		},
	})
}

func (s *Server) probe() error {
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", s.DirectTLSAddr(), &tls.Config{RootCAs: s.pki.CAPool, ServerName: s.domain})
	if err != nil {
		return err
	}
	c.Close()
	for _, addr := range []string{s.Addr(), hostPort(s.httpPort)} {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return err
		}
		c.Close()
	}
	return nil
}

func hostPort(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }

// freePort asks the kernel for an unused loopback port; launch retries
// with others if ejabberd lost the race for one.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lookup finds the Erlang VM and the directory holding ejabberd's
// application, which the Debian package puts outside Erlang's own lib.
func lookup() (erl, libs string, err error) {
	if _, err := exec.LookPath("ejabberdctl"); err != nil {
		return "", "", fmt.Errorf("ejabberd not installed (%v)", err)
	}
	erl, err = exec.LookPath("erl")
	if err != nil {
		return "", "", fmt.Errorf("erl not found although ejabberd is (%v)", err)
	}
	apps, _ := filepath.Glob("/usr/lib/*/ejabberd-*/ebin/ejabberd.app")
	apps2, _ := filepath.Glob("/usr/lib/erlang/lib/ejabberd-*/ebin/ejabberd.app")
	apps = append(apps, apps2...)
	if len(apps) == 0 {
		return "", "", errors.New("ejabberd.app not found under /usr/lib")
	}
	return erl, filepath.Dir(filepath.Dir(filepath.Dir(apps[0]))), nil
}

func skipOrFatal(tb testing.TB, err error) {
	tb.Helper()
	serverproc.SkipOrFatal(tb, "ejabberdtest", "CI must install the ejabberd package (see .ci/run)", "apt-get install ejabberd", err)
}

// logTail returns the end of ejabberd's log and of the VM's own output.
func (s *Server) logTail() string {
	tail := func(path string, n int) string {
		lines := strings.Split(strings.TrimRight(string(serverproc.ReadFrom(path, 0)), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		return strings.Join(lines, "\n")
	}
	return fmt.Sprintf("--- %s ---\n%s\n--- %s ---\n%s", s.logPath, tail(s.logPath, 40), s.outPath, tail(s.outPath, 20))
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
