package main

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/twitter"
)

// builtSource is a mirror's source as wireMirror made it: the source
// itself, and for Twitter its client, whose API version and app budget
// some commands need.
type builtSource struct {
	src     daemon.Source
	twitter twitterSource // nil for other sources
}

// newSource builds the source that m.SourceKind() names. transports holds
// the HTTP transports shared per API host.
func newSource(m config.Mirror, log *zap.Logger, transports map[string]http.RoundTripper) (builtSource, error) {
	switch m.SourceKind() {
	case config.SourceMastodon:
		src, err := newMastodonSource(m.Mastodon, log, hostTransport(m.Mastodon.Server, transports))
		return builtSource{src: src}, err
	case config.SourceBluesky:
		src, err := newBlueskySource(m.Bluesky, log, hostTransport(m.Bluesky.AppView, transports))
		return builtSource{src: src}, err
	}
	tw, err := newTwitter(m.Twitter, log, apiTransport(m.Twitter, transports))
	if err != nil {
		return builtSource{}, err
	}
	return builtSource{src: tw, twitter: tw}, nil
}

// hostTransport returns the transport shared by the mirrors whose API is
// at base's scheme and host (one per host, whatever the source), or nil
// (the adapter's own) when base is not a URL.
func hostTransport(base string, transports map[string]http.RoundTripper) http.RoundTripper {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil
	}
	key := u.Scheme + "://" + strings.ToLower(u.Host)
	rt, ok := transports[key]
	if !ok {
		rt = twitter.NewTransport()
		transports[key] = rt
	}
	return rt
}

// sourceKey keys a mirror's cursor and claims in its state: Twitter
// keeps the name earlier releases used, so their state files read on.
func sourceKey(kind string) string {
	if kind == "" || kind == config.SourceTwitter {
		return statefile.LegacySource
	}
	return kind
}

// pollInterval is the poll interval of w's source.
func (w *wiring) pollInterval() time.Duration {
	switch w.kind {
	case config.SourceMastodon:
		return w.cfg.Mastodon.PollInterval.Duration
	case config.SourceBluesky:
		return w.cfg.Bluesky.PollInterval.Duration
	}
	return w.cfg.Twitter.PollInterval.Duration
}

// sourceKind is w's source kind, config.SourceTwitter when none is set.
func sourceKindOf(kind string) string {
	if kind == "" {
		return config.SourceTwitter
	}
	return kind
}

// describeSource names a mirror's source and account for people:
// "twitter v2 at api.x.com", "mastodon at mastodon.social",
// "bluesky alice.bsky.social".
func describeSource(m config.Mirror) string {
	switch m.SourceKind() {
	case config.SourceMastodon:
		if u, err := url.Parse(m.Mastodon.Server); err == nil && u.Host != "" {
			return "mastodon at " + u.Host
		}
		return "mastodon"
	case config.SourceBluesky:
		if m.Bluesky.Handle != "" {
			return "bluesky " + m.Bluesky.Handle
		}
		return "bluesky " + m.Bluesky.DID
	}
	if api, base, err := twitter.ResolveAPI(m.Twitter.API, m.Twitter.APIBase); err == nil {
		return "twitter " + api + " at " + base.Host
	}
	return "twitter"
}
