package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/renren/renrentest"
)

// The XMPP account of every demo, on the Renren-like test server.
const (
	demoJID      = "123456@talk.xiaonei.com"
	demoPassword = "demo-password"
)

// demoRig is what every demo shares: the Renren-like XMPP server, a
// temporary directory with its CA and the state, and the daemon run on
// the config a user would write for them.
type demoRig struct {
	xmpp *renrentest.Server
	dir  string
	env  env // the command's, but a demo is no service: it tells systemd nothing
}

// newDemoRig starts the XMPP server and makes the directory.
func newDemoRig(e *env) (*demoRig, error) {
	xmpp, err := renrentest.NewServer(renrentest.Options{Users: map[string]string{"123456": demoPassword}, FeedEvents: true, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("start demo XMPP server: %w", err)
	}
	dir, err := os.MkdirTemp("", "r2sync-demo-")
	if err != nil {
		xmpp.Close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), xmpp.CAPEM(), 0o600); err != nil {
		xmpp.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	d := &demoRig{xmpp: xmpp, dir: dir, env: *e}
	d.env.getenv = func(k string) string {
		if k == "NOTIFY_SOCKET" {
			return ""
		}
		return e.getenv(k)
	}
	return d, nil
}

func (d *demoRig) close() {
	d.xmpp.Close()
	os.RemoveAll(d.dir)
}

// config returns the defaults with what every demo sets: the XMPP
// account on the test server, the template, the state file and the log
// level. The caller adds its source.
func (d *demoRig) config(verbose bool) config.Config {
	cfg := config.Default()
	cfg.Renren.JID, cfg.Renren.Password = demoJID, config.Secret(demoPassword)
	cfg.Renren.Address, cfg.Renren.CAFile = d.xmpp.Addr(), filepath.Join(d.dir, "ca.pem")
	cfg.Renren.PingInterval.Duration = 30 * time.Second
	cfg.Sync.Template, cfg.Sync.MaxLength = "[r2] {{.Text}}", 140
	cfg.State.File = filepath.Join(d.dir, "state.json")
	cfg.Log.Level, cfg.Log.Format = "warn", "console"
	if verbose {
		cfg.Log.Level = "info"
	}
	return cfg
}

// run validates and wires cfg, calls before (the header, the posts made
// before r2sync starts), starts the daemon as `r2sync run` would and runs
// script until it returns or the mirror or its session ends; then it
// stops the daemon.
func (d *demoRig) run(ctx context.Context, cfg config.Config, before func(*wiring) error, script func(context.Context, *wiring) error) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	wired, err := wireConfig(&d.env, "demo config", cfg)
	if err != nil {
		return err
	}
	defer wired.close()
	if err := before(wired); err != nil {
		return err
	}
	r := &runner{e: &d.env, handler: &swapHandler{}}
	sessions, _ := r.openSessions(ctx, []*wiring{wired}, nil)
	g, err := r.start(ctx, []*wiring{wired}, sessions)
	if err != nil {
		_ = stopSessions(sessions)
		return err
	}
	sess := sessions[sessionKey(wired)]
	// The script ends early when the mirror or the session does.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-g.units[0].finished:
		case <-sess.finished:
		case <-sctx.Done():
		}
		cancel()
	}()
	err = script(sctx, wired)
	cancel()
	if serr := r.shutdown(g, sessions); err == nil && serr != nil && !errors.Is(serr, context.Canceled) {
		err = serr
	}
	return err
}
