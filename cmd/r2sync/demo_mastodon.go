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

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/mastodon/mastodontest"
	"github.com/r2sync/r2sync/renren/renrentest"
)

// demoToot is one scripted Mastodon post and what the demo says of it.
type demoToot struct {
	post  mastodontest.NewStatus
	about string
	why   string // why it is not mirrored, if it is not
	// count is the source's EventCounts key that counts the post as it
	// drops it ("" when the mirror sees it and its cursor moves).
	count string
}

// demoMastodonScript is the tweet-like script on Mastodon; bob is an
// account the user follows, reply the id of his post and own the id of
// an older post of the user's.
func demoMastodonScript(bob, reply, own string) []demoToot {
	return []demoToot{
		{about: "a long link (Mastodon shortens it on screen; the status has it whole)", post: mastodontest.NewStatus{
			Text: "Reading about XMPP presence: https://xmpp.org/rfcs/rfc6121.html#presence-syntax-children-status"}},
		{about: "an ampersand, angle brackets, a hashtag and a mention", post: mastodontest.NewStatus{Text: "Tom & Jerry <3 #XMPP, thanks @bob"}},
		{about: "a post by bob, whom you follow (on your user stream too)", why: "not your account", count: "foreign", post: mastodontest.NewStatus{Account: bob, Text: "bob's own news"}},
		{about: "a reply to bob", why: "sync.include_replies = false", post: mastodontest.NewStatus{Text: "@bob congratulations!", InReplyToID: reply}},
		{about: "a boost of bob's post", why: "sync.include_retweets = false", post: mastodontest.NewStatus{ReblogOf: reply}},
		{about: "a followers-only post", why: "visibility private is never mirrored", post: mastodontest.NewStatus{Text: "for my followers only", Visibility: "private"}},
		{about: "a post behind a content warning", why: `mastodon.content_warning = "skip"`, post: mastodontest.NewStatus{Text: "the ending of the film", SpoilerText: "spoilers"}},
		{about: "CJK and emoji", post: mastodontest.NewStatus{Text: "同步到人人网 🎉👨‍👩‍👧 测试"}},
		{about: "a reply to your own older post (a thread)", post: mastodontest.NewStatus{Text: "…and a thread of my own", InReplyToID: own}},
	}
}

// demoMastodon is `r2sync demo --source mastodon`: the real mirror,
// streaming from mastodontest to renrentest.
func demoMastodon(ctx context.Context, e *env, verbose bool) error {
	const (
		jid      = "123456@talk.xiaonei.com"
		password = "demo-password"
		token    = "demo-mastodon-token"
	)
	api := mastodontest.NewServer(mastodontest.Options{Token: token, Username: "r2demo", Heartbeat: time.Second})
	defer api.Close()
	bob := api.AddAccount("bob")
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
	cfg.Source = config.SourceMastodon
	cfg.Mastodon.Server, cfg.Mastodon.AccessToken = api.URL(), config.Secret(token)
	cfg.Mastodon.Stream = true
	// Polls only fill gaps; every status below comes by the stream.
	cfg.Mastodon.PollInterval.Duration = time.Hour
	cfg.Mastodon.Timeout.Duration = 10 * time.Second
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
	fmt.Fprintln(w, "r2sync demo: the real mirror against built-in test servers")
	fmt.Fprintf(w, "  Mastodon     %s (bearer token checked, the documented JSON, the user stream)\n", api.URL())
	fmt.Fprintf(w, "  XMPP server  %s as talk.xiaonei.com (STARTTLS, SASL PLAIN, Renren quirks)\n", xmpp.Addr())
	fmt.Fprintln(w, "  template     \"[r2] {{.Text}}\", max_length 140, replies and boosts off")
	fmt.Fprintln(w, "  stream       on: each post comes by /api/v1/streaming/user (polls only fill gaps)")
	fmt.Fprintln(w)

	old, err := api.Post(mastodontest.NewStatus{Text: "an old post from before r2sync was installed"})
	if err != nil {
		return err
	}
	orig, err := api.Post(mastodontest.NewStatus{Account: bob.ID, Text: "bob's post, which you will answer and boost"})
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
	err = runMastodonDemo(sctx, w, api, xmpp, wired, old.ID, demoMastodonScript(bob.ID, orig.ID, old.ID))
	cancel()
	if serr := r.shutdown(g, sessions); err == nil && serr != nil && !errors.Is(serr, context.Canceled) {
		err = serr
	}
	return err
}

func runMastodonDemo(ctx context.Context, w io.Writer, api *mastodontest.Server, xmpp *renrentest.Server, wired *wiring, old string, script []demoToot) error {
	store := wired.store
	if err := waitState(ctx, store, func(s daemon.State) bool { return s.Initialized }); err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	fmt.Fprintf(w, "first start: the existing post %s is not mirrored (no flood of old posts)\n", old)
	if err := demoWaitFor(ctx, func() bool { return api.OpenStreams() > 0 }); err != nil {
		return fmt.Errorf("the user stream: %w", err)
	}
	fmt.Fprintln(w, "the user stream is open")
	fmt.Fprintln(w)
	counts, _ := wired.source.(interface{ EventCounts() map[string]int64 })
	mirrored := 0
	for i, d := range script {
		seen := len(xmpp.Statuses())
		var before int64
		if counts != nil {
			before = counts.EventCounts()[d.count]
		}
		start := time.Now()
		st, err := api.Post(d.post)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "post %d/%d: %s\n", i+1, len(script), d.about)
		if d.count != "" {
			// The source drops it, so the cursor does not move for it;
			// it counts it instead.
			if counts != nil {
				if err := demoWaitFor(ctx, func() bool { return counts.EventCounts()[d.count] > before }); err != nil {
					return fmt.Errorf("post %s: %w", st.ID, err)
				}
			}
		} else if err := waitState(ctx, store, func(s daemon.State) bool {
			c, _ := s.Cursor(sourceKey(config.SourceMastodon))
			return mastodonCursorAtLeast(c, st.ID) && len(s.Pending) == 0
		}); err != nil {
			return fmt.Errorf("post %s: %w", st.ID, err)
		}
		statuses := xmpp.Statuses()
		if len(statuses) == seen {
			fmt.Fprintf(w, "  → not mirrored (%s)\n", d.why)
			continue
		}
		for _, s := range statuses[seen:] {
			mirrored++
			fmt.Fprintf(w, "  → status “%s” after %.1f ms\n", s.Text, float64(s.At.Sub(start).Microseconds())/1000)
		}
	}
	fmt.Fprintf(w, "\n%d posts, %d statuses, each exactly once. Try it for real: r2sync run --config FILE\n", len(script), mirrored)
	return nil
}

// mastodonCursorAtLeast reports whether Mastodon cursor c has reached
// status id: ids are decimal, so a longer one is larger.
func mastodonCursorAtLeast(c, id string) bool {
	return len(c) > len(id) || (len(c) == len(id) && c >= id)
}

// demoWaitFor polls cond every 5 ms for at most 15 seconds.
func demoWaitFor(ctx context.Context, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return errors.New("timed out waiting for the mirror")
		case <-tick.C:
		}
	}
	return nil
}
