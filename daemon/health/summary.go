package health

import (
	"fmt"
	"strings"
	"time"
)

// Summary is the one line systemd shows as the service's STATUS=, e.g.
// "connected; 12 mirrored; last status 3m ago; 1 pending".
func (m *Monitor) Summary() string {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var parts []string
	switch {
	case m.sessionUp:
		parts = append(parts, "connected")
	case m.sessions == 0:
		parts = append(parts, "connecting to XMPP")
	default:
		parts = append(parts, "XMPP down, reconnecting")
	}
	if m.mirrored == 0 {
		parts = append(parts, "none mirrored yet")
	} else {
		p := fmt.Sprintf("%d mirrored", m.mirrored)
		if !m.lastMirrored.IsZero() {
			p += "; last status " + Ago(now.Sub(m.lastMirrored))
		}
		parts = append(parts, p)
	}
	if m.pending > 0 {
		parts = append(parts, fmt.Sprintf("%d pending", m.pending))
	}
	if m.stateErr != nil {
		parts = append(parts, "state not saved: "+oneLine(m.stateErr.Error(), 120))
	}
	switch {
	case m.pollErr != nil:
		parts = append(parts, fmt.Sprintf("polls failing for %s: %s", Ago(now.Sub(m.pollErrSince)), oneLine(m.pollErr.Error(), 120)))
	case m.lastPollOK.IsZero():
		parts = append(parts, "first poll pending")
	}
	if err := m.liveLocked(now); err != nil {
		parts = append(parts, err.Error())
	}
	return strings.Join(parts, "; ")
}

// Ago renders d for people: "just now", "42s ago", "3m ago", "5h ago",
// "2d ago".
func Ago(d time.Duration) string {
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}
