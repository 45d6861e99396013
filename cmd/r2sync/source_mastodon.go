package main

import (
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/mastodon"
)

// newMastodonSource builds the Mastodon source of a [mastodon] section:
// with stream = true a mastodon.StreamingSource (a daemon.Streamer), else
// a poll-only *mastodon.Source. rt is the shared HTTP transport of the
// server's host, or nil for one of its own.
func newMastodonSource(c config.Mastodon, log *zap.Logger, rt http.RoundTripper) (daemon.Source, error) {
	src, err := mastodon.New(mastodon.Options{
		Server:         c.Server,
		AccessToken:    c.AccessToken.Value(),
		Visibility:     c.Visibility,
		ContentWarning: c.ContentWarning,
		Timeout:        c.Timeout.Duration,
		Logger:         log,
		Transport:      rt,
	})
	if err != nil {
		return nil, configError(fmt.Errorf("mastodon: %w", err))
	}
	if c.Stream {
		return src.Streaming(), nil
	}
	return src, nil
}
