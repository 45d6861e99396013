package prosodytest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/r2sync/r2sync/renren/internal/serverproc"
)

// The Prosody process: launching it, waiting until it serves, stopping it
// by its PID, and reading its log.

// stop terminates the process; it reports whether SIGKILL was needed.
// os.Process signals through a pidfd, so a recycled PID is never hit.
func (p *process) stop() bool {
	select {
	case <-p.done:
		return false
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	// Prosody 0.12's epoll loop only notices that the last socket closed
	// when epoll_wait returns, and after SIGTERM the next timer is a
	// hard-coded 1s one (network_settings.max_wait does not help while any
	// timer is pending). A SIGUSR1, which Prosody handles as a no-op event,
	// interrupts epoll_wait, so it exits within milliseconds instead of
	// after a second whenever a client connection was still closing.
	nudge := time.NewTicker(20 * time.Millisecond)
	defer nudge.Stop()
	for waiting := true; waiting; {
		select {
		case <-p.done:
			return false
		case <-nudge.C:
			_ = p.cmd.Process.Signal(syscall.SIGUSR1)
		case <-t.C:
			waiting = false
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return true
}

// launch execs Prosody in the foreground and waits until it completes a
// verified STARTTLS handshake. On error the process is stopped.
func (s *Server) launch() (time.Duration, error) {
	begin := time.Now()
	logOffset := fileSize(s.logPath)
	out, err := os.OpenFile(s.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	// -F: stay in the foreground (the config option 'daemonize' is
	// deprecated in 0.12). The Debian /usr/bin/prosody is a Lua script run
	// through its shebang, so the PID is Prosody's own.
	cmd := exec.Command(s.prosodyBin, "-F", "--config", s.cfgPath)
	cmd.Dir = s.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return 0, fmt.Errorf("exec %s: %w", s.prosodyBin, err)
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
	pidText, err := os.ReadFile(s.pidPath)
	if err != nil {
		s.Stop()
		return 0, fmt.Errorf("read pidfile: %w", err)
	}
	if got := strings.TrimSpace(string(pidText)); got != strconv.Itoa(cmd.Process.Pid) {
		s.Stop()
		return 0, fmt.Errorf("pidfile %s says %q, but we started pid %d", s.pidPath, got, cmd.Process.Pid)
	}
	return time.Since(begin), nil
}

// waitReady polls until a STARTTLS handshake verified against our CA
// succeeds. That proves the listener is this Prosody (not another process
// that grabbed the port) and that it loaded the certificate.
func (s *Server) waitReady(p *process, logOffset int64) error {
	return serverproc.WaitReady(serverproc.Ready{
		Name: "prosody", Done: p.done, Exited: func() error { return p.err },
		Timeout: startTimeout, Backoff: 5 * time.Millisecond, MaxBackoff: 25 * time.Millisecond,
		Probe: func(deadline time.Time) (error, bool) {
			if bytes.Contains(serverproc.ReadFrom(s.logPath, logOffset), []byte("Failed to open server port")) {
				return fmt.Errorf("%w: port %d", errPortInUse, s.port), true
			}
			ctx, cancel := context.WithDeadline(context.Background(), minTime(deadline, time.Now().Add(3*time.Second)))
			c, _, err := dialTLS(ctx, clientConfig{Addr: s.Addr(), Domain: s.domain, Pool: s.pki.CAPool})
			cancel()
			if err == nil {
				c.close()
				return nil, false
			}
			// Prosody answers only once it has finished starting, so a
			// stream without STARTTLS or a certificate that does not
			// verify will not get better by waiting.
			var verr *tls.CertificateVerificationError
			final := errors.Is(err, errNoStartTLS) || errors.As(err, &verr)
			return fmt.Errorf("no verified STARTTLS handshake on %s: %w", s.Addr(), err), final
		},
	})
}

// logTail returns the last lines of Prosody's log and of its stdout/stderr,
// for failure messages.
func (s *Server) logTail() string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- last %d lines of %s ---\n%s", logTailLines, s.logPath, serverproc.TailLines(s.logPath, logTailLines))
	if out := serverproc.TailLines(s.outPath, 30); strings.TrimSpace(out) != "" {
		fmt.Fprintf(&b, "--- prosody stdout/stderr (%s) ---\n%s", s.outPath, out)
	}
	return b.String()
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// freePort asks the kernel for an unused loopback port. Prosody binds it a
// moment later; Start retries with another port if it lost the race.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lookupBinaries() (prosody, prosodyctl string, err error) {
	prosody, err = exec.LookPath("prosody")
	if err != nil {
		return "", "", fmt.Errorf("prosody not installed (%v)", err)
	}
	prosodyctl, err = exec.LookPath("prosodyctl")
	if err != nil {
		return "", "", fmt.Errorf("prosodyctl not found although prosody is (%v)", err)
	}
	return prosody, prosodyctl, nil
}
