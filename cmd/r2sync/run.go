package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon/statefile"
)

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "run", "[--config FILE] [--dry-run] [--shard I/N]", "Mirror new tweets to the XMPP status until SIGTERM or SIGINT.\nSIGHUP reloads the config file.")
	cfgPath := configFlag(fs)
	shardSpec, shardCount := shardFlags(fs)
	dryRun := fs.Bool("dry-run", false, "log each status instead of setting it: no XMPP login, and the state file is neither created nor changed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sh, err := resolveShard(e, *shardSpec, *shardCount)
	if err != nil {
		return err
	}
	all, err := wireMirrors(e, *cfgPath)
	if err != nil {
		return err
	}
	base, httpCfg, total := all[0].base, all[0].cfg.HTTP, len(all)
	if all = ownMirrors(all, sh); sh != nil {
		base.Info("running one shard of the mirrors", zap.Stringer("shard", sh), zap.Int("mirrors", len(all)), zap.Int("of_mirrors", total))
	}
	if *dryRun && len(all) > 0 {
		return runDry(ctx, all)
	}
	if len(all) == 0 {
		defer func() { _ = base.Sync() }()
		if *dryRun {
			return nil
		}
		return idleShard(ctx, httpCfg, base, sh)
	}
	logArrivals(all, sh)
	r := &runner{e: e, cfgPath: *cfgPath, shard: sh, handler: &swapHandler{}, locked: map[string]bool{}, sessEnded: make(chan *session)}
	// One daemon per state file, for its whole life: two would each
	// deliver the same pending status. A state that cannot be saved, or
	// a corrupt one, stops its mirror before it connects anywhere; the
	// other mirrors start.
	var ws []*wiring
	var lastErr error
	for _, w := range all {
		lock, err := lockState(ctx, w.store)
		if err != nil {
			if len(all) == 1 {
				closeAll(all)
				return err
			}
			w.log.Error("mirror not started", zap.Error(err))
			lastErr = err
			continue
		}
		defer lock.Unlock()
		r.locked[w.name] = true
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		base.Error("r2sync stopped: no mirror could start")
		closeAll(all)
		return lastErr
	}

	// Bind before connecting anywhere: a taken port is a startup error.
	srv, err := newHTTPServer(ws[0].cfg.HTTP, r.handler, base)
	if err != nil {
		closeAll(all)
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

	ws, err = r.loop(ctx, ws)
	defer closeAll(ws)
	stopHTTP()
	if herr := <-httpDone; err == nil && herr != nil {
		err = herr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		base.Error("r2sync stopped", zap.Error(err))
		return err
	}
	base.Info("r2sync stopped")
	return nil
}

// lockState takes store's run lock and checks that its state can be
// written and read. The error has its exit status.
func lockState(ctx context.Context, store *statefile.Store) (*statefile.RunLock, error) {
	lock, err := store.LockRun()
	if err != nil {
		return nil, stateError(err)
	}
	if err := store.CheckWritable(); err != nil {
		lock.Unlock()
		return nil, stateError(err)
	}
	if _, err := store.Load(ctx); err != nil {
		lock.Unlock()
		return nil, stateError(err)
	}
	return lock, nil
}

// loop runs generations of the daemon, one per config, until ctx ends or
// every mirror has failed. A mirror that fails is logged with its name
// and stops alone. It returns the wirings in use at the end; the error is
// the last failed mirror's, when all failed.
func (r *runner) loop(ctx context.Context, ws []*wiring) ([]*wiring, error) {
	sessions, _ := r.openSessions(ctx, ws, nil)
	g, err := r.start(ctx, ws, sessions)
	if err != nil {
		_ = stopSessions(sessions)
		return ws, stateError(err)
	}
	for _, u := range g.units {
		logSettings(u.w, g, "r2sync starting")
	}
	for {
		select {
		case <-ctx.Done():
			return ws, r.shutdown(g, sessions)
		case s := <-r.sessEnded:
			// Run returns early only for invalid options; the config
			// checks should have caught them.
			err := s.err
			if err == nil {
				err = errors.New("xmpp connection ended")
			}
			for _, u := range g.units {
				if u.sess == s && !u.dead {
					u.fail = configError(fmt.Errorf("renren: %w", err))
					u.cancel(u.fail)
				}
			}
		case u := <-g.ended:
			u.dead = true
			g.alive--
			err := u.fail
			if err == nil && u.err != nil {
				err = stateError(fmt.Errorf("mirror: %w", u.err))
			}
			if err == nil {
				if ctx.Err() != nil {
					return ws, r.shutdown(g, sessions)
				}
				err = errors.New("mirror: ended")
			}
			u.mon.Stopped()
			if g.alive == 0 {
				g.cancel(nil)
				<-g.notified
				_ = stopSessions(sessions)
				return ws, err
			}
			u.w.log.Error("mirror stopped; the other mirrors go on", zap.Error(err))
		case <-r.e.reload:
			ng, nws, nsess, err := r.reload(ctx, ws, g, sessions)
			if err != nil {
				return ws, err
			}
			g, ws, sessions = ng, nws, nsess
		}
	}
}

// reload replaces generation g (built from ws) with one built from the
// config file as it is now. An invalid config is logged in one line and
// the running generation stays. Otherwise g stops as at shutdown (the
// statuses in flight finish, the states are saved) and the new one starts
// from the states it left; an XMPP session is kept when its [renren] and
// [log] did not change. It returns an error only when g would not stop.
func (r *runner) reload(ctx context.Context, ws []*wiring, g *generation, sessions map[string]*session) (*generation, []*wiring, map[string]*session, error) {
	began := time.Now()
	log := ws[0].base
	// Reading the file may block where no context reaches (a FIFO, a hung
	// mount): a SIGTERM meanwhile must still stop the running generation.
	type loaded struct {
		ws  []*wiring
		err error
	}
	res := make(chan loaded, 1)
	go func() {
		nws, err := r.reloadWirings(ws)
		res <- loaded{nws, err}
	}()
	var nws []*wiring
	var err error
	select {
	case l := <-res:
		nws, err = l.ws, l.err
	case <-ctx.Done():
		return g, ws, sessions, nil
	}
	if err != nil {
		log.Error("config not reloaded; the running config stays", zap.Error(err))
		return g, ws, sessions, nil
	}
	if err := g.stop(errReload); err != nil {
		closeAll(nws)
		_ = stopSessions(sessions)
		return nil, ws, nil, fmt.Errorf("reload: %w; exiting so that the service manager starts r2sync with the new config", err)
	}
	g.stopped()
	nsess, kept := r.openSessions(ctx, nws, sessions)
	closeAll(ws)
	ng, err := r.start(ctx, nws, nsess)
	if err != nil {
		_ = stopSessions(nsess)
		return nil, nws, nil, stateError(err)
	}
	for _, u := range ng.units {
		logSettings(u.w, ng, "config reloaded",
			zap.Bool("xmpp_session_kept", kept),
			zap.Duration("took", time.Since(began)))
	}
	return ng, nws, nsess, nil
}

// reloadWirings reads the config file again and wires the mirrors this
// process holds the state of. A change that needs a restart makes it
// invalid: the run locks and the HTTP listener belong to the process, not
// to one config.
func (r *runner) reloadWirings(old []*wiring) ([]*wiring, error) {
	all, err := wireMirrors(r.e, r.cfgPath)
	if err != nil {
		return nil, err
	}
	path := configPath(r.e, r.cfgPath)
	fail := func(err error) ([]*wiring, error) {
		closeAll(all)
		return nil, configError(err)
	}
	if was, now := old[0].cfg.HTTP.Listen, all[0].cfg.HTTP.Listen; was != now {
		return fail(fmt.Errorf("%s: http.listen: changed from %q to %q, which needs a restart of r2sync", path, was, now))
	}
	if was, now := old[0].cfg.HTTP.Token, all[0].cfg.HTTP.Token; was != now {
		return fail(fmt.Errorf("%s: http.token_file: the token changed, which needs a restart of r2sync", path))
	}
	// The shard's mirrors only; the others' run locks are not ours.
	all = ownMirrors(all, r.shard)
	if len(all) == 1 && len(old) == 1 && all[0].name == old[0].name {
		if was, now := old[0].cfg.State.File, all[0].cfg.State.File; was != now {
			return fail(fmt.Errorf("%s: state.file: changed from %q to %q, which needs a restart of r2sync", path, was, now))
		}
		return all, nil
	}
	files := map[string]string{}
	for _, w := range old {
		files[w.name] = w.cfg.State.File
	}
	var ws []*wiring
	var names []string
	for _, w := range all {
		names = append(names, w.name)
		if !r.locked[w.name] {
			continue
		}
		if files[w.name] != w.cfg.State.File {
			return fail(fmt.Errorf("%s: mirror %q: state file changed from %q to %q, which needs a restart of r2sync", path, w.name, files[w.name], w.cfg.State.File))
		}
		ws = append(ws, w)
	}
	for name := range r.locked {
		if !slices.Contains(names, name) {
			return fail(fmt.Errorf("%s: mirror %q removed, which needs a restart of r2sync", path, name))
		}
	}
	if len(names) != len(r.locked) {
		return fail(fmt.Errorf("%s: a mirror added, which needs a restart of r2sync", path))
	}
	return ws, nil
}

// shutdown stops g, then the sessions: the statuses in flight finish
// before the sessions say goodbye.
func (r *runner) shutdown(g *generation, sessions map[string]*session) error {
	err := g.stop(nil)
	g.stopped()
	if serr := stopSessions(sessions); err == nil {
		err = serr
	}
	return err
}

// logSettings logs msg with what a mirror runs with.
func logSettings(w *wiring, g *generation, msg string, fields ...zap.Field) {
	cfg := w.cfg
	source := []zap.Field{zap.String("source", sourceKindOf(w.kind))}
	if tw := w.twitter; tw != nil {
		source = append(source, zap.String("api", tw.API()), zap.String("api_base", tw.APIBase()))
	}
	w.log.Info(msg, append(append([]zap.Field{
		zap.String("version", versionString()),
		zap.String("jid", cfg.Renren.JID)}, source...),
		append([]zap.Field{
			zap.String("state_file", cfg.State.File),
			zap.String("http_listen", cfg.HTTP.Listen),
			zap.Bool("systemd", g.notifier != nil),
			zap.Duration("poll_interval", w.pollInterval()),
		}, fields...)...)...)
}
