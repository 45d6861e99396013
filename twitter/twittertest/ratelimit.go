package twittertest

import "time"

// consume counts a request of user userID against its endpoint's window
// for that user. userID 0 (no known access token, the login endpoints)
// counts as the user of Options, whose windows are kept under the bare
// endpoint name, as they were before the server had more users. The
// caller holds s.mu.
func (s *Server) consume(userID int64, endpoint string, now time.Time) (rateWindow, bool) {
	key := endpoint
	if userID != 0 && userID != s.opts.UserID {
		key = idStr(userID) + " " + endpoint
	}
	w := s.windows[key]
	if w == nil || !now.Before(w.reset) {
		limit := limitFor(endpoint)
		w = &rateWindow{limit: limit, remaining: limit, reset: now.Add(window).Truncate(time.Second)}
		s.windows[key] = w
	}
	if w.remaining == 0 {
		return *w, true
	}
	w.remaining--
	return *w, false
}
