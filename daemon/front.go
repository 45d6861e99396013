package daemon

import "context"

// loadFront is FrontStore.LoadFront, or Load cut down for a Store without
// it.
func (m *Mirror) loadFront(ctx context.Context, n int) (State, int, error) {
	if f, ok := m.cfg.Store.(FrontStore); ok {
		return f.LoadFront(ctx, n)
	}
	st, err := m.cfg.Store.Load(ctx)
	if err != nil {
		return State{}, 0, err
	}
	total := len(st.Pending)
	st.Pending = st.Pending[:min(n, total)]
	return st, total, nil
}

// updateFront is FrontStore.UpdateFront, or the same done with Update for
// a Store without it.
func (m *Mirror) updateFront(ctx context.Context, n int, fn func(*State) error) (State, int, error) {
	if f, ok := m.cfg.Store.(FrontStore); ok {
		return f.UpdateFront(ctx, n, fn)
	}
	st, err := m.cfg.Store.Update(ctx, func(s *State) error {
		w := min(n, len(s.Pending))
		window := make(map[string]bool, w)
		for _, p := range s.Pending[:w] {
			window[p.PostID] = true
		}
		rest := s.Pending[w:]
		s.Pending = append([]Status(nil), s.Pending[:w]...)
		if err := fn(s); err != nil {
			return err
		}
		// What fn kept of the window stays in front; what it added goes
		// to the back, behind what it did not see.
		var kept, added []Status
		for _, p := range s.Pending {
			if window[p.PostID] {
				kept = append(kept, p)
			} else {
				added = append(added, p)
			}
		}
		s.Pending = append(append(kept, rest...), added...)
		return nil
	})
	if err != nil {
		return State{}, 0, err
	}
	total := len(st.Pending)
	st.Pending = st.Pending[:min(n, total)]
	return st, total, nil
}
