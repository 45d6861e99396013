package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/renren/renrentest"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// demoTweet is one scripted tweet and what the demo says about it.
type demoTweet struct {
	tweet twittertest.Tweet
	about string
	key   string // the setting that keeps it from being mirrored, if any
}

// demoPollInterval is as fast as the timeline's rate limit allows with
// the reserve the Twitter client keeps, so the pacer has nothing to stretch.
const demoPollInterval = 1200 * time.Millisecond

func demoScript() []demoTweet {
	bob := twittertest.Tweet{UserID: 7, ScreenName: "bob", Text: "Prosody 0.12 works fine as a Renren stand-in"}
	return []demoTweet{
		{about: "a link (t.co is expanded)", tweet: twittertest.Tweet{
			Text: "Reading about XMPP presence: https://xmpp.org/rfcs/rfc6121.html",
			URLs: []twittertest.URL{{Short: "https://t.co/r2demo0001", Expanded: "https://xmpp.org/rfcs/rfc6121.html"}},
		}},
		{about: "an ampersand and angle brackets (&amp; &lt; in the API)", tweet: twittertest.Tweet{Text: "Tom & Jerry <3 XMPP"}},
		{about: "a reply to someone else", key: "sync.include_replies", tweet: twittertest.Tweet{Text: "@bob thanks!", InReplyToUserID: 7, InReplyToScreenName: "bob"}},
		{about: "a retweet", key: "sync.include_retweets", tweet: twittertest.Tweet{RetweetOf: &bob}},
		{about: "CJK and emoji", tweet: twittertest.Tweet{Text: "同步到人人网 🎉👨‍👩‍👧 测试"}},
	}
}

func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo", "[--source twitter|mastodon|bluesky] [--verbose]",
		"Run the real mirror against a built-in Twitter API and XMPP server and show\nscripted tweets becoming statuses. No accounts or network needed.")
	verbose := fs.Bool("verbose", false, "show the daemon's log")
	source := fs.String("source", config.SourceTwitter, "the source network to demonstrate: twitter, mastodon or bluesky")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *source {
	case config.SourceTwitter:
	case config.SourceMastodon:
		return demoMastodon(ctx, e, *verbose)
	case config.SourceBluesky:
		return demoBluesky(ctx, e, *verbose)
	default:
		return &exitError{code: exitUsage, err: fmt.Errorf("--source %q: want twitter, mastodon or bluesky", *source)}
	}

	const (
		jid      = "123456@talk.xiaonei.com"
		password = "demo-password"
	)
	keys := twittertest.Options{ConsumerKey: "demo-ck", ConsumerSecret: "demo-cs", AccessToken: "demo-at", AccessSecret: "demo-as", UserID: 42, ScreenName: "r2demo"}
	api := twittertest.NewServer(keys)
	defer api.Close()
	xmpp, err := renrentest.NewServer(renrentest.Options{Users: map[string]string{"123456": password}, FeedEvents: true, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("start demo XMPP server: %w", err)
	}
	defer xmpp.Close()

	dir, err := os.MkdirTemp("", "r2sync-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, xmpp.CAPEM(), 0o600); err != nil {
		return err
	}

	// The config a user would write for these two servers; from here on
	// the demo is `r2sync run` with it.
	cfg := config.Default()
	cfg.Twitter.APIBase = api.URL()
	cfg.Twitter.ConsumerKey, cfg.Twitter.ConsumerSecret = config.Secret(keys.ConsumerKey), config.Secret(keys.ConsumerSecret)
	cfg.Twitter.AccessToken, cfg.Twitter.AccessSecret = config.Secret(keys.AccessToken), config.Secret(keys.AccessSecret)
	cfg.Twitter.PollInterval.Duration = demoPollInterval
	cfg.Twitter.Timeout.Duration = 10 * time.Second
	cfg.Renren.JID, cfg.Renren.Password = jid, config.Secret(password)
	cfg.Renren.Address, cfg.Renren.CAFile = xmpp.Addr(), caFile
	cfg.Renren.PingInterval.Duration = 30 * time.Second
	cfg.Sync.Template, cfg.Sync.MaxLength = "[r2] {{.Text}}", 140
	cfg.State.File = filepath.Join(dir, "state.json")
	cfg.Log.Level, cfg.Log.Format = "warn", "console"
	if *verbose {
		cfg.Log.Level = "info"
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	// The demo is no service: it tells systemd nothing.
	de := *e
	de.getenv = func(k string) string {
		if k == "NOTIFY_SOCKET" {
			return ""
		}
		return e.getenv(k)
	}
	wired, err := wireConfig(&de, "demo config", cfg)
	if err != nil {
		return err
	}
	defer wired.close()

	w := e.stdout
	fmt.Fprintln(w, "r2sync demo: the real mirror against built-in test servers")
	fmt.Fprintf(w, "  Twitter API  %s (OAuth 1.0a verified, v1.1 JSON)\n", api.URL())
	fmt.Fprintf(w, "  XMPP server  %s as talk.xiaonei.com (STARTTLS, SASL PLAIN, Renren quirks)\n", xmpp.Addr())
	fmt.Fprintln(w, "  template     \"[r2] {{.Text}}\", max_length 140, replies and retweets off")
	fmt.Fprintf(w, "  polling      every %s (the API's 900 requests per 15 minutes allow about one a second)\n", demoPollInterval)
	fmt.Fprintln(w)

	old := api.AddTweet(twittertest.Tweet{Text: "an old tweet from before r2sync was installed"})
	r := &runner{e: &de, handler: &swapHandler{}}
	sessions, _ := r.openSessions(ctx, []*wiring{wired}, nil)
	g, err := r.start(ctx, []*wiring{wired}, sessions)
	if err != nil {
		_ = stopSessions(sessions)
		return err
	}
	sess := sessions[sessionKey(wired)]
	// The script ends early when the mirror or the session does.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-g.units[0].finished:
		case <-sess.finished:
		case <-sctx.Done():
		}
		cancel()
	}()
	err = runDemoScript(sctx, w, api, xmpp, wired.store, old)
	cancel()
	if serr := r.shutdown(g, sessions); err == nil && serr != nil && !errors.Is(serr, context.Canceled) {
		err = serr
	}
	return err
}

func runDemoScript(ctx context.Context, w interface{ Write([]byte) (int, error) }, api *twittertest.Server, xmpp *renrentest.Server, store *statefile.Store, old twittertest.Tweet) error {
	if err := waitState(ctx, store, func(s daemon.State) bool { return s.Initialized }); err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	fmt.Fprintf(w, "first start: the existing tweet %d is not mirrored (no flood of old posts)\n\n", old.ID)

	script := demoScript()
	mirrored := 0
	for i, d := range script {
		seen := len(xmpp.Statuses())
		start := time.Now()
		t := api.AddTweet(d.tweet)
		fmt.Fprintf(w, "tweet %d/%d: %s\n", i+1, len(script), d.about)
		if err := waitState(ctx, store, func(s daemon.State) bool { return cursorAtLeast(s, t.ID) && len(s.Pending) == 0 }); err != nil {
			return fmt.Errorf("tweet %d: %w", t.ID, err)
		}
		statuses := xmpp.Statuses()
		if len(statuses) == seen {
			fmt.Fprintf(w, "  → not mirrored (%s = false)\n", d.key)
			continue
		}
		for _, s := range statuses[seen:] {
			mirrored++
			fmt.Fprintf(w, "  → status “%s” after %s\n", s.Text, s.At.Sub(start).Round(time.Millisecond))
		}
	}
	fmt.Fprintf(w, "\n%d tweets, %d statuses, each exactly once. Try it for real: r2sync run --config FILE\n", len(script), mirrored)
	return nil
}

// waitState polls the state file until ok holds, for at most 15 seconds.
func waitState(ctx context.Context, store *statefile.Store, ok func(daemon.State) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := store.Load(ctx)
		if err != nil {
			return err
		}
		if ok(s) {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("timed out waiting for the mirror")
		case <-tick.C:
		}
	}
}

// cursorAtLeast reports whether the Twitter cursor in s has reached id.
func cursorAtLeast(s daemon.State, id int64) bool {
	c, _ := s.Cursor(sourceKey(config.SourceTwitter))
	n, err := strconv.ParseInt(c, 10, 64)
	return err == nil && n >= id
}
