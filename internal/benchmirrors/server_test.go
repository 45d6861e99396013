package benchmirrors_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// serverEnv makes the test binary serve twittertest instead of running
// tests: its value is the number of users to register.
const serverEnv = "BENCHMIRRORS_SERVE_USERS"

// serverInfo is what the child process tells the benchmark.
type serverInfo struct {
	V2URL                       string
	ConsumerKey, ConsumerSecret string
	Users                       []twittertest.User
}

func TestMain(m *testing.M) {
	if v := os.Getenv(serverEnv); v != "" {
		os.Exit(serve(v))
	}
	os.Exit(m.Run())
}

// serve runs a twittertest server with n users until stdin closes.
func serve(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "%s=%q: not a positive count\n", serverEnv, v)
		return 2
	}
	huge := twittertest.RateLimit{Limit: 1 << 30}
	srv := twittertest.NewServer(twittertest.Options{
		UserLimits: map[string]twittertest.RateLimit{"2/users/:id/tweets": huge, "2/users/me": huge},
		AppLimits:  map[string]twittertest.RateLimit{"2/users/:id/tweets": huge},
	})
	defer srv.Close()
	opts := srv.Options()
	info := serverInfo{V2URL: srv.V2URL(), ConsumerKey: opts.ConsumerKey, ConsumerSecret: opts.ConsumerSecret}
	for range n {
		info.Users = append(info.Users, srv.AddUser(twittertest.User{}))
	}
	if err := json.NewEncoder(os.Stdout).Encode(info); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// startServer starts the child process with n users; it ends with b.
func startServer(b *testing.B, n int) serverInfo {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), serverEnv+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close() // the child's cue to stop
		_ = cmd.Wait()
	})
	var info serverInfo
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&info); err != nil {
		b.Fatalf("test server: %v", err)
	}
	if len(info.Users) != n {
		b.Fatalf("test server has %d users, want %d", len(info.Users), n)
	}
	return info
}
