package main

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/renren"
	"github.com/r2sync/r2sync/twitter"
)

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "run", "[--config FILE]", "Mirror new tweets to the XMPP status until SIGTERM or SIGINT.")
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	w, err := wire(e, *cfgPath)
	if err != nil {
		return err
	}
	defer w.close()
	cfg, log, tw, xopts, store, renderer := w.cfg, w.log, w.twitter, w.xmpp, w.store, w.renderer
	// A corrupt state file stops us before we connect anywhere.
	st, err := store.Load(ctx)
	if err != nil {
		return err
	}

	mon := health.New(health.Options{
		PollInterval: cfg.Twitter.PollInterval.Duration,
		RateLimit:    rateLimitOf(tw),
		Usage:        usageOf(tw),
		Version:      versionString(),
	})
	mon.Restore(st)
	xopts.Events = sessionEvents{mon}
	// Bind before connecting anywhere: a taken port is a startup error.
	srv, err := newHTTPServer(cfg.HTTP, mon.Handler(), log)
	if err != nil {
		return err
	}
	conn := renren.NewConn(xopts)
	notifier, err := newSystemdNotifier(e.getenv, conn.Ready(), mon, log)
	if err != nil {
		return err
	}
	mirror := daemon.NewMirror(daemon.Config{
		Source:       mon.Source(tw),
		Sink:         conn,
		Store:        store,
		Renderer:     renderer,
		Filter:       newFilter(cfg.Sync),
		PollInterval: cfg.Twitter.PollInterval.Duration,
		Logger:       log,
		Observer:     mon,
	})
	log.Info("r2sync starting",
		zap.String("version", versionString()),
		zap.String("jid", cfg.Renren.JID),
		zap.String("api", tw.API()),
		zap.String("api_base", tw.APIBase()),
		zap.String("state_file", cfg.State.File),
		zap.String("http_listen", cfg.HTTP.Listen),
		zap.Bool("systemd", notifier != nil),
		zap.Duration("poll_interval", cfg.Twitter.PollInterval.Duration))

	// The session outlives the mirror: on shutdown the mirror finishes the
	// status in flight first, then the session says goodbye. A failed
	// session (a rejected password) cancels gctx and so stops the mirror.
	g, gctx := errgroup.WithContext(ctx)
	connCtx, stopConn := context.WithCancel(context.WithoutCancel(gctx))
	defer stopConn()
	g.Go(func() error { return conn.Run(connCtx) })
	g.Go(func() error {
		defer stopConn()
		defer mon.Stopped()
		if err := mirror.Run(gctx); err != nil {
			return fmt.Errorf("mirror: %w", err)
		}
		return context.Canceled
	})
	if srv != nil {
		g.Go(func() error { return srv.Run(gctx) })
	}
	if notifier != nil {
		g.Go(func() error { return notifier.Run(gctx) })
	}
	err = g.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("r2sync stopped", zap.Error(err))
		return err
	}
	log.Info("r2sync stopped")
	return nil
}

// sessionEvents feeds the XMPP session's events to the monitor. The
// session the Conn closes at shutdown is not an error.
type sessionEvents struct{ *health.Monitor }

var _ renren.Events = sessionEvents{}

func (s sessionEvents) SessionDown(err error) {
	if errors.Is(err, renren.ErrClosed) {
		err = nil
	}
	s.Monitor.SessionDown(err)
}

// rateLimitOf reads the client's last x-rate-limit-* headers at scrape time.
func rateLimitOf(tw *twitter.Client) func() health.RateLimit {
	return func() health.RateLimit {
		rl := tw.RateLimit()
		return health.RateLimit{Limit: rl.Limit, Remaining: rl.Remaining, Reset: rl.Reset}
	}
}

// usageOf reads the client's request and tweet counters at scrape time.
func usageOf(tw *twitter.Client) func() health.Usage {
	return func() health.Usage {
		u := tw.Usage()
		return health.Usage{Requests: u.Requests, ReadRequests: u.ReadRequests, TweetsRead: u.TweetsRead, TweetsPosted: u.TweetsPosted}
	}
}
