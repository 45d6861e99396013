package renrentest

import (
	"time"

	"go.uber.org/zap"
)

// DefaultDomain is the domain served when Options.Domain is empty.
const DefaultDomain = "talk.xiaonei.com"

// AliasDomain is the second name Renren served: a stream opened to it is
// accepted but answered from the served domain.
const AliasDomain = "talk.renren.com"

// Options configures a Server.
type Options struct {
	// Domain is the served XMPP domain; "" means DefaultDomain. Streams to
	// AliasDomain are accepted too and answered from Domain.
	Domain string
	// Users maps a localpart (Renren's numeric user id) to its password.
	Users map[string]string
	// FeedEvents makes the server send one <xfeed/> news-feed message to
	// each session after its first available presence, as Renren did.
	FeedEvents bool
	// Logger receives the server's own logs; nil discards them.
	Logger *zap.Logger
	// SeeOtherHost, when set, makes the server answer every stream opened
	// after STARTTLS with a <see-other-host/> stream error naming it
	// ("host:port"), as a server that moved or balances load does. With
	// SeeOtherHostBeforeTLS it answers the very first (plain) stream so.
	SeeOtherHost          string
	SeeOtherHostBeforeTLS bool
	// Mechanisms are the SASL mechanisms offered, in order; nil means
	// Renren's PLAIN alone. Known: SCRAM-SHA-256-PLUS, SCRAM-SHA-256,
	// SCRAM-SHA-1-PLUS, SCRAM-SHA-1, PLAIN. The -PLUS ones bind to
	// tls-exporter on TLS 1.3 and tls-unique on TLS 1.2.
	Mechanisms []string
	// ChannelBindings, when not nil, is advertised as the XEP-0440
	// channel-binding types.
	ChannelBindings []string
	// TLSMaxVersion caps TLS (tls.VersionTLS12 for tls-unique); 0: TLS 1.3.
	TLSMaxVersion uint16
	// DirectTLS serves TLS from the first byte (XEP-0368) instead of
	// STARTTLS.
	DirectTLS bool
	// SCRAMFinal is how the server sends its SCRAM server-final message:
	// "" in the <success/>, "challenge" in a last challenge (RFC 6120
	// allows both), or, as a server that does not know the password would,
	// "omit" (a bare <success/>) or "forge" (a wrong signature).
	SCRAMFinal string
	// CertHosts replaces the names in the server certificate (by default
	// Domain, AliasDomain, "localhost" and 127.0.0.1), e.g. to serve a
	// certificate that names an SRV target rather than the domain.
	CertHosts []string
	// AfterStatus is how the server misbehaves right after it has recorded
	// each status, before it reads on and so before it can answer the ping
	// a client sends to confirm the status; the zero Fault does nothing.
	AfterStatus Fault
}

// Fault is a hostile or broken server's answer to a status it has taken:
// the status counts as received (Statuses lists it), but the client gets
// no confirmation.
type Fault struct {
	// Send is written raw into the stream, e.g. an undefined entity
	// "<message>&foo;</message>" or bytes that are not UTF-8.
	Send string
	// Drop closes the TCP connection, after Send if any.
	Drop bool
}

// Status is a status post: an available broadcast presence with a <status/>.
type Status struct {
	JID  string // full JID of the session that sent it
	Text string
	At   time.Time
}

// Presence is any presence stanza a client sent.
type Presence struct {
	JID       string // full JID of the session that sent it
	Type      string // "" (available), "unavailable", ...
	To        string // "" for a broadcast presence
	Show      string
	Priority  string // the <priority/> text; "" when absent
	Status    string
	HasStatus bool // whether a <status/> element was present, even empty
	At        time.Time
}
