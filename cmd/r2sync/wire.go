package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/renren"
	"github.com/r2sync/r2sync/twitter"
)

// newTwitter builds the Twitter client from the [twitter] section.
func newTwitter(c config.Twitter, log *zap.Logger) (*twitter.Client, error) {
	client, err := twitter.New(twitter.Options{
		APIBase:        c.APIBase,
		ConsumerKey:    c.ConsumerKey.Value(),
		ConsumerSecret: c.ConsumerSecret.Value(),
		AccessToken:    c.AccessToken.Value(),
		AccessSecret:   c.AccessSecret.Value(),
		Timeout:        c.Timeout.Duration,
		Logger:         log,
	})
	if err != nil {
		return nil, configError(fmt.Errorf("twitter: %w", err))
	}
	return client, nil
}

// renrenOptions builds the XMPP options from the [renren] section. A
// ca_file adds to the system roots; verification always stays on.
func renrenOptions(c config.Renren, log *zap.Logger) (renren.Options, error) {
	opts := renren.Options{
		JID:          c.JID,
		Password:     c.Password.Value(),
		Resource:     c.Resource,
		Address:      c.Address,
		ServerName:   c.ServerName,
		PingInterval: c.PingInterval.Duration,
		PingTimeout:  min(c.PingInterval.Duration/2, 30*time.Second),
		Logger:       log,
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return opts, configError(fmt.Errorf("renren.ca_file: %w", err))
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return opts, configError(fmt.Errorf("renren.ca_file: no PEM certificate in %s", c.CAFile))
		}
		opts.RootCAs = pool
	}
	return opts, nil
}

// samplePost exercises every template field once at start-up, so that a
// template error surfaces as a config error and not on the first tweet.
var samplePost = daemon.Post{
	ID: 1, Text: "sample", URL: "https://twitter.com/r2sync/status/1", ScreenName: "r2sync",
	CreatedAt: time.Unix(0, 0).UTC(),
}

// newRenderer builds the status renderer from the [sync] section.
func newRenderer(c config.Sync) (*daemon.Renderer, error) {
	r, err := daemon.NewRenderer(c.Template, c.MaxLength)
	if err == nil {
		_, err = r.Render(samplePost)
	}
	if err != nil {
		return nil, configError(fmt.Errorf("sync.template: %w", err))
	}
	return r, nil
}

func newFilter(c config.Sync) daemon.Filter {
	return daemon.Filter{IncludeReplies: c.IncludeReplies, IncludeRetweets: c.IncludeRetweets}
}
