package prosodytest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren/internal/serverproc"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// The acceptance test: with Group{"123456","watcher"} a status sent by
// 123456 reaches the watcher, XML-escaped content and UTF-8 intact.
func TestWatcherSeesGroupMemberStatus(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{
		Users: map[string]string{"123456": "pw-123456", "watcher": "pw-watcher"},
		Group: []string{"123456", "watcher"},
	})
	if s.Domain() != DefaultDomain {
		t.Fatalf("Domain() = %q", s.Domain())
	}
	w := s.Watch(t, "watcher", "pw-watcher")
	if got := w.Roster(); len(got) != 1 || got[0] != "123456@talk.xiaonei.com" {
		t.Errorf("watcher roster = %q, want [123456@talk.xiaonei.com] (from mod_groups)", got)
	}

	c := s.Watch(t, "123456", "pw-123456")
	if !strings.HasPrefix(c.JID(), "123456@talk.xiaonei.com/") {
		t.Errorf("client JID = %q", c.JID())
	}
	if err := c.SendRaw("<presence><status>hello &amp; 你好</status></presence>"); err != nil {
		t.Fatal(err)
	}
	got, err := w.WaitStatuses(ctxT(t, 10*time.Second), "123456@talk.xiaonei.com", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Text != "hello & 你好" || got[0].Type != "" || !got[0].HasStatus {
		t.Fatalf("status = %+v, want Text %q", got[0], "hello & 你好")
	}
	if got[0].From != c.JID() {
		t.Errorf("From = %q, want the sender's full JID %q", got[0].From, c.JID())
	}

	// A second status, with show, from the same full JID.
	if err := c.SendRaw("<presence><show>away</show><status>second</status></presence>"); err != nil {
		t.Fatal(err)
	}
	got, err = w.WaitStatuses(ctxT(t, 10*time.Second), c.JID(), 2) // full JID is reduced to bare
	if err != nil {
		t.Fatal(err)
	}
	if got[1].Text != "second" || got[1].Show != "away" {
		t.Fatalf("second status = %+v", got[1])
	}

	// The client's own initial presence (none was sent before the status),
	// and the watcher's own reflected presence, must not be recorded.
	for _, p := range w.Presences() {
		if strings.HasPrefix(p.From, "watcher@") {
			t.Errorf("watcher recorded its own presence %+v", p)
		}
	}

	// When the client leaves, the watcher sees an unavailable presence, which
	// Statuses does not count.
	c.Close()
	deadline := ctxT(t, 10*time.Second)
	for {
		ps := w.Presences()
		if last := ps[len(ps)-1]; last.Type == "unavailable" {
			break
		}
		select {
		case <-deadline.Done():
			t.Fatalf("no unavailable presence: %+v", w.Presences())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n := len(w.Statuses()); n != 2 {
		t.Errorf("Statuses() has %d entries, want 2: %+v", n, w.Statuses())
	}
}

// A watcher that logs in after the status was set gets it through the
// presence probe triggered by its initial presence.
func TestWatcherGetsCurrentStatusOnLogin(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{
		Domain: "example.test",
		Users:  map[string]string{"alice": "a", "bob": "b"},
		Group:  []string{"alice", "bob"},
	})
	a := s.Watch(t, "alice", "a")
	if err := a.SendRaw("<presence><status>&lt;already&gt; set</status></presence>"); err != nil {
		t.Fatal(err)
	}
	b := s.Watch(t, "bob", "b")
	got, err := b.WaitStatuses(ctxT(t, 10*time.Second), s.JID("alice"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Text != "<already> set" {
		t.Fatalf("got %+v", got[0])
	}
}

func TestWaitStatusesTimesOutWithDiagnostics(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: map[string]string{"w": "p"}, Group: []string{"w", "nobody"}})
	w := s.Watch(t, "w", "p")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	got, err := w.WaitStatuses(ctx, s.JID("nobody"), 1)
	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 0 {
		t.Fatalf("got %v, %v; want deadline exceeded", got, err)
	}
	if !strings.Contains(err.Error(), "presences received") {
		t.Errorf("error lacks diagnostics: %v", err)
	}
}

func TestAddUserWhileRunningAndRestart(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Group: []string{"late", "other"}})
	addr, pid := s.Addr(), s.PID()
	if pid <= 0 {
		t.Fatalf("PID() = %d", pid)
	}
	s.AddUser(t, "late", "pw1")
	s.AddUser(t, "other", "pw2")
	w := s.Watch(t, "late", "pw1")

	s.Restart(t)
	if s.Addr() != addr {
		t.Fatalf("Addr changed across Restart: %s -> %s", addr, s.Addr())
	}
	if s.PID() == pid || s.PID() <= 0 {
		t.Fatalf("PID after Restart = %d (before %d)", s.PID(), pid)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("old prosody pid %d still exists (kill 0: %v)", pid, err)
	}
	// The old watcher's stream was closed by the shutdown.
	select {
	case <-w.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("watcher still connected after Restart")
	}
	_, err := w.WaitStatuses(context.Background(), s.JID("other"), 1)
	if err == nil || !strings.Contains(err.Error(), "stream ended") {
		t.Errorf("WaitStatuses on a dead watcher: %v", err)
	}

	// Accounts survive; presence works after the restart.
	w2 := s.Watch(t, "late", "pw1")
	o := s.Watch(t, "other", "pw2")
	if err := o.SendRaw("<presence><status>after restart</status></presence>"); err != nil {
		t.Fatal(err)
	}
	if _, err := w2.WaitStatuses(ctxT(t, 10*time.Second), s.JID("other"), 1); err != nil {
		t.Fatal(err)
	}

	// Password reset through AddUser.
	s.AddUser(t, "other", "new")
	s.Watch(t, "other", "new")
}

func TestStop(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	pid := s.PID()
	s.Stop()
	if s.PID() != 0 {
		t.Errorf("PID after Stop = %d", s.PID())
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("prosody pid %d still exists after Stop (kill 0: %v)", pid, err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Errorf("%s still accepts connections after Stop", s.Addr())
	}
	if _, err := os.Stat(s.pidPath); !os.IsNotExist(err) {
		t.Errorf("pidfile left behind: %v", err)
	}
	s.Stop() // idempotent
}

// The server must not offer authentication before TLS, and its certificate
// must verify only against the throw-away CA and only for its names.
func TestTLSAndCertificates(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: map[string]string{"u": "p"}, Group: []string{"u"}})

	// Plain stream: STARTTLS required, no SASL mechanisms.
	raw, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c := &xmppConn{raw: raw, nc: raw}
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	f, err := c.openStream(s.Domain())
	if err != nil {
		t.Fatal(err)
	}
	if f.StartTLS == nil || f.StartTLS.Required == nil {
		t.Errorf("STARTTLS not offered as required: %+v", f)
	}
	if f.Mechanisms != nil && len(f.Mechanisms.Mechanism) > 0 {
		t.Errorf("SASL offered before TLS: %q", f.Mechanisms.Mechanism)
	}
	c.close()

	// CAFile holds exactly the CA of CAPool, and the leaf verifies for the
	// domain, localhost and 127.0.0.1.
	pemData, err := os.ReadFile(s.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemData)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("CAFile is not a PEM certificate")
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("CA: %v, IsCA=%v", err, ca != nil && ca.IsCA)
	}
	for _, name := range []string{s.Domain(), "localhost", "127.0.0.1"} {
		cfg := clientConfig{Addr: s.Addr(), Domain: name, Pool: s.CAPool()}
		if name != s.Domain() {
			// The stream 'to' must stay the VirtualHost; check the cert directly.
			cfg.Domain = s.Domain()
		}
		conn, _, err := dialTLS(ctxT(t, 5*time.Second), cfg)
		if err != nil {
			t.Fatalf("dialTLS: %v", err)
		}
		leaf := conn.nc.(*tls.Conn).ConnectionState().PeerCertificates[0]
		conn.close()
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: s.CAPool()}); err != nil {
			t.Errorf("leaf does not verify for %q: %v", name, err)
		}
	}

	// Wrong name and wrong roots must fail.
	_, _, err = dialTLS(ctxT(t, 5*time.Second), clientConfig{Addr: s.Addr(), Domain: s.Domain(), Pool: x509.NewCertPool()})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("handshake with empty roots: %v", err)
	}

	// Wrong password.
	_, _, err = dialClient(ctxT(t, 5*time.Second), clientConfig{Addr: s.Addr(), Domain: s.Domain(), Pool: s.CAPool(), User: "u", Password: "wrong"})
	if err == nil || !strings.Contains(err.Error(), "not-authorized") {
		t.Errorf("login with a wrong password: %v", err)
	}
}

func TestOnlyC2SListens(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	pid := s.PID()
	// Every TCP socket in LISTEN state owned by prosody must be our port.
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	var listening []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && inodes[f[9]] { // 0A = LISTEN
				listening = append(listening, f[1])
			}
		}
	}
	_, portStr, _ := net.SplitHostPort(s.Addr())
	port, _ := strconv.Atoi(portStr)
	want := fmt.Sprintf("0100007F:%04X", port)
	if len(listening) != 1 || listening[0] != want {
		t.Fatalf("prosody listens on %q, want only %q", listening, want)
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, bad := range []string{"", "a b", "a@b", "x]", "a/b", "a=b"} {
		if validateLocalpart(bad) == nil {
			t.Errorf("validateLocalpart(%q) accepted", bad)
		}
	}
	for _, good := range []string{"123456", "watcher", "r2-sync.bot"} {
		if err := validateLocalpart(good); err != nil {
			t.Errorf("validateLocalpart(%q): %v", good, err)
		}
	}
	if luaString("a\"b\\c\nd") != `"a\"b\\c\010d"` {
		t.Errorf("luaString = %s", luaString("a\"b\\c\nd"))
	}
}

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "": false, "false": false, "0": false} {
		t.Setenv("CI", v)
		if serverproc.InCI() != want {
			t.Errorf("CI=%q: serverproc.InCI() = %v", v, !want)
		}
	}
}

// fatalRecorder turns Fatalf into a recorded message plus Goexit, so a test
// can check what Start/Restart report on failure.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestRestartFailureShowsLogTail(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	s.Stop()
	if err := os.WriteFile(s.cfgPath, []byte("this is not lua ((\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Restart(r)
	}()
	<-done
	if s.PID() != 0 {
		t.Errorf("PID after failed restart = %d", s.PID())
	}
	t.Logf("reported failure:\n%s", r.msg)
	for _, want := range []string{"prosody exited during startup", "prosody stdout/stderr", "prosody.cfg.lua"} {
		if !strings.Contains(r.msg, want) {
			t.Errorf("failure message lacks %q:\n%s", want, r.msg)
		}
	}
}
