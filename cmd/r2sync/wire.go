package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/renren"
	"github.com/r2sync/r2sync/twitter"
)

// mirrorName names the one mirror of a config without [[mirror]] tables,
// in logs and metrics.
const mirrorName = health.DefaultMirror

// twitterSource is a mirror's Twitter source: a twitter.V1 or a
// twitter.V2, as twitter.api and twitter.api_base say. Its optional
// abilities (daemon.Verifier, daemon.Poster, …) are asserted where used.
type twitterSource interface {
	daemon.Source
	API() string
	APIBase() string
}

// wiring is what run, post and check build from one config file.
type wiring struct {
	cfg      config.Config
	renderer *daemon.Renderer
	log      *zap.Logger
	// source is the mirror's source, of kind (config.SourceTwitter, …);
	// twitter is the same source when it is X's, else nil.
	source  daemon.Source
	kind    string
	twitter twitterSource
	xmpp    renren.Options
	caPEM   []byte // renren.ca_file's content, to tell whether a reload changed it
	store   *statefile.Store
	// name names the mirror (mirrorName for the top-level layout); base
	// is the process logger without the mirror field, for daemon.Config,
	// which adds the field from the name itself (mirrors.go).
	name string
	base *zap.Logger
}

// wireConfig builds the renderer, the logger and the adapters of cfg,
// read from path (which errors name). `run` and `demo` both build their
// mirror from what it returns.
func wireConfig(e *env, path string, cfg config.Config) (*wiring, error) {
	renderer, err := newRenderer(path, cfg.Sync)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(cfg.Log, e.stderr, e.getenv)
	if err != nil {
		return nil, configError(err)
	}
	m := cfg.Mirrors()[0]
	src, err := newSource(m, log, map[string]http.RoundTripper{})
	if err != nil {
		return nil, err
	}
	xopts, caPEM, err := renrenOptions(cfg.Renren, log)
	if err != nil {
		return nil, err
	}
	return &wiring{cfg: cfg, renderer: renderer, log: log, source: src.src, kind: m.SourceKind(), twitter: src.twitter,
		xmpp: xopts, caPEM: caPEM, store: statefile.New(cfg.State.File), name: mirrorName, base: log}, nil
}

func (w *wiring) close() { _ = w.log.Sync() }

// newTwitter builds the Twitter client from the [twitter] section: the
// one place that picks API v2 or v1.1, as twitter.api and
// twitter.api_base say (see twitter.ResolveAPI).
// rt is the shared HTTP transport of the API host, or nil for one of its
// own.
func newTwitter(c config.Twitter, log *zap.Logger, rt http.RoundTripper) (twitterSource, error) {
	api, base, err := twitter.ResolveAPI(c.API, c.APIBase)
	if err != nil {
		return nil, configError(fmt.Errorf("twitter: %w", err))
	}
	opts := twitter.Options{
		APIBase:         base.String(),
		ExcludeRetweets: c.ExcludeRetweets,
		ConsumerKey:     c.ConsumerKey.Value(),
		ConsumerSecret:  c.ConsumerSecret.Value(),
		AccessToken:     c.AccessToken.Value(),
		AccessSecret:    c.AccessSecret.Value(),
		Timeout:         c.Timeout.Duration,
		Logger:          log,
		Transport:       rt,
	}
	var src twitterSource
	if api == twitter.APIv2 {
		src, err = twitter.NewV2(opts)
	} else {
		src, err = twitter.NewV1(opts)
	}
	if err != nil {
		return nil, configError(fmt.Errorf("twitter: %w", err))
	}
	return src, nil
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

// newMirror builds the mirror of w's config and adapters on sink,
// reporting to obs: the one place `run` and `demo` get theirs from.
func (w *wiring) newMirror(sink daemon.Sink, obs daemon.Observer) *daemon.Mirror {
	return w.newMirrorOn(w.store, sink, obs)
}

// newMirrorOn is newMirror on another store: `run --dry-run` and
// `preview` keep the state file untouched.
func (w *wiring) newMirrorOn(store daemon.Store, sink daemon.Sink, obs daemon.Observer) *daemon.Mirror {
	return daemon.NewMirror(daemon.Config{
		Name:         w.name,
		Source:       w.source,
		SourceName:   sourceKey(w.kind),
		Sink:         sink,
		Store:        store,
		Renderer:     w.renderer,
		Filter:       newFilter(w.cfg.Sync),
		MaxPerHour:   w.cfg.Sync.MaxPerHour,
		PollInterval: w.pollInterval(),
		Logger:       w.base,
		Observer:     obs,
	})
}

// newFilter builds the daemon's filter from the [sync] keys, which
// config.Validate has checked, so the patterns compile. Were one not to,
// the filter fails closed: every post is skipped, never every post sent.
func newFilter(c config.Sync) daemon.Filter {
	skip, err1 := config.CompilePattern(c.SkipPattern)
	only, err2 := config.CompilePattern(c.OnlyPattern)
	if err1 != nil || err2 != nil {
		skip = regexp.MustCompile(``) // a constant that matches every text
	}
	return daemon.Filter{
		IncludeReplies: c.IncludeReplies,
		IncludeReposts: c.IncludeRetweets,
		SkipTags:       c.SkipTags,
		OnlyTags:       c.OnlyTags,
		StripTags:      c.StripTags,
		SkipPattern:    skip,
		OnlyPattern:    only,
		SkipOlderThan:  c.SkipOlderThan.Duration,
	}
}

// xmppSink is a session's renren.Conn as the mirror's sink, with the
// XMPP sink's daemon.Sanitizer: the mirror drops what XML 1.0 cannot
// carry before it cuts a status to length, as renren does again when it
// sends. Embedding keeps every ability of the Conn visible. Once renren
// offers Sanitize itself, the Conn is the sink as it is.
type xmppSink struct {
	*renren.Conn
	events *sessionEvents // nil: never Online
}

var _ daemon.Online = xmppSink{}

// Online implements daemon.Online: the session is up, so a status sent
// now goes out at once and the poll may send it itself.
func (s xmppSink) Online() bool { return s.events != nil && s.events.isUp() }

// Sanitize implements daemon.Sanitizer.
func (xmppSink) Sanitize(text string) string { return xmppSanitize(text) }

// xmppSanitize is the XMPP sink's cleaning of a status.
var xmppSanitize = daemon.SanitizeXML
