//go:build containertest

package containertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren/prosodytest"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

const (
	userJID      = "123456@talk.xiaonei.com"
	userPassword = "xmpp-pass-S3CRET-container"
	watcherName  = "watcher"
	watcherPass  = "watcher-pass"
	containerUID = 65532
)

var apiKeys = twittertest.Options{
	ConsumerKey: "ck-r2sync", ConsumerSecret: "cs-S3CRET-container",
	AccessToken: "42-at-r2sync", AccessSecret: "as-S3CRET-container",
	UserID: 42, ScreenName: "alice",
}

// podman runs podman with the flags this machine needs (see .ci/container)
// and returns its combined output.
func podman(ctx context.Context, t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "podman", append(podmanFlags(), args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func podmanFlags() []string {
	return strings.Fields(os.Getenv("R2SYNC_PODMAN_FLAGS"))
}

// dropNoise removes podman's complaints that it cannot schedule health
// checks through systemd, which this test runs by hand.
func dropNoise(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, "unable to get systemd connection") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func TestContainer(t *testing.T) {
	image := os.Getenv("R2SYNC_IMAGE")
	if image == "" {
		t.Fatal("R2SYNC_IMAGE is not set: run this test through .ci/container")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	p := prosodytest.Start(t, prosodytest.Options{
		Domain: "talk.xiaonei.com",
		Users:  map[string]string{"123456": userPassword, watcherName: watcherPass},
		Group:  []string{"123456", watcherName},
	})
	api := twittertest.NewServer(apiKeys)
	t.Cleanup(api.Close)
	watcher := p.Watch(t, watcherName, watcherPass)

	// /config (read-only): config.toml and the test CA; /run/secrets
	// (read-only): one file per secret, as compose mounts them; /data: the
	// state, writable by the image's user only.
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgDir, secretDir, dataDir := mkdir(t, root, "config", 0o755), mkdir(t, root, "secrets", 0o750), mkdir(t, root, "data", 0o700)
	for _, d := range []string{secretDir, dataDir} {
		if err := os.Chown(d, containerUID, containerUID); err != nil {
			t.Fatalf("chown %s to the image's uid (run as root): %v", d, err)
		}
	}
	for name, value := range map[string]string{
		"twitter_consumer_secret": apiKeys.ConsumerSecret,
		"twitter_access_secret":   apiKeys.AccessSecret,
		"renren_password":         userPassword,
	} {
		path := filepath.Join(secretDir, name)
		writeFile(t, path, value+"\n", 0o400)
		if err := os.Chown(path, containerUID, containerUID); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := os.ReadFile(p.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(cfgDir, "ca.pem"), string(ca), 0o644)
	listen := freeAddr(t)
	writeFile(t, filepath.Join(cfgDir, "config.toml"), fmt.Sprintf(`[twitter]
api_base = %q
consumer_key = %q
consumer_secret_file = "/run/secrets/twitter_consumer_secret"
access_token = %q
access_secret_file = "/run/secrets/twitter_access_secret"
poll_interval = "1s"

[renren]
jid = %q
password_file = "/run/secrets/renren_password"
address = %q
ca_file = "/config/ca.pem"
ping_interval = "30s"

[state]
file = "/data/state.json"

[http]
listen = %q

[log]
format = "json"
`, api.URL(), apiKeys.ConsumerKey, apiKeys.AccessToken, userJID, p.Addr(), listen), 0o644)

	name := fmt.Sprintf("r2sync-ci-%d", os.Getpid())
	out := &syncBuffer{}
	run := exec.Command("podman", append(podmanFlags(), "run", "--rm", "--name", name,
		"--network", "host", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"-v", cfgDir+":/config:ro", "-v", secretDir+":/run/secrets:ro", "-v", dataDir+":/data",
		image)...)
	run.Stdout, run.Stderr = out, out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _ = podman(sctx, t, "stop", "-t", "5", name)
			<-exited
		}
		checkNoSecrets(t, "container output", out.String())
	})

	statePath := filepath.Join(dataDir, "state.json")
	waitFor(t, "the first start to be recorded in /data/state.json", 60*time.Second, exited, out, func() bool {
		var st struct{ Initialized bool }
		b, err := os.ReadFile(statePath)
		return err == nil && json.Unmarshal(b, &st) == nil && st.Initialized
	})

	api.AddTweet(twittertest.Tweet{Text: "from the container & <friends> 你好"})
	got, err := watcher.WaitStatuses(ctx, userJID, 1)
	if err != nil {
		t.Fatalf("no status from the container: %v\ncontainer output:\n%s", err, out)
	}
	if got[0].Text != "from the container & <friends> 你好" {
		t.Errorf("status %q", got[0].Text)
	}

	// No systemd here to schedule HEALTHCHECK: run the image's check by hand
	// until it passes.
	var health string
	waitFor(t, "the health check to pass", 60*time.Second, exited, out, func() bool {
		health, err = podman(ctx, t, "healthcheck", "run", name)
		return err == nil
	})
	state, err := podman(ctx, t, "inspect", "--format", "{{.State.Health.Status}} {{.Config.User}} {{.HostConfig.ReadonlyRootfs}}", name)
	if err != nil {
		t.Fatalf("inspect: %v: %s", err, state)
	}
	if f := strings.Fields(dropNoise(state)); len(f) != 3 || f[0] != "healthy" || f[1] != "65532:65532" || f[2] != "true" {
		t.Errorf("inspect = %q, want healthy, user 65532:65532, read-only root", state)
	}
	fi, err := os.Stat(statePath)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != containerUID || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file owner %d mode %v, want %d and 0600", st.Uid, fi.Mode().Perm(), containerUID)
	}

	status, err := podman(ctx, t, "exec", name, "/r2sync", "status")
	if err != nil {
		t.Fatalf("r2sync status in the container: %v\n%s", err, status)
	}
	for _, want := range []string{"mirrored:       1 status", "last mirrored:  tweet ", "pending:        none", "daemon:         ready"} {
		if !strings.Contains(status, want) {
			t.Errorf("r2sync status lacks %q:\n%s", want, status)
		}
	}
	checkNoSecrets(t, "status", status)
	t.Logf("health check: %s", strings.TrimSpace(dropNoise(health)))
	t.Logf("r2sync status in the container:\n%s", dropNoise(status))

	// A clean stop: SIGTERM, exit 0 well within podman's 10s.
	if o, err := podman(ctx, t, "stop", "-t", "10", name); err != nil {
		t.Fatalf("podman stop: %v: %s", err, o)
	}
	stopped = true
	if err := <-exited; err != nil {
		t.Errorf("container exited with %v after SIGTERM; output:\n%s", err, out)
	}
	if !strings.Contains(out.String(), `"msg":"r2sync stopped"`) {
		t.Errorf("no clean stop in the output:\n%s", out)
	}
}

func mkdir(t *testing.T, parent, name string, mode os.FileMode) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// freeAddr returns a loopback address nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond until it holds, failing early if the container exits.
func waitFor(t *testing.T, what string, timeout time.Duration, exited chan error, out *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("container exited (%v) while waiting for %s; output:\n%s", err, what, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; output:\n%s", timeout, what, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func checkNoSecrets(t *testing.T, where, s string) {
	t.Helper()
	for _, secret := range []string{userPassword, apiKeys.ConsumerSecret, apiKeys.AccessSecret} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contains the secret %q", where, secret)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a process's output and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
