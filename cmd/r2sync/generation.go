package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/renren"
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

// runner is one `r2sync run`. The run lock and the HTTP listener live as
// long as the process; everything built from the config lives in a
// generation, which a reload replaces.
type runner struct {
	e       *env
	cfgPath string
	handler *swapHandler // the HTTP endpoints of the current monitor
}

// generation is the mirror of one config, with its monitor and systemd
// notifier.
type generation struct {
	mon      *health.Monitor
	notifier *systemdNotifier // nil outside systemd
	cancel   context.CancelCauseFunc
	finished chan struct{} // closed when the mirror has returned err
	err      error
	notified chan struct{} // closed when the notifier has returned
}

// start builds a generation from w on sess and starts its mirror.
func (r *runner) start(ctx context.Context, w *wiring, sess *session) (*generation, error) {
	st, err := w.store.Load(ctx)
	if err != nil {
		return nil, err
	}
	cfg, tw := w.cfg, w.twitter
	mon := health.New(health.Options{
		Mirror:       mirrorName,
		Source:       tw,
		SourceName:   sourceName,
		PollInterval: cfg.Twitter.PollInterval.Duration,
		Version:      versionString(),
	})
	mon.Restore(st)
	notifier, err := newSystemdNotifier(r.e.getenv, sess.conn.Ready(), mon, w.log)
	if err != nil {
		return nil, err
	}
	sess.events.use(mon)
	r.handler.set(mon.Handler())
	mirror := w.newMirror(xmppSink{sess.conn}, mon)
	gctx, cancel := context.WithCancelCause(ctx)
	g := &generation{mon: mon, notifier: notifier, cancel: cancel, finished: make(chan struct{}), notified: make(chan struct{})}
	go func() {
		defer close(g.finished)
		g.err = mirror.Run(gctx)
	}()
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

// stop ends the generation's mirror with cause (nil for a shutdown) and
// waits for it: the status in flight finishes or gives up within
// daemon.DefaultGrace. It returns the mirror's error, or one saying the
// mirror is stuck.
func (g *generation) stop(cause error) error {
	g.cancel(cause)
	t := time.NewTimer(mirrorStopTimeout)
	defer t.Stop()
	select {
	case <-g.finished:
	case <-t.C:
		return fmt.Errorf("the mirror did not stop within %s", mirrorStopTimeout)
	}
	<-g.notified // it only sends one datagram
	return g.err
}

// session is one renren.Conn and its Run, which may outlive a generation.
type session struct {
	conn     *renren.Conn
	events   *sessionEvents // to the current generation's monitor
	cancel   context.CancelFunc
	finished chan struct{} // closed when Run has returned err
	err      error
}

// newSession starts a Conn from w's [renren] section. It runs until
// stopped, not until ctx ends: at shutdown the mirror finishes the status
// in flight first, then the session says goodbye.
func (r *runner) newSession(ctx context.Context, w *wiring) *session {
	events := &sessionEvents{}
	opts := w.xmpp
	opts.Events = events
	conn := renren.NewConn(opts)
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &session{conn: conn, events: events, cancel: cancel, finished: make(chan struct{})}
	go func() {
		defer close(s.finished)
		s.err = conn.Run(cctx)
	}()
	return s
}

// stop closes the session (unavailable presence, stream close) and waits
// for it within sessionStopTimeout. A session that takes longer is left to
// finish alone, and its late events reach no monitor.
func (s *session) stop() error {
	s.cancel()
	t := time.NewTimer(sessionStopTimeout)
	defer t.Stop()
	select {
	case <-s.finished:
		return nil
	case <-t.C:
		s.events.use(nil)
		return fmt.Errorf("the xmpp session did not close within %s", sessionStopTimeout)
	}
}

// sameSession reports whether a and b configure the same XMPP session, so
// that a reload can keep it: a new login would send an unavailable
// presence and a new initial one, which Renren's contacts see.
func sameSession(a, b *wiring) bool {
	return a.cfg.Renren == b.cfg.Renren && a.cfg.Log == b.cfg.Log && bytes.Equal(a.caPEM, b.caPEM)
}

// sessionEvents feeds the XMPP session's events to the current monitor. A
// reload that keeps the session hands it the new monitor, which then
// hears that the session is up. The session the Conn closes at shutdown is
// not an error.
type sessionEvents struct {
	mu  sync.Mutex
	mon *health.Monitor
	up  bool
}

var _ renren.Events = (*sessionEvents)(nil)

// use makes m hear the events from now on; nil mutes them.
func (s *sessionEvents) use(m *health.Monitor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mon = m
	if s.up && m != nil {
		m.SessionUp()
	}
}

func (s *sessionEvents) SessionUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up = true
	if s.mon != nil {
		s.mon.SessionUp()
	}
}

func (s *sessionEvents) SessionDown(err error) {
	if errors.Is(err, renren.ErrClosed) {
		err = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up = false
	if s.mon != nil {
		s.mon.SessionDown(err)
	}
}

func (s *sessionEvents) FeedEvent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mon != nil {
		s.mon.FeedEvent()
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
