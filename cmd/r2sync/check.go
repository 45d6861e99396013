package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/renren"
)

func cmdCheck(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "check", "[--config FILE]",
		"Validate the config, verify the Twitter credentials and log in to XMPP.\nExits 0 only if all is well.")
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path := *cfgPath
	cfg, _, err := loadConfig(e, path)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "config: ok")
	log, err := newLogger(cfg.Log, e.stderr, e.getenv)
	if err != nil {
		return configError(err)
	}
	defer func() { _ = log.Sync() }()

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	failed := 0

	tw, err := newTwitter(cfg.Twitter, log)
	if err != nil {
		return err
	}
	if acct, err := tw.Verify(ctx); err != nil {
		failed++
		fmt.Fprintf(e.stdout, "twitter: FAILED at %s: %v\n", cfg.Twitter.APIBase, err)
	} else {
		fmt.Fprintf(e.stdout, "twitter: ok, authenticated as @%s (id %d) at %s\n", acct.ScreenName, acct.ID, cfg.Twitter.APIBase)
	}

	xopts, err := renrenOptions(cfg.Renren, log)
	if err != nil {
		return err
	}
	xopts.Resource = cfg.Renren.Resource + "-check"
	if err := checkXMPP(ctx, xopts); err != nil {
		failed++
		hint := ""
		if errors.Is(err, renren.ErrAuth) {
			hint = " (check renren.password and renren.jid)"
		}
		fmt.Fprintf(e.stdout, "renren: FAILED: %v%s\n", err, hint)
	} else {
		fmt.Fprintf(e.stdout, "renren: ok, logged in as %s over verified TLS\n", cfg.Renren.JID)
	}
	if failed > 0 {
		return errors.New("check failed")
	}
	log.Debug("check passed", zap.String("jid", cfg.Renren.JID))
	return nil
}

func checkXMPP(ctx context.Context, opts renren.Options) error {
	s, err := renren.Dial(ctx, opts)
	if err != nil {
		return err
	}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close(ctx)
		return fmt.Errorf("ping: %w", err)
	}
	return s.Close(ctx)
}
