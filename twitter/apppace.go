package twitter

import "time"

// X limits the user-timeline endpoint per user token (900 reads per 15
// minutes, which one mirror polling at most every second cannot reach)
// and per app: all users of one consumer key share AppReadsPerWindow
// reads per AppWindow on v2. A thousand mirrors polling every minute need
// 15,000, and the app-wide 429s that follow hit every mirror at once.
const (
	// AppReadsPerWindow is the app-wide user-timeline budget of one
	// consumer key.
	AppReadsPerWindow = 10000
	// AppWindow is the rate-limit window.
	AppWindow = 15 * time.Minute
	// appReserve is the share of the budget the pacing leaves unused, for
	// retries, first-start Newest calls and other tools on the same key.
	appReserveNum, appReserveDen = 1, 10
)

// AppInterval returns the poll interval that keeps mirrors mirrors, all
// on one consumer key and each polling every interval, within nine tenths
// of the app budget: it stretches every mirror's interval evenly (to a
// whole second, rounded up) and reports whether it did. It never shortens
// interval.
func AppInterval(mirrors int, interval time.Duration) (time.Duration, bool) {
	if mirrors <= 0 {
		return interval, false
	}
	budget := int64(AppReadsPerWindow * (appReserveDen - appReserveNum) / appReserveDen)
	// Each mirror reads once per interval: mirrors × AppWindow/interval
	// reads per window ≤ budget ⇔ interval ≥ mirrors × AppWindow / budget.
	least := time.Duration((int64(mirrors)*int64(AppWindow) + budget - 1) / budget)
	if interval >= least {
		return interval, false
	}
	if r := least % time.Second; r != 0 {
		least += time.Second - r
	}
	return least, true
}
