package renren

import (
	"encoding/xml"

	"gosrc.io/xmpp/stanza"
)

// Presence discipline. On Renren every available presence with a status
// became a public post, and so did "away" or "idle" from desktop clients
// ("我现在不在"). So renren sends exactly these presences:
//
//   - the initial presence after login, without a status, unless a Conn
//     resends the last status after a reconnect (ResendOnReconnect);
//   - one presence per status the user asked for;
//   - an unavailable presence when the session is closed.
//
// Each available one carries the configured priority and show ("" or
// "chat"), and nothing ever sends away, xa, dnd or an idle time.

// presence returns an available presence with status (none when ""),
// the configured priority and show.
func (c config) presence(status string) stanza.Presence {
	p := stanza.NewPresence(stanza.Attrs{})
	p.Status = status
	p.Priority = c.priority
	p.Show = stanza.PresenceShow(c.show)
	return p
}

// initialPresence returns what replaces the library's initial
// <presence/>, or nil when that one will do: no status, priority 0 and no
// show.
func (c config) initialPresence(status string) ([]byte, error) {
	if status == "" && c.priority == 0 && c.show == "" {
		return nil, nil
	}
	return xml.Marshal(c.presence(status))
}
