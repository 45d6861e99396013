package main

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/bluesky"
	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
)

// newBlueskySource builds a Bluesky source from the [bluesky] section:
// a daemon.Streamer when jetstream is set, a polled source otherwise.
// rt is the shared HTTP transport of the AppView, or nil for its own.
func newBlueskySource(c config.Bluesky, log *zap.Logger, rt http.RoundTripper) (daemon.Source, error) {
	cl, err := bluesky.New(bluesky.Options{
		Handle:       c.Handle,
		DID:          c.DID,
		AppView:      c.AppView,
		Jetstream:    c.Jetstream,
		PDS:          c.PDS,
		PLCDirectory: c.PLCDirectory,
		AppPassword:  c.AppPassword.Value(),
		Transport:    rt,
		Timeout:      c.Timeout.Duration,
		Log:          log,
	})
	if err != nil {
		return nil, configError(err)
	}
	return cl.Source(), nil
}
