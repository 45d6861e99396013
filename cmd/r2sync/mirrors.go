package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/twitter"
)

// wireMirrors loads the config named by cfgPath and wires every mirror it
// describes, in file order, on one logger. Mirrors on one API host share
// one HTTP transport. Every failure is a config error (exit 78).
func wireMirrors(e *env, cfgPath string) ([]*wiring, error) {
	cfg, path, err := loadConfig(e, cfgPath)
	if err != nil {
		return nil, err
	}
	return wireMirrorsConfig(e, path, cfg, cfg.Mirrors())
}

// wireMirrorsConfig wires ms, mirrors of cfg read from path.
func wireMirrorsConfig(e *env, path string, cfg config.Config, ms []config.Mirror) ([]*wiring, error) {
	log, err := newLogger(cfg.Log, e.stderr, e.getenv)
	if err != nil {
		return nil, configError(err)
	}
	transports := map[string]http.RoundTripper{}
	out := make([]*wiring, 0, len(ms))
	for _, m := range ms {
		w, err := wireMirror(path, cfg, m, log, transports)
		if err != nil {
			_ = log.Sync()
			return nil, err
		}
		out = append(out, w)
	}
	paceApps(out, log)
	return out, nil
}

// paceApps stretches the poll interval of the mirrors that share a
// consumer key on one API host, so that together they stay within the
// app's budget of timeline reads (twitter.AppInterval), and logs once per
// app when it does.
func paceApps(ws []*wiring, log *zap.Logger) {
	type app struct{ key, host string }
	groups := map[app][]*wiring{}
	var order []app
	for _, w := range ws {
		if w.twitter == nil {
			continue
		}
		a := app{w.cfg.Twitter.ConsumerKey.Value(), w.twitter.APIBase()}
		if _, ok := groups[a]; !ok {
			order = append(order, a)
		}
		groups[a] = append(groups[a], w)
	}
	for _, a := range order {
		g := groups[a]
		stretched := false
		var was, now time.Duration
		for _, w := range g {
			iv, ok := twitter.AppInterval(len(g), w.cfg.Twitter.PollInterval.Duration)
			if ok {
				stretched, was, now = true, w.cfg.Twitter.PollInterval.Duration, iv
				w.cfg.Twitter.PollInterval.Duration = iv
			}
		}
		if stretched {
			log.Warn("poll interval stretched to keep the mirrors of one app within its rate budget",
				zap.String("api_base", a.host), zap.Int("mirrors", len(g)),
				zap.Duration("poll_interval", was), zap.Duration("stretched_to", now))
		}
	}
}

// wireMirror builds one mirror's adapters. Its cfg is the config with the
// mirror's sections in place of the top-level ones, so that the code
// written for one pair reads the mirror's own values.
func wireMirror(path string, cfg config.Config, m config.Mirror, log *zap.Logger, transports map[string]http.RoundTripper) (*wiring, error) {
	mc := cfg
	mc.Source, mc.Twitter, mc.Mastodon, mc.Bluesky = m.Source, m.Twitter, m.Mastodon, m.Bluesky
	mc.Renren, mc.Sync, mc.State.File = m.Renren, m.Sync, m.StateFile
	where := path
	if m.Path != "" {
		where = path + ": " + m.Path
	}
	renderer, err := newRenderer(where, m.Sync)
	if err != nil {
		return nil, err
	}
	mlog := log.With(zap.String("mirror", m.Name))
	src, err := newSource(m, mlog, transports)
	if err != nil {
		return nil, mirrorConfigError(m, err)
	}
	xopts, caPEM, err := renrenOptions(m.Renren, mlog)
	if err != nil {
		return nil, mirrorConfigError(m, err)
	}
	return &wiring{cfg: mc, renderer: renderer, log: mlog, source: src.src, kind: m.SourceKind(), twitter: src.twitter, xmpp: xopts, caPEM: caPEM,
		store: statefile.New(m.StateFile), name: m.Name, base: log}, nil
}

// mirrorConfigError prefixes err with the mirror's path, when it has one.
func mirrorConfigError(m config.Mirror, err error) error {
	if m.Path == "" {
		return err
	}
	return configError(fmt.Errorf("%s: %w", m.Path, err))
}

// apiTransport returns the transport shared by the mirrors on c's API
// host (hostTransport), whatever their tokens.
func apiTransport(c config.Twitter, transports map[string]http.RoundTripper) http.RoundTripper {
	_, base, err := twitter.ResolveAPI(c.API, c.APIBase)
	if err != nil {
		return nil // newTwitter reports it
	}
	return hostTransport(base.String(), transports)
}

// mirrorFlag adds --mirror to fs.
func mirrorFlag(fs *flag.FlagSet) *string {
	return fs.String("mirror", "", "the [[mirror]] to act on (needed when the config has several)")
}

// pickMirror returns the mirror of cfg that --mirror names: the only one
// when there is one and no flag. Several and no flag is a usage error
// listing the names; an unknown name is a config error naming it.
func pickMirror(cfg config.Config, path, name string) (config.Mirror, error) {
	ms := cfg.Mirrors()
	if name == "" {
		if len(ms) == 1 {
			return ms[0], nil
		}
		names := make([]string, len(ms))
		for i, m := range ms {
			names[i] = m.Name
		}
		return config.Mirror{}, usageError("%s has %d mirrors; pick one with --mirror NAME (%s)", path, len(ms), strings.Join(names, ", "))
	}
	if m, ok := cfg.Mirror(name); ok {
		return m, nil
	}
	return config.Mirror{}, configError(fmt.Errorf("%s: no mirror named %q", path, name))
}

// wireOne loads the config and wires the mirror --mirror names.
func wireOne(e *env, cfgPath, name string) (*wiring, error) {
	cfg, path, err := loadConfig(e, cfgPath)
	if err != nil {
		return nil, err
	}
	m, err := pickMirror(cfg, path, name)
	if err != nil {
		return nil, err
	}
	ws, err := wireMirrorsConfig(e, path, cfg, []config.Mirror{m})
	if err != nil {
		return nil, err
	}
	return ws[0], nil
}

// closeAll syncs the logger the wirings share.
func closeAll(ws []*wiring) {
	if len(ws) > 0 {
		ws[0].close()
	}
}

// errNoMirror is returned when no mirror could start.
var errNoMirror = errors.New("no mirror started")
