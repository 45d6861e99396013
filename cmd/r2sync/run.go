package main

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/renren"
)

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "run", "[--config FILE]", "Mirror new tweets to the XMPP status until SIGTERM or SIGINT.")
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, renderer, err := loadConfig(e, *cfgPath)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, e.stderr, e.getenv)
	if err != nil {
		return configError(err)
	}
	defer func() { _ = log.Sync() }()

	tw, err := newTwitter(cfg.Twitter, log)
	if err != nil {
		return err
	}
	xopts, err := renrenOptions(cfg.Renren, log)
	if err != nil {
		return err
	}
	store := statefile.New(cfg.State.File)
	// A corrupt state file stops us before we connect anywhere.
	if _, err := store.Load(ctx); err != nil {
		return err
	}

	conn := renren.NewConn(xopts)
	mirror := daemon.NewMirror(daemon.Config{
		Source:       tw,
		Sink:         conn,
		Store:        store,
		Renderer:     renderer,
		Filter:       newFilter(cfg.Sync),
		PollInterval: cfg.Twitter.PollInterval.Duration,
		Logger:       log,
	})
	log.Info("r2sync starting",
		zap.String("version", versionString()),
		zap.String("jid", cfg.Renren.JID),
		zap.String("api_base", cfg.Twitter.APIBase),
		zap.String("state_file", cfg.State.File),
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
		if err := mirror.Run(gctx); err != nil {
			return fmt.Errorf("mirror: %w", err)
		}
		return context.Canceled
	})
	err = g.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("r2sync stopped", zap.Error(err))
		return err
	}
	log.Info("r2sync stopped")
	return nil
}
