package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/renren"
	"github.com/r2sync/r2sync/twitter"
)

// wiring is what run, post and check build from one config file.
type wiring struct {
	cfg      config.Config
	renderer *daemon.Renderer
	log      *zap.Logger
	twitter  *twitter.Client
	xmpp     renren.Options
	caPEM    []byte // renren.ca_file's content, to tell whether a reload changed it
	store    *statefile.Store
}

// wire loads the config named by cfgPath and builds the logger and the
// adapters. Every failure is a config error (exit 78). Call close when done.
func wire(e *env, cfgPath string) (*wiring, error) {
	cfg, renderer, err := loadConfig(e, cfgPath)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(cfg.Log, e.stderr, e.getenv)
	if err != nil {
		return nil, configError(err)
	}
	tw, err := newTwitter(cfg.Twitter, log)
	if err != nil {
		return nil, err
	}
	xopts, caPEM, err := renrenOptions(cfg.Renren, log)
	if err != nil {
		return nil, err
	}
	return &wiring{cfg: cfg, renderer: renderer, log: log, twitter: tw, xmpp: xopts, caPEM: caPEM, store: statefile.New(cfg.State.File)}, nil
}

func (w *wiring) close() { _ = w.log.Sync() }

// newTwitter builds the Twitter client from the [twitter] section: API v2
// or v1.1 as twitter.api and twitter.api_base say (see twitter.ResolveAPI).
func newTwitter(c config.Twitter, log *zap.Logger) (*twitter.Client, error) {
	client, err := twitter.New(twitter.Options{
		API:             c.API,
		APIBase:         c.APIBase,
		ExcludeRetweets: c.ExcludeRetweets,
		ConsumerKey:     c.ConsumerKey.Value(),
		ConsumerSecret:  c.ConsumerSecret.Value(),
		AccessToken:     c.AccessToken.Value(),
		AccessSecret:    c.AccessSecret.Value(),
		Timeout:         c.Timeout.Duration,
		Logger:          log,
	})
	if err != nil {
		return nil, configError(fmt.Errorf("twitter: %w", err))
	}
	return client, nil
}

// renrenOptions builds the XMPP options from the [renren] section and
// returns ca_file's content. A ca_file adds to the system roots;
// verification always stays on.
func renrenOptions(c config.Renren, log *zap.Logger) (renren.Options, []byte, error) {
	opts := renren.Options{
		JID:          c.JID,
		Password:     c.Password.Value(),
		Resource:     c.Resource,
		Address:      c.Address,
		ServerName:   c.ServerName,
		PingInterval: c.PingInterval.Duration,
		PingTimeout:  min(c.PingInterval.Duration/2, 30*time.Second),
		Logger:       log,
		SASL:         c.SASL.List(),
		TLSPin:       c.TLSPin,
		Priority:     c.Priority,
		Show:         c.Show,
		FeedLog:      c.FeedLog,
	}
	if c.TLSMinVersion == "1.3" {
		opts.TLSMinVersion = tls.VersionTLS13
	}
	if c.ResendOnReconnect != config.SwitchDefault {
		resend := c.ResendOnReconnect.Bool(false)
		opts.ResendOnReconnect = &resend
	}
	if c.CAFile != "" {
		pem, err := config.ReadFileMax(c.CAFile, config.MaxFileSize)
		if err != nil {
			return opts, nil, configError(fmt.Errorf("renren.ca_file: %w", err))
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return opts, nil, configError(fmt.Errorf("renren.ca_file: no PEM certificate in %s", c.CAFile))
		}
		opts.RootCAs = pool
		return opts, pem, nil
	}
	return opts, nil, nil
}

func newFilter(c config.Sync) daemon.Filter {
	return daemon.Filter{IncludeReplies: c.IncludeReplies, IncludeRetweets: c.IncludeRetweets}
}
