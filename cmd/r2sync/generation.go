package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/renren"
	"github.com/r2sync/r2sync/shard"
	"go.uber.org/zap"
)

// Bounds of the waits at a stop or a reload. Each part gets what it needs
// on a good day plus a second; a part that takes longer is stuck where no
// context reaches, and waiting longer would not help.
const (
	// mirrorStopTimeout: the status in flight gets daemon.DefaultGrace.
	mirrorStopTimeout = daemon.DefaultGrace + time.Second
	// sessionStopTimeout: the session gets a second to say goodbye.
	sessionStopTimeout = 2 * time.Second
)

// errReload is the cause of a generation's end at a reload.
var errReload = errors.New("config reload")

// runner is one `r2sync run`. The run locks and the HTTP listener live as
// long as the process; everything built from the config lives in a
// generation, which a reload replaces.
type runner struct {
	e       *env
	cfgPath string
	shard   *shard.Shard // the mirrors this process runs; nil for all
	handler *swapHandler // the HTTP endpoints of the current monitors
	// locked names the mirrors whose state files this process holds: the
	// only ones a reload starts again.
	locked map[string]bool
	// sessEnded receives a session whose Run returned by itself.
	sessEnded chan *session
}

// generation is the mirrors of one config, with their monitors and the
// systemd notifier.
type generation struct {
	units    []*unit
	notifier *systemdNotifier // nil outside systemd
	cancel   context.CancelCauseFunc
	ended    chan *unit    // each unit, once its mirror has returned
	notified chan struct{} // closed when the notifier has returned
	alive    int           // units not yet received from ended
}

// unit is one mirror of a generation on its XMPP session.
type unit struct {
	w        *wiring
	mon      *health.Monitor
	sess     *session
	cancel   context.CancelCauseFunc
	finished chan struct{} // closed when the mirror has returned err
	err      error
	fail     error // why the runner stopped it (its session ended)
	dead     bool  // received from ended
}

// start builds a generation from ws on sessions (one per session key) and
// starts its mirrors. A mirror whose state cannot be loaded does not
// start; it is an error only when none starts.
func (r *runner) start(ctx context.Context, ws []*wiring, sessions map[string]*session) (*generation, error) {
	fitProcs(r.e.getenv, len(ws))
	reg := health.NewRegistry(health.RegistryOptions{Version: versionString()})
	for _, s := range sessions {
		s.events.use()
	}
	gctx, cancel := context.WithCancelCause(ctx)
	g := &generation{cancel: cancel, notified: make(chan struct{})}
	var lastErr error
	for _, w := range ws {
		st, err := w.store.Load(ctx)
		if err != nil {
			if len(ws) > 1 {
				w.log.Error("mirror not started", zap.Error(err))
			}
			lastErr = err
			continue
		}
		mon := reg.Mirror(w.name, health.Options{
			Source:       w.source,
			SourceName:   sourceKey(w.kind),
			PollInterval: w.pollInterval(),
			Kind:         sourceKindOf(w.kind),
			Account:      sourceAccount(w),
			XMPP:         w.cfg.Renren.JID,
		})
		mon.Restore(st)
		u := &unit{w: w, mon: mon, sess: sessions[sessionKey(w)], finished: make(chan struct{})}
		u.sess.events.add(mon)
		g.units = append(g.units, u)
	}
	if len(g.units) == 0 {
		cancel(nil)
		close(g.notified)
		return nil, lastErr
	}
	// READY=1 waits for the first mirror's session and every mirror's
	// first poll; STATUS= sums up all mirrors.
	// One mirror keeps its monitor's exact behaviour.
	first := g.units[0]
	var sum monitor = reg
	if len(g.units) == 1 {
		sum = first.mon
	}
	notifier, err := newSystemdNotifier(r.e.getenv, first.sess.conn.Ready(), sum, first.w.base)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	g.notifier = notifier
	go trimWhenReady(gctx, first.sess.conn.Ready(), sum.FirstPoll(), first.w.base)
	r.handler.set(endpoints(reg))
	g.ended = make(chan *unit, len(g.units))
	g.alive = len(g.units)
	for _, u := range g.units {
		mirror := u.w.newMirror(sentSink{xmppSink{Conn: u.sess.conn, events: u.sess.events}, u.mon.StatusSent}, u.mon)
		uctx, ucancel := context.WithCancelCause(gctx)
		u.cancel = ucancel
		go func() {
			defer func() { g.ended <- u }()
			defer close(u.finished)
			u.err = mirror.Run(uctx)
		}()
	}
	if notifier != nil {
		go func() {
			defer close(g.notified)
			_ = notifier.Run(gctx)
		}()
	} else {
		close(g.notified)
	}
	return g, nil
}

// stop ends the generation's mirrors still running with cause (nil for a
// shutdown) and waits for them: the status in flight finishes or gives up
// within daemon.DefaultGrace. It returns their errors, or one saying a
// mirror is stuck.
func (g *generation) stop(cause error) error {
	g.cancel(cause)
	t := time.NewTimer(mirrorStopTimeout)
	defer t.Stop()
	var errs []error
	for _, u := range g.units {
		if u.dead {
			continue
		}
		select {
		case <-u.finished:
			if u.err != nil && u.fail == nil {
				errs = append(errs, u.err)
			}
		case <-t.C:
			return fmt.Errorf("the mirror %s did not stop within %s", u.w.name, mirrorStopTimeout)
		}
	}
	<-g.notified // it only sends one datagram
	return errors.Join(errs...)
}

// stopped tells every monitor that its mirror has stopped.
func (g *generation) stopped() {
	for _, u := range g.units {
		u.mon.Stopped()
	}
}

// session is one renren.Conn and its Run, which may outlive a generation,
// shared by the mirrors on one XMPP account.
type session struct {
	w        *wiring // the first mirror's wiring, for its [renren] section
	conn     *renren.Conn
	events   *sessionEvents // to the current generation's monitors
	cancel   context.CancelFunc
	finished chan struct{} // closed when Run has returned err
	stopping chan struct{} // closed by stop
	stopOnce sync.Once
	err      error
}

// sessionKey is the XMPP account of w: mirrors with the same lowercased
// bare JID share one session (config makes their [renren] identical).
func sessionKey(w *wiring) string {
	jid, _, _ := strings.Cut(w.cfg.Renren.JID, "/")
	return strings.ToLower(jid)
}

// openSessions returns one session per XMPP account of ws, keeping those
// of old that configure the same session and stopping the others.
func (r *runner) openSessions(ctx context.Context, ws []*wiring, old map[string]*session) (map[string]*session, bool) {
	out := map[string]*session{}
	kept := true
	// A shared session's log lines name every mirror on it.
	names := map[string][]string{}
	for _, w := range ws {
		names[sessionKey(w)] = append(names[sessionKey(w)], w.name)
	}
	for _, w := range ws {
		k := sessionKey(w)
		if _, ok := out[k]; ok {
			continue
		}
		if s, ok := old[k]; ok && sameSession(s.w, w) {
			s.w = w
			out[k] = s
			continue
		}
		kept = false
		out[k] = r.newSession(ctx, w, names[k]...)
	}
	for k, s := range old {
		if out[k] != s {
			if err := s.stop(); err != nil {
				s.w.log.Warn("xmpp session not closed", zap.Error(err))
			}
		}
	}
	return out, kept
}

// stopSessions closes every session; it returns the first error.
func stopSessions(sessions map[string]*session) error {
	var first error
	for _, s := range sessions {
		if err := s.stop(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// newSession starts a Conn from w's [renren] section. It runs until
// stopped, not until ctx ends: at shutdown the mirrors finish the status
// in flight first, then the session says goodbye. A Run that returns by
// itself is reported on r.sessEnded.
func (r *runner) newSession(ctx context.Context, w *wiring, mirrors ...string) *session {
	events := &sessionEvents{}
	opts := w.xmpp
	opts.Events = events
	if len(mirrors) > 1 {
		opts.Logger = w.base.With(zap.String("mirror", strings.Join(mirrors, ",")))
	}
	conn := renren.NewConn(opts)
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &session{w: w, conn: conn, events: events, cancel: cancel, finished: make(chan struct{}), stopping: make(chan struct{})}
	go func() {
		defer close(s.finished)
		s.err = conn.Run(cctx)
	}()
	if r.sessEnded != nil {
		go func() {
			select {
			case <-s.finished:
				select {
				case r.sessEnded <- s:
				case <-s.stopping:
				}
			case <-s.stopping:
			}
		}()
	}
	return s
}

// stop closes the session (unavailable presence, stream close) and waits
// for it within sessionStopTimeout. A session that takes longer is left to
// finish alone, and its late events reach no monitor.
func (s *session) stop() error {
	s.stopOnce.Do(func() { close(s.stopping) })
	s.cancel()
	t := time.NewTimer(sessionStopTimeout)
	defer t.Stop()
	select {
	case <-s.finished:
		return nil
	case <-t.C:
		s.events.use()
		return fmt.Errorf("the xmpp session did not close within %s", sessionStopTimeout)
	}
}

// sameSession reports whether a and b configure the same XMPP session, so
// that a reload can keep it: a new login would send an unavailable
// presence and a new initial one, which Renren's contacts see.
func sameSession(a, b *wiring) bool {
	return a.cfg.Renren == b.cfg.Renren && a.cfg.Log == b.cfg.Log && bytes.Equal(a.caPEM, b.caPEM)
}

// sessionEvents feeds the XMPP session's events to the monitors of the
// mirrors on it. A reload that keeps the session hands it the new
// monitors, which then hear that the session is up. The session the Conn
// closes at shutdown is not an error.
type sessionEvents struct {
	mu   sync.Mutex
	mons []*health.Monitor
	up   bool
}

var _ renren.Events = (*sessionEvents)(nil)

// use makes mons hear the events from now on; none mutes them.
func (s *sessionEvents) use(mons ...*health.Monitor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mons = mons
	if s.up {
		for _, m := range mons {
			m.SessionUp()
		}
	}
}

// add makes m hear the events too.
func (s *sessionEvents) add(m *health.Monitor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mons = append(s.mons, m)
	if s.up {
		m.SessionUp()
	}
}

// isUp reports whether the session is up now.
func (s *sessionEvents) isUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up
}

func (s *sessionEvents) SessionUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up = true
	for _, m := range s.mons {
		m.SessionUp()
	}
}

func (s *sessionEvents) SessionDown(err error) {
	if errors.Is(err, renren.ErrClosed) {
		err = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up = false
	for _, m := range s.mons {
		m.SessionDown(err)
	}
}

func (s *sessionEvents) FeedEvent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.mons {
		m.FeedEvent()
	}
}

// swapHandler serves the current monitor's endpoints on the listener that
// outlives reloads.
type swapHandler struct {
	h atomic.Pointer[http.Handler]
}

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := s.h.Load()
	if h == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}
