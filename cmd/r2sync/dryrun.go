package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// dryRunSink is the sink of `run --dry-run`: it logs the status it would
// set and sends nothing. It cleans text as the XMPP sink does, so that
// the logged status is the one a real run would send.
type dryRunSink struct{ log *zap.Logger }

// SetStatus implements daemon.Sink.
func (s dryRunSink) SetStatus(_ context.Context, text string) error {
	s.log.Info("would set status", zap.String("status", text))
	return nil
}

// Sanitize implements daemon.Sanitizer.
func (dryRunSink) Sanitize(text string) string { return xmppSanitize(text) }

// memStore is the store of `run --dry-run`: the state file's content at
// start (or nothing), then kept in memory only, so that the file is
// neither created nor changed.
type memStore struct {
	mu sync.Mutex
	st daemon.State
}

var _ daemon.Store = (*memStore)(nil)

// loadMemStore reads the state file at path, when there is one, without
// writing anything (a reader creates no lock file), into a memStore.
func loadMemStore(ctx context.Context, path string) (*memStore, error) {
	store := statefile.New(path)
	defer store.Close()
	st, err := store.Load(ctx)
	if err != nil {
		return nil, err
	}
	return &memStore{st: cloneState(st)}, nil
}

// Load implements daemon.Store.
func (s *memStore) Load(context.Context) (daemon.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneState(s.st), nil
}

// Update implements daemon.Store: fn works on a copy, kept only when it
// succeeds, as a failed update of a file store keeps nothing.
func (s *memStore) Update(_ context.Context, fn func(*daemon.State) error) (daemon.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := cloneState(s.st)
	if err := fn(&next); err != nil {
		return cloneState(s.st), err
	}
	s.st = next
	return cloneState(next), nil
}

// cloneState copies st deeply enough that no change through the copy
// reaches st.
func cloneState(st daemon.State) daemon.State {
	st.Cursors = maps.Clone(st.Cursors)
	st.Pending = slices.Clone(st.Pending)
	st.Posted = slices.Clone(st.Posted)
	if st.LastMirrored != nil {
		d := *st.LastMirrored
		st.LastMirrored = &d
	}
	return st
}

// runDry is `run --dry-run`: every mirror of ws polls as usual, with its
// filters, template and max_per_hour, but logs the statuses it would set
// instead of logging in anywhere, and keeps its state in memory. No HTTP
// endpoint, no systemd notification, no reload: it is a tuning aid, not
// a service.
func runDry(ctx context.Context, ws []*wiring) error {
	defer closeAll(ws)
	g, gctx := errgroup.WithContext(ctx)
	for _, w := range ws {
		store, err := loadMemStore(ctx, w.cfg.State.File)
		if err != nil {
			return stateError(fmt.Errorf("mirror %q: %w", w.name, err))
		}
		m := w.newMirrorOn(store, dryRunSink{log: w.log.Named("dry-run")}, nil)
		w.log.Info("r2sync starting a dry run: statuses are logged, not sent; the state file is not written",
			zap.String("version", versionString()), zap.String("state_file", w.cfg.State.File))
		g.Go(func() error {
			if err := m.Run(gctx); err != nil {
				return fmt.Errorf("mirror %q: %w", w.name, err)
			}
			return nil
		})
	}
	err := g.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		ws[0].base.Error("r2sync dry run stopped", zap.Error(err))
		return stateError(err)
	}
	ws[0].base.Info("r2sync dry run stopped")
	return nil
}
