package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon/statuspage"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// hostileTweet is alice's tweet: markup that must reach the page as text.
const hostileTweet = `<script>document.title="pwned"</script> hi & bye`

// chromiumPath finds Debian's chromium: in CI (CI=true) its absence fails
// the test, elsewhere it skips it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found (CI=true: .ci/run installs Debian's chromium): %v", err)
		}
		t.Skipf("chromium not found, skipping the headless browser test: %v", err)
	}
	return path
}

// chromium runs headless Chromium with args and the given URL, and
// returns its standard output.
func chromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	home := t.TempDir()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// TestStatusPageE2E: the real binary runs three mirrors (twittertest and
// a real Prosody) with its listener on all interfaces and a token. A
// request without the token is refused, the probes answer; headless
// Chromium, through a proxy that adds the token as Prometheus or an
// operator's proxy would, shows one row per mirror, alice's <script>
// status as text, and a screenshot of sane size.
func TestStatusPageE2E(t *testing.T) {
	t.Parallel()
	bin := chromiumPath(t)
	mw := newMirrorsWorld(t, passA)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	const token = "page-token-0123456789abcdef"
	tokenFile := filepath.Join(mw.dir, "http.token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mw.config = mw.writeConfig("config.toml", mw.configText(passA)+
		fmt.Sprintf("[http]\nlisten = \"0.0.0.0:%d\"\ntoken_file = %q\n", port, tokenFile))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	d := mw.start()
	waitFor(t, "both sessions", 30*time.Second, func() bool { return mw.logins(jidA) == 1 && mw.logins(jidB) == 1 })
	mw.waitStarted(t, "alice", "bob", "carol")
	u := mw.users["alice"]
	mw.server.AddTweet(twittertest.Tweet{Text: "@bob a reply, not mirrored", UserID: u.ID, ScreenName: u.ScreenName, InReplyToUserID: 7, InReplyToScreenName: "bob"})
	mw.tweet("alice", hostileTweet)
	mw.tweet("bob", "bob's first status")
	mw.tweet("carol", "carol <b>bold</b>")
	for _, n := range []string{"alice", "bob", "carol"} {
		mw.waitDelivered(t, n, 1, 60*time.Second)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path, auth string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, resp.Header, string(b)
	}

	// Not loopback: everything but the probes wants the token.
	for _, path := range []string{"/", "/api/mirrors", "/metrics"} {
		code, h, body := get(path, "")
		if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("GET %s without the token: %d, WWW-Authenticate %q", path, code, h.Get("WWW-Authenticate"))
		}
		if strings.Contains(body, "alice") || strings.Contains(body, "hi & bye") {
			t.Errorf("GET %s without the token shows mirrors: %s", path, body)
		}
		if code, _, _ := get(path, "Bearer not-the-token-at-all"); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d", path, code)
		}
	}
	if code, _, body := get("/healthz", ""); code != http.StatusOK {
		t.Errorf("GET /healthz without the token: %d %s", code, body)
	}
	waitFor(t, "/readyz without the token", 30*time.Second, func() bool { code, _, _ := get("/readyz", ""); return code == http.StatusOK })

	// The JSON, with the token, once every row has its status.
	var api statuspage.API
	waitFor(t, "/api/mirrors to show the three statuses", 30*time.Second, func() bool {
		code, _, body := get("/api/mirrors", "Bearer "+token)
		if code != http.StatusOK || json.Unmarshal([]byte(body), &api) != nil || len(api.Mirrors) != 3 {
			return false
		}
		for _, m := range api.Mirrors {
			if m.LastStatus == nil || m.XMPP.Session != "up" {
				return false
			}
		}
		return true
	})
	for i, want := range []struct{ name, jid, status string }{
		{"alice", jidA, "alice: " + hostileTweet},
		{"bob", jidB, "bob: bob's first status"},
		{"carol", jidB, "carol: carol <b>bold</b>"},
	} {
		m := api.Mirrors[i]
		sum := 0
		for _, n := range m.Hourly {
			sum += int(n)
		}
		if m.Name != want.name || m.XMPP.Account != want.jid || m.LastStatus.Text != want.status || m.Source.Kind != "twitter" ||
			m.Mirrored != 1 || m.Pending != 0 || !m.Ready || sum != 1 || len(m.Hourly) != 24 || (want.name == "alice") != (m.Skipped["reply"] == 1) {
			t.Errorf("api row %d: %+v (last status %+v), want %+v", i, m, m.LastStatus, want)
		}
	}

	// `r2sync status` beside the daemon reads the token file too.
	code, out, errOut := r2sync(t, "status", "--config", mw.config)
	if code != 0 || !strings.Contains(out, "daemon: ready") || !regexp.MustCompile(`(?m)^alice .* up `).MatchString(out) {
		t.Errorf("status: exit %d\n%s%s", code, out, errOut)
	}

	// Chromium without the token is refused like any client.
	dom := string(chromium(t, bin, "--dump-dom", base+"/"))
	if strings.Contains(dom, `class="mirror"`) || !strings.Contains(dom, "401 unauthorized") {
		t.Errorf("chromium without the token got:\n%s", dom)
	}

	// Through a proxy that adds the token.
	target, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(target)
	// Chromium drops connections it no longer needs; that is no error.
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	director := proxy.Director
	proxy.Director = func(r *http.Request) {
		director(r)
		r.Header.Set("Authorization", "Bearer "+token)
	}
	front := httptest.NewServer(proxy)
	defer front.Close()

	dom = string(chromium(t, bin, "--dump-dom", front.URL+"/"))
	if n := strings.Count(dom, `<tr class="mirror"`); n != 3 {
		t.Errorf("page has %d mirror rows, want 3:\n%s", n, dom)
	}
	for _, want := range []string{
		`id="mirror-alice"`, `id="mirror-bob"`, `id="mirror-carol"`,
		// The status as text: serialised escaped, not as an element.
		`alice: &lt;script&gt;document.title="pwned"&lt;/script&gt; hi &amp; bye`,
		`carol: carol &lt;b&gt;bold&lt;/b&gt;`,
		jidA, jidB, `<span class="up">up</span>`, `3 of 3 ready`, `reply 1`,
		`<meta http-equiv="refresh" content="5">`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("page lacks %q:\n%s", want, dom)
		}
	}
	if strings.Contains(dom, "<script") || strings.Contains(dom, "pwned</title>") || strings.Contains(dom, "<b>bold") {
		t.Errorf("the hostile status became markup:\n%s", dom)
	}

	shot := filepath.Join(t.TempDir(), "statuspage.png")
	chromium(t, bin, "--screenshot="+shot, "--window-size=1280,800", front.URL+"/")
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	bounds := img.Bounds()
	if bounds.Dx() < 800 || bounds.Dx() > 4000 || bounds.Dy() < 500 || bounds.Dy() > 4000 {
		t.Errorf("screenshot %v, want about 1280×800", bounds)
	}
	if n := colours(img); n < 8 {
		t.Errorf("screenshot has %d colours: a blank page?", n)
	}
	t.Logf("screenshot %d bytes, %d×%d, %d colours", len(b), bounds.Dx(), bounds.Dy(), colours(img))
	if dir := os.Getenv("R2SYNC_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "statuspage.png"), b, 0o644); err != nil {
			t.Errorf("keep the screenshot: %v", err)
		}
	}
	d.stop(t)
}

// colours counts the distinct colours of img, up to 1000.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}
