package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "run", "[--config FILE]", "Mirror new tweets to the XMPP status until SIGTERM or SIGINT.\nSIGHUP reloads the config file.")
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	w, err := wire(e, *cfgPath)
	if err != nil {
		return err
	}
	// One daemon per state file, for its whole life: two would each
	// deliver the same pending status.
	lock, err := w.store.LockRun()
	if err != nil {
		w.close()
		return stateError(err)
	}
	defer lock.Unlock()
	// A state that cannot be saved, or a corrupt one, stops us before we
	// connect anywhere.
	if err := w.store.CheckWritable(); err != nil {
		w.close()
		return stateError(err)
	}
	if _, err := w.store.Load(ctx); err != nil {
		w.close()
		return stateError(err)
	}

	r := &runner{e: e, cfgPath: *cfgPath, handler: &swapHandler{}}
	// Bind before connecting anywhere: a taken port is a startup error.
	srv, err := newHTTPServer(w.cfg.HTTP, r.handler, w.log)
	if err != nil {
		w.close()
		return err
	}
	// The listener outlives reloads; it stops with the process, also when
	// a generation fails without a signal.
	httpCtx, stopHTTP := context.WithCancel(ctx)
	defer stopHTTP()
	httpDone := make(chan error, 1)
	if srv != nil {
		go func() { httpDone <- srv.Run(httpCtx) }()
	} else {
		httpDone <- nil
	}

	w, err = r.loop(ctx, w)
	defer w.close()
	stopHTTP()
	if herr := <-httpDone; err == nil && herr != nil {
		err = herr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		w.log.Error("r2sync stopped", zap.Error(err))
		return err
	}
	w.log.Info("r2sync stopped")
	return nil
}

// loop runs generations of the daemon, one per config, until ctx ends or
// one fails. It returns the wiring in use at the end.
func (r *runner) loop(ctx context.Context, w *wiring) (*wiring, error) {
	sess := r.newSession(ctx, w)
	g, err := r.start(ctx, w, sess)
	if err != nil {
		_ = sess.stop()
		return w, err
	}
	logSettings(w, g, "r2sync starting")
	for {
		select {
		case <-ctx.Done():
			return w, r.shutdown(g, sess)
		case <-sess.finished:
			// Run returns early only for invalid options; the config
			// checks should have caught them.
			_ = g.stop(nil)
			if sess.err == nil {
				sess.err = errors.New("xmpp connection ended")
			}
			return w, configError(fmt.Errorf("renren: %w", sess.err))
		case <-g.finished:
			if g.err == nil { // ctx ended meanwhile
				return w, r.shutdown(g, sess)
			}
			g.mon.Stopped()
			_ = sess.stop()
			return w, stateError(fmt.Errorf("mirror: %w", g.err))
		case <-r.e.reload:
			ng, nw, sessNext, err := r.reload(ctx, w, g, sess)
			if err != nil {
				return w, err
			}
			g, w, sess = ng, nw, sessNext
		}
	}
}

// reload replaces generation g (built from w) with one built from the
// config file as it is now. An invalid config is logged in one line and
// the running generation stays. Otherwise g stops as at shutdown (its
// status in flight finishes, its state is saved) and the new one starts
// from the state it left; the XMPP session is kept when [renren] and
// [log] did not change. It returns an error only when g would not stop.
func (r *runner) reload(ctx context.Context, w *wiring, g *generation, sess *session) (*generation, *wiring, *session, error) {
	began := time.Now()
	// Reading the file may block where no context reaches (a FIFO, a hung
	// mount): a SIGTERM meanwhile must still stop the running generation.
	type loaded struct {
		w   *wiring
		err error
	}
	res := make(chan loaded, 1)
	go func() {
		nw, err := r.reloadWiring(w)
		res <- loaded{nw, err}
	}()
	var nw *wiring
	var err error
	select {
	case l := <-res:
		nw, err = l.w, l.err
	case <-ctx.Done():
		return g, w, sess, nil
	}
	if err != nil {
		w.log.Error("config not reloaded; the running config stays", zap.Error(err))
		return g, w, sess, nil
	}
	keep := sameSession(w, nw)
	if err := g.stop(errReload); err != nil {
		nw.close()
		_ = sess.stop()
		return nil, w, nil, fmt.Errorf("reload: %w; exiting so that the service manager starts r2sync with the new config", err)
	}
	if !keep {
		if err := sess.stop(); err != nil {
			w.log.Warn("xmpp session not closed", zap.Error(err))
		}
		sess = r.newSession(ctx, nw)
	}
	w.close()
	ng, err := r.start(ctx, nw, sess)
	if err != nil {
		_ = sess.stop()
		return nil, nw, nil, err
	}
	logSettings(nw, ng, "config reloaded",
		zap.Bool("xmpp_session_kept", keep),
		zap.Duration("took", time.Since(began)))
	return ng, nw, sess, nil
}

// reloadWiring reads the config file again. A change that needs a restart
// makes it invalid: the run lock and the HTTP listener belong to the
// process, not to one config.
func (r *runner) reloadWiring(old *wiring) (*wiring, error) {
	nw, err := wire(r.e, r.cfgPath)
	if err != nil {
		return nil, err
	}
	path := configPath(r.e, r.cfgPath)
	for _, c := range []struct{ key, was, now string }{
		{"state.file", old.cfg.State.File, nw.cfg.State.File},
		{"http.listen", old.cfg.HTTP.Listen, nw.cfg.HTTP.Listen},
	} {
		if c.was != c.now {
			nw.close()
			return nil, configError(fmt.Errorf("%s: %s: changed from %q to %q, which needs a restart of r2sync", path, c.key, c.was, c.now))
		}
	}
	return nw, nil
}

// shutdown stops g, then the session: the status in flight finishes before
// the session says goodbye.
func (r *runner) shutdown(g *generation, sess *session) error {
	err := g.stop(nil)
	g.mon.Stopped()
	if serr := sess.stop(); err == nil {
		err = serr
	}
	return err
}

// logSettings logs msg with what the daemon runs with.
func logSettings(w *wiring, g *generation, msg string, fields ...zap.Field) {
	cfg, tw := w.cfg, w.twitter
	w.log.Info(msg, append([]zap.Field{
		zap.String("version", versionString()),
		zap.String("jid", cfg.Renren.JID),
		zap.String("api", tw.API()),
		zap.String("api_base", tw.APIBase()),
		zap.String("state_file", cfg.State.File),
		zap.String("http_listen", cfg.HTTP.Listen),
		zap.Bool("systemd", g.notifier != nil),
		zap.Duration("poll_interval", cfg.Twitter.PollInterval.Duration),
	}, fields...)...)
}
