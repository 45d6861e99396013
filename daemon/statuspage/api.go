package statuspage

import (
	"time"

	"github.com/r2sync/r2sync/daemon/health"
)

// API is the body of GET /api/mirrors (documented in the README).
type API struct {
	// GeneratedAt is when the answer was made.
	GeneratedAt time.Time `json:"generated_at"`
	// Mirrors holds one entry per mirror, sorted by name.
	Mirrors []Mirror `json:"mirrors"`
}

// Mirror is one mirror in API.
type Mirror struct {
	Name   string `json:"name"`
	Source struct {
		Kind    string `json:"kind"`
		Account string `json:"account"`
	} `json:"source"`
	XMPP struct {
		Account string `json:"account"`
		// Session is "up" or "down", since Since.
		Session string    `json:"session"`
		Since   time.Time `json:"since"`
	} `json:"xmpp"`
	// LastStatus is null before the first status.
	LastStatus *Timed `json:"last_status"`
	Mirrored   int64  `json:"mirrored"`
	Pending    int    `json:"pending"`
	// Skipped counts posts not mirrored since start, by reason.
	Skipped map[string]uint64 `json:"skipped"`
	// LastError is null before the first error.
	LastError *Timed `json:"last_error"`
	Live      bool   `json:"live"`
	Ready     bool   `json:"ready"`
	// NotReady says why the mirror is not ready; "" when it is.
	NotReady string `json:"not_ready,omitempty"`
	// Hourly counts deliveries per hour over the last 24, oldest first;
	// the last began at HourlyEnd minus one hour.
	Hourly    []uint32  `json:"hourly"`
	HourlyEnd time.Time `json:"hourly_end"`
}

// Timed is a text and when it happened.
type Timed struct {
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

func newAPI(rows []health.MirrorStatus, now time.Time) API {
	out := API{GeneratedAt: now.UTC(), Mirrors: make([]Mirror, 0, len(rows))}
	for _, r := range rows {
		var m Mirror
		m.Name = r.Name
		m.Source.Kind, m.Source.Account = r.Source, r.SourceAccount
		m.XMPP.Account, m.XMPP.Since = r.XMPPAccount, r.SessionSince.UTC()
		m.XMPP.Session = "down"
		if r.SessionUp {
			m.XMPP.Session = "up"
		}
		if !r.LastStatusAt.IsZero() {
			m.LastStatus = &Timed{Text: r.LastStatus, At: r.LastStatusAt.UTC()}
		}
		if r.LastError != "" {
			m.LastError = &Timed{Text: r.LastError, At: r.LastErrorAt.UTC()}
		}
		m.Mirrored, m.Pending, m.Skipped = r.Mirrored, r.Pending, r.Skipped
		if m.Skipped == nil {
			m.Skipped = map[string]uint64{}
		}
		m.Live, m.Ready, m.NotReady = r.Live == "", r.Ready == "", r.Ready
		m.Hourly = r.Hourly[:]
		m.HourlyEnd = r.HourStart.Add(time.Hour).UTC()
		out.Mirrors = append(out.Mirrors, m)
	}
	return out
}
