package main

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
)

// newMastodonSource builds a Mastodon source from the [mastodon] section.
// rt is the shared HTTP transport of the server, or nil for its own.
func newMastodonSource(c config.Mastodon, log *zap.Logger, rt http.RoundTripper) (daemon.Source, error) {
	return nil, errSourceNotBuilt(config.SourceMastodon)
}
