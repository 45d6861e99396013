package health

import (
	"maps"
	"time"
)

// Hours is how many hourly delivery counters a Monitor keeps: a day's.
const Hours = 24

// MirrorStatus is what a status page shows of one mirror, taken at one
// moment.
type MirrorStatus struct {
	// Name is the mirror's name.
	Name string
	// Source is the source's kind ("twitter", "mastodon", "bluesky") and
	// SourceAccount the account it reads, as Options gave them.
	Source, SourceAccount string
	// XMPPAccount is the JID whose status the mirror sets.
	XMPPAccount string
	// SessionUp tells whether the XMPP session is up, since SessionSince
	// (the last change, or the Monitor's start before any).
	SessionUp    bool
	SessionSince time.Time
	// LastStatus is the text of the last status sent, at LastStatusAt;
	// empty and zero before the first since start (LastStatusAt may
	// come from the state file alone).
	LastStatus   string
	LastStatusAt time.Time
	// Mirrored counts statuses over the life of the state file.
	Mirrored int64
	// Pending counts statuses waiting for delivery.
	Pending int
	// Skipped counts posts not mirrored since start, by reason; reasons
	// with none are left out.
	Skipped map[string]uint64
	// LastError is the last error of any operation, on one line, at
	// LastErrorAt; empty before the first.
	LastError   string
	LastErrorAt time.Time
	// Live and Ready are "" when the mirror is live / ready, else why not.
	Live, Ready string
	// Hourly counts deliveries per hour, oldest first: Hourly[Hours-1] is
	// the hour that began at HourStart, Hourly[0] began Hours-1 hours
	// earlier.
	Hourly    [Hours]uint32
	HourStart time.Time
}

// maxErrorText bounds LastError.
const maxErrorText = 300

// noteError records err as the mirror's last error. Callers hold m.mu.
func (m *Monitor) noteError(op string, err error, now time.Time) {
	m.lastErr = op + ": " + oneLine(err.Error(), maxErrorText)
	m.lastErrAt = now
}

// countDelivery adds one delivery at now to the hourly counters. Callers
// hold m.mu.
func (m *Monitor) countDelivery(now time.Time) {
	h := now.Unix() / 3600
	m.advanceHours(h)
	m.hourly[h%Hours]++
}

// advanceHours moves the newest hour to h, zeroing the hours skipped
// over. Callers hold m.mu.
func (m *Monitor) advanceHours(h int64) {
	if h <= m.hour {
		return
	}
	if h-m.hour >= Hours {
		m.hourly = [Hours]uint32{}
	} else {
		for x := m.hour + 1; x <= h; x++ {
			m.hourly[x%Hours] = 0
		}
	}
	m.hour = h
}

// StatusSent records the text of a status the XMPP server received; the
// mirror's sink calls it, as the daemon's Observer hears only post ids.
func (m *Monitor) StatusSent(text string) {
	now := m.now()
	m.mu.Lock()
	m.lastStatus = text
	m.lastStatusAt = now
	m.mu.Unlock()
}

// Status returns the mirror's row for a status page.
func (m *Monitor) Status() MirrorStatus {
	now := m.now()
	skipped := map[string]uint64{}
	m.m.mu.Lock()
	for reason, c := range m.m.skipped {
		if n := c.Get(); n > 0 {
			skipped[reason] = n
		}
	}
	m.m.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	h := now.Unix() / 3600
	m.advanceHours(h)
	st := MirrorStatus{
		Name:          m.opts.Mirror,
		Source:        m.opts.Kind,
		SourceAccount: m.opts.Account,
		XMPPAccount:   m.opts.XMPP,
		SessionUp:     m.sessionUp,
		SessionSince:  m.sessionSince,
		LastStatus:    m.lastStatus,
		LastStatusAt:  m.lastStatusAt,
		Mirrored:      m.mirrored,
		Pending:       m.pending,
		Skipped:       maps.Clone(skipped),
		LastError:     m.lastErr,
		LastErrorAt:   m.lastErrAt,
		HourStart:     time.Unix(h*3600, 0).UTC(),
	}
	if st.LastStatusAt.IsZero() {
		st.LastStatusAt = m.lastMirrored
	}
	if err := m.liveLocked(now); err != nil {
		st.Live = err.Error()
	}
	if err := m.readyLocked(now); err != nil {
		st.Ready = oneLine(err.Error(), maxErrorText)
	}
	for i := range Hours {
		if x := h - int64(Hours-1-i); x > h-Hours && x >= 0 {
			st.Hourly[i] = m.hourly[x%Hours]
		}
	}
	return st
}

// Statuses returns every mirror's row, sorted by name.
func (r *Registry) Statuses() []MirrorStatus {
	ms := r.monitors()
	out := make([]MirrorStatus, len(ms))
	for i, m := range ms {
		out[i] = m.Status()
	}
	return out
}
