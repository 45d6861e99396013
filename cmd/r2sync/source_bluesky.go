package main

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
)

// newBlueskySource builds a Bluesky source from the [bluesky] section.
// rt is the shared HTTP transport of the AppView, or nil for its own.
func newBlueskySource(c config.Bluesky, log *zap.Logger, rt http.RoundTripper) (daemon.Source, error) {
	return nil, errSourceNotBuilt(config.SourceBluesky)
}
