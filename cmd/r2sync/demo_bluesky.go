package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/bluesky/blueskytest"
	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/renren/renrentest"
)

// demoPost is one scripted Bluesky post and what the demo says about it.
type demoPost struct {
	about string
	key   string // the setting that keeps it from being mirrored, if any
	make  func(s *blueskytest.Server, alice, bob string, prev blueskytest.Ref) (blueskytest.Ref, error)
}

func demoBlueskyScript() []demoPost {
	post := func(p blueskytest.Post) func(*blueskytest.Server, string, string, blueskytest.Ref) (blueskytest.Ref, error) {
		return func(s *blueskytest.Server, alice, _ string, _ blueskytest.Ref) (blueskytest.Ref, error) {
			return s.CreatePost(alice, p)
		}
	}
	link := "Reading about XMPP presence: xmpp.org/rfcs/rfc61…"
	two := "同步 🎉👨‍👩‍👧 看 example.com/a/lo… 和 example.org/b…"
	var bobs blueskytest.Ref
	return []demoPost{
		{about: "a link facet (the shortened link text becomes its full URL)", make: post(blueskytest.Post{Text: link,
			Facets: []blueskytest.Facet{blueskytest.LinkFacet(link, "xmpp.org/rfcs/rfc61…", "https://xmpp.org/rfcs/rfc6121.html")}})},
		{about: "an ampersand and angle brackets", make: post(blueskytest.Post{Text: "Tom & Jerry <3 XMPP"})},
		{about: "a reply to someone else", key: "sync.include_replies", make: func(s *blueskytest.Server, alice, bob string, _ blueskytest.Ref) (blueskytest.Ref, error) {
			var err error
			if bobs, err = s.CreatePost(bob, blueskytest.Post{Text: "Prosody works fine as a Renren stand-in"}); err != nil {
				return blueskytest.Ref{}, err
			}
			return s.CreatePost(alice, blueskytest.Post{Text: "@bob.test thanks!", ReplyTo: bobs.URI})
		}},
		{about: "a repost", key: "sync.include_retweets", make: func(s *blueskytest.Server, alice, _ string, _ blueskytest.Ref) (blueskytest.Ref, error) {
			return s.Repost(alice, bobs.URI)
		}},
		{about: "CJK and emoji", make: post(blueskytest.Post{Text: "同步到人人网 🎉👨‍👩‍👧 测试"})},
		{about: "CJK and emoji before two link facets (UTF-8 byte offsets)", make: post(blueskytest.Post{Text: two, Facets: []blueskytest.Facet{
			blueskytest.LinkFacet(two, "example.com/a/lo…", "https://example.com/a/long/path"),
			blueskytest.LinkFacet(two, "example.org/b…", "https://example.org/b/full"),
		}})},
		{about: "a reply to oneself (a thread goes on)", make: func(s *blueskytest.Server, alice, _ string, prev blueskytest.Ref) (blueskytest.Ref, error) {
			return s.CreatePost(alice, blueskytest.Post{Text: "…and a thread goes on", ReplyTo: prev.URI})
		}},
	}
}

// demoBluesky is `r2sync demo --source bluesky`: the real mirror with
// source = "bluesky" against blueskytest (AppView, PLC directory,
// Jetstream) and the Renren-like XMPP server, printing each status with
// its delay from the post's creation.
func demoBluesky(ctx context.Context, e *env, verbose bool) error {
	const (
		jid      = "123456@talk.xiaonei.com"
		password = "demo-password"
		handle   = "r2demo.bsky.social"
	)
	bsky := blueskytest.New()
	defer bsky.Close()
	alice := bsky.AddAccount(handle, "demo-app-password")
	bob := bsky.AddAccount("bob.test", "bob-password")
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

	cfg := config.Default()
	cfg.Source = config.SourceBluesky
	cfg.Bluesky.Handle = handle
	cfg.Bluesky.AppView, cfg.Bluesky.PLCDirectory, cfg.Bluesky.Jetstream = bsky.URL, bsky.PLCURL, bsky.JetstreamURL
	cfg.Bluesky.PollInterval.Duration = time.Minute // Jetstream brings posts; polls fill gaps
	cfg.Bluesky.Timeout.Duration = 10 * time.Second
	cfg.Renren.JID, cfg.Renren.Password = jid, config.Secret(password)
	cfg.Renren.Address, cfg.Renren.CAFile = xmpp.Addr(), caFile
	cfg.Renren.PingInterval.Duration = 30 * time.Second
	cfg.Sync.Template, cfg.Sync.MaxLength = "[r2] {{.Text}}", 140
	cfg.State.File = filepath.Join(dir, "state.json")
	cfg.Log.Level, cfg.Log.Format = "warn", "console"
	if verbose {
		cfg.Log.Level = "info"
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
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
	fmt.Fprintln(w, "r2sync demo --source bluesky: the real mirror against built-in test servers")
	fmt.Fprintf(w, "  Bluesky      AppView and PDS %s, PLC directory %s/\n", bsky.URL, bsky.PLCURL)
	fmt.Fprintf(w, "  Jetstream    %s (wantedCollections app.bsky.feed.post and .repost, wantedDids %s)\n", bsky.JetstreamURL, alice)
	fmt.Fprintf(w, "  XMPP server  %s as talk.xiaonei.com (STARTTLS, SASL PLAIN, Renren quirks)\n", xmpp.Addr())
	fmt.Fprintln(w, "  template     \"[r2] {{.Text}}\", max_length 140, replies and reposts off")
	fmt.Fprintln(w)

	old, err := bsky.CreatePost(alice, blueskytest.Post{Text: "an old post from before r2sync was installed"})
	if err != nil {
		return err
	}
	r := &runner{e: &de, handler: &swapHandler{}}
	sessions, _ := r.openSessions(ctx, []*wiring{wired}, nil)
	g, err := r.start(ctx, []*wiring{wired}, sessions)
	if err != nil {
		_ = stopSessions(sessions)
		return err
	}
	sess := sessions[sessionKey(wired)]
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
	err = runBlueskyDemo(sctx, w, bsky, alice, bob, xmpp, wired.store, old)
	cancel()
	if serr := r.shutdown(g, sessions); err == nil && serr != nil && !errors.Is(serr, context.Canceled) {
		err = serr
	}
	return err
}

func runBlueskyDemo(ctx context.Context, w io.Writer, bsky *blueskytest.Server, alice, bob string, xmpp *renrentest.Server, store *statefile.Store, old blueskytest.Ref) error {
	if err := waitState(ctx, store, func(s daemon.State) bool { return s.Initialized }); err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	// The stream is up once Jetstream has a subscriber; until then a
	// post would wait for the next poll.
	if err := waitFor15s(ctx, func() bool { return bsky.Requests("subscribe") > 0 }); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	fmt.Fprintf(w, "first start: the existing post %s is not mirrored (no flood of old posts)\n\n", old.RKey)
	script := demoBlueskyScript()
	mirrored := 0
	var prev blueskytest.Ref
	for i, d := range script {
		seen := len(xmpp.Statuses())
		ref, err := d.make(bsky, alice, bob, prev)
		if err != nil {
			return err
		}
		prev = ref
		fmt.Fprintf(w, "post %d/%d: %s\n", i+1, len(script), d.about)
		if err := waitState(ctx, store, func(s daemon.State) bool {
			c, _ := s.Cursor(sourceKey(config.SourceBluesky))
			return c >= ref.RKey && len(s.Pending) == 0
		}); err != nil {
			return fmt.Errorf("post %s: %w", ref.RKey, err)
		}
		statuses := xmpp.Statuses()
		if len(statuses) == seen {
			fmt.Fprintf(w, "  → not mirrored (%s = false)\n", d.key)
			continue
		}
		for _, s := range statuses[seen:] {
			mirrored++
			fmt.Fprintf(w, "  → status “%s” after %.1f ms\n", s.Text, float64(s.At.Sub(ref.Created).Microseconds())/1000)
		}
	}
	fmt.Fprintf(w, "\n%d posts, %d statuses, each exactly once. Try it for real: source = \"bluesky\" in the config, then r2sync run --config FILE\n", len(script), mirrored)
	return nil
}

// waitFor15s polls cond until it holds, for at most 15 seconds.
func waitFor15s(ctx context.Context, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return errors.New("timed out")
		case <-tick.C:
		}
	}
	return nil
}
