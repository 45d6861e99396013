package twittertest

import "time"

// RateLimit is a request budget: Limit requests per Window.
type RateLimit struct {
	Limit int
	// Window is the length of the window, which starts with its first
	// request; 0 means 15 minutes.
	Window time.Duration
}

// appLimitFor is X's budget of an endpoint for all users of one app
// together, where it has one that a user-context client can run into: the
// daily cap on every request of an app to statuses/user_timeline (since
// 2019), and the per-app limits of the v2 timeline and of posting. X
// applies its per-app v2 limits to app-only (bearer) requests; the server
// counts user-context requests against them as well, as the stand-in
// for the budget of one app key that a daemon with many users must share.
// Zero Limit: no app budget.
func appLimitFor(endpoint string) RateLimit {
	switch endpoint {
	case "statuses/user_timeline":
		return RateLimit{Limit: 100_000, Window: 24 * time.Hour}
	case "2/users/:id/tweets":
		return RateLimit{Limit: 10_000, Window: window}
	case "2/tweets":
		return RateLimit{Limit: 10_000, Window: 24 * time.Hour}
	}
	return RateLimit{}
}

// userLimit is the per-user budget of endpoint: Options.UserLimits, else X's.
func (s *Server) userLimit(endpoint string) RateLimit {
	if l := s.opts.UserLimits[endpoint]; l.Limit > 0 {
		return l
	}
	return RateLimit{Limit: limitFor(endpoint), Window: window}
}

// appLimit is the app budget of endpoint: Options.AppLimits, else X's.
func (s *Server) appLimit(endpoint string) RateLimit {
	if l, ok := s.opts.AppLimits[endpoint]; ok {
		return l
	}
	return appLimitFor(endpoint)
}

// consume counts a request of user userID against its endpoint's window
// for that user and, if the endpoint has one, the app's window, and
// returns the tighter of the two (fewer requests left; on a tie the one
// that resets later), as the x-rate-limit-* headers report it. A request
// that either window has no room for is refused and counts against
// neither. userID 0 (no known access token, the login endpoints) counts
// as the user of Options, whose windows are kept under the bare endpoint
// name, as they were before the server had more users. The caller holds
// s.mu.
func (s *Server) consume(userID int64, endpoint string, now time.Time) (rateWindow, bool) {
	key := endpoint
	if userID != 0 && userID != s.opts.UserID {
		key = idStr(userID) + " " + endpoint
	}
	w := s.window(key, s.userLimit(endpoint), now)
	var app *rateWindow
	if l := s.appLimit(endpoint); l.Limit > 0 {
		app = s.window("app "+endpoint, l, now)
	}
	shown := w
	if app != nil && (app.remaining < w.remaining || app.remaining == w.remaining && app.reset.After(w.reset)) {
		shown = app
	}
	if w.remaining == 0 || app != nil && app.remaining == 0 {
		return *shown, true
	}
	w.remaining--
	if app != nil {
		app.remaining--
	}
	return *shown, false
}

// window returns the window kept under key, a new one of l when there is
// none or it has ended. The caller holds s.mu.
func (s *Server) window(key string, l RateLimit, now time.Time) *rateWindow {
	w := s.windows[key]
	if w == nil || !now.Before(w.reset) {
		d := l.Window
		if d <= 0 {
			d = window
		}
		w = &rateWindow{limit: l.Limit, remaining: l.Limit, reset: now.Add(d).Truncate(time.Second)}
		s.windows[key] = w
	}
	return w
}
