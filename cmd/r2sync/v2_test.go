package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// TestOutageOfManyPages stops the daemon, lets 250 tweets pile up (more
// than one page in either API), and starts it again: every one of them
// must become a status, in order, and nothing else.
func TestOutageOfManyPages(t *testing.T) { forEachAPI(t, testOutageOfManyPages) }

func testOutageOfManyPages(t *testing.T, api string) {
	w := newWorld(t, api, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	w.server.AddTweet(twittertest.Tweet{Text: "before r2sync"})
	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })
	d.stop(t)

	const total = 250
	var want []string
	for i := range total {
		text := fmt.Sprintf("tweet %03d of the outage", i+1)
		want = append(want, text)
		w.server.AddTweet(twittertest.Tweet{Text: text})
	}
	d = w.start()
	got := w.statuses(ctx, total)
	if !slices.Equal(got, want) {
		t.Fatalf("after the outage got %d statuses, want all %d in order; first differences:\n%s", len(got), total, firstDiff(got, want))
	}
	waitFor(t, "the queue to drain", 30*time.Second, func() bool { return len(w.readState().Pending) == 0 })
	d.stop(t)

	pages := 0
	for _, r := range w.server.Requests() {
		if strings.Contains(r.Path, "user_timeline") || strings.HasSuffix(r.Path, "/tweets") && r.Method == http.MethodGet {
			if r.Query.Get("pagination_token") != "" || r.Query.Get("max_id") != "" {
				pages++
			}
		}
	}
	if pages == 0 {
		t.Errorf("no request paged back: the outage fit in one page?")
	}
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("at %d: got %q, want %q", i, g, w)
		}
	}
	return "none"
}

// TestCheckTier453 is a v1.1 config pointed at X on a tier without v1.1:
// check must say what to change.
func TestCheckTier453(t *testing.T) {
	w := newWorld(t, "v1.1", "")
	w.server.Fail(twittertest.Fault{Path: "verify_credentials", Status: twittertest.FaultTier().Status, Body: twittertest.FaultTier().Body})
	code, stdout, stderr := r2sync(t, "check", "--config", w.config)
	if code != 1 {
		t.Fatalf("check exited %d, want 1\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"twitter: FAILED (api v1.1 at " + w.server.URL() + ")", "code 453", "use the x api v2", `set twitter.api = "v2"`, "renren: ok"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
	w.checkNoSecrets(stdout + stderr)
}

// TestLogin runs the PIN flow against twittertest, playing the user in
// the browser, for both APIs and both ways of handing over the token.
func TestLogin(t *testing.T) {
	tests := []struct {
		name  string
		api   string
		files bool
	}{
		{name: "v2 to files", api: "v2", files: true},
		{name: "v1.1 to files", api: "v1.1", files: true},
		{name: "v2 printed", api: "v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := twittertest.NewServer(apiKeys)
			t.Cleanup(server.Close)
			dir := t.TempDir()
			base := server.V2URL()
			if tt.api == "v1.1" {
				base = server.URL()
			}
			cfg := fmt.Sprintf("[twitter]\napi = %q\napi_base = %q\nconsumer_key = %q\nconsumer_secret_file = \"consumer_secret\"\n",
				tt.api, base, apiKeys.ConsumerKey)
			if tt.files {
				cfg += "access_token_file = \"creds/access_token\"\naccess_secret_file = \"creds/access_secret\"\n"
			}
			// Not a complete config: login needs only the app's credentials.
			cfg += "[renren]\njid = \"unset\"\n"
			path := filepath.Join(dir, "config.toml")
			for name, content := range map[string]string{path: cfg, filepath.Join(dir, "consumer_secret"): apiKeys.ConsumerSecret + "\n"} {
				if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "login", "--config", path)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdoutPipe, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			stderr := &syncBuffer{}
			cmd.Stderr = stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			out := &syncBuffer{}
			urlCh := make(chan string, 1)
			copied := make(chan struct{})
			go func() {
				defer close(copied)
				sc := bufio.NewScanner(stdoutPipe)
				sent := false
				for sc.Scan() {
					out.Write([]byte(sc.Text() + "\n"))
					if u := strings.TrimSpace(sc.Text()); !sent && strings.HasPrefix(u, server.OAuthURL()+"authorize?") {
						urlCh <- u
						sent = true
					}
				}
			}()
			var authorize string
			select {
			case authorize = <-urlCh:
			case <-ctx.Done():
				t.Fatalf("no authorize URL printed:\n%s%s", out, stderr)
			}
			// The user opens the page and reads the PIN.
			resp, err := http.Get(authorize)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := regexp.MustCompile(`<code id="oauth_pin">(\d+)</code>`).FindSubmatch(page)
			if m == nil {
				t.Fatalf("no PIN on the authorize page: %s", page)
			}
			if _, err := io.WriteString(stdin, string(m[1])+"\n"); err != nil {
				t.Fatal(err)
			}
			stdin.Close()
			<-copied
			if err := cmd.Wait(); err != nil {
				t.Fatalf("login: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
			}
			if !strings.Contains(out.String(), "logged in as @alice (id 42) with api "+tt.api) {
				t.Errorf("output lacks the account:\n%s", out)
			}
			if strings.Contains(out.String()+stderr.String(), apiKeys.ConsumerSecret) {
				t.Error("output reveals the consumer secret")
			}
			if !tt.files {
				for _, want := range []string{fmt.Sprintf("access_token = %q", apiKeys.AccessToken), fmt.Sprintf("access_secret = %q", apiKeys.AccessSecret)} {
					if !strings.Contains(out.String(), want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
				return
			}
			if strings.Contains(out.String()+stderr.String(), apiKeys.AccessSecret) {
				t.Error("output reveals the access secret written to a file")
			}
			for name, want := range map[string]string{"access_token": apiKeys.AccessToken, "access_secret": apiKeys.AccessSecret} {
				file := filepath.Join(dir, "creds", name)
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if strings.TrimSpace(string(b)) != want {
					t.Errorf("%s holds %q", name, b)
				}
				if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s mode %v, %v; want 0600", name, fi.Mode(), err)
				}
			}
			verified := 0
			for _, r := range server.Requests() {
				if r.OAuthVerified && strings.HasPrefix(r.Path, "/oauth/") {
					verified++
				}
			}
			if verified != 2 {
				t.Errorf("%d OAuth-verified token requests, want 2 (request_token, access_token)", verified)
			}
		})
	}
}
