package renren

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
	"unicode"

	"go.uber.org/zap"
	"gosrc.io/xmpp/stanza"
)

// Defaults for the zero values of Options.
const (
	DefaultResource     = "r2sync"
	DefaultPingInterval = 60 * time.Second
	DefaultPingTimeout  = 20 * time.Second
	DefaultDialTimeout  = 30 * time.Second
	// DefaultDomain is the domain of a JID given as a bare Renren id.
	DefaultDomain = "talk.xiaonei.com"
)

// renrenDomains are the two names Renren's XMPP service answered to. On
// them a presence is a public post, so a reconnect must not repeat one.
var renrenDomains = []string{"talk.xiaonei.com", "talk.renren.com"}

// Options configures a Session or a Conn.
type Options struct {
	// JID is the bare account JID, e.g. "123456@talk.xiaonei.com": Renren's
	// numeric user id at talk.xiaonei.com or talk.renren.com. A bare id
	// ("123456") means that id at DefaultDomain.
	JID string
	// Password is the account password. It is never logged and never part
	// of an error, and it never reaches gosrc.io/xmpp: renren does SASL
	// itself.
	Password string
	// Resource names this client's session; "" means DefaultResource.
	Resource string
	// Address is where to connect: "host:port" for STARTTLS,
	// "xmpps://host:port" for direct TLS (XEP-0368; the port defaults to
	// 5223). "" means the domain's SRV records, _xmpps-client._tcp (direct
	// TLS) and _xmpp-client._tcp (STARTTLS), tried in priority and weight
	// order, then the JID domain on 5222. Whatever the address, the
	// certificate must name ServerName.
	Address string
	// RootCAs verifies the server certificate; nil means the system roots.
	// Verification cannot be turned off.
	RootCAs *x509.CertPool
	// TLSPin, "sha256/BASE64", accepts exactly the server key whose
	// SubjectPublicKeyInfo has that SHA-256 digest (standard base64), in
	// place of a CA and name check: for a self-hosted server with a
	// self-signed certificate.
	TLSPin string
	// TLSMinVersion is tls.VersionTLS12 (0 means that) or tls.VersionTLS13.
	TLSMinVersion uint16
	// ServerName is the name the certificate must carry; "" means the JID
	// domain. Set it when the server is hosted under another name.
	ServerName string
	// SASL pins the SASL mechanisms allowed, most preferred first, e.g.
	// []string{"PLAIN"}. Empty means automatic: the strongest the server
	// offers of SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-256,
	// SCRAM-SHA-1 and, only when it offers none of them, PLAIN. Every
	// mechanism, PLAIN included, runs inside TLS only.
	SASL []string
	// Resolver looks up SRV records and the addresses of their targets;
	// nil means net.DefaultResolver.
	Resolver *net.Resolver
	// ResendOnReconnect makes a Conn publish the last status again in the
	// first presence of each new session. nil means: no on Renren's two
	// domains, where every presence is a public post, yes elsewhere, where
	// a new session starts without a status.
	ResendOnReconnect *bool
	// Priority is the presence priority, -128 to 127.
	Priority int
	// Show is the presence <show/>: "" or "chat". Nothing else (away, xa,
	// dnd) is ever sent: on Renren those became posts too.
	Show string
	// FeedLog is a file that each Renren news-feed notification is
	// appended to as one JSON line (see FeedEvent); "" means none. It is
	// created with mode 0600 and never truncated.
	FeedLog string
	// PingInterval is how often a Conn checks its session with a ping;
	// 0 means DefaultPingInterval.
	PingInterval time.Duration
	// PingTimeout bounds the wait for a ping reply; 0 means
	// DefaultPingTimeout or half of PingInterval, whichever is shorter, so
	// that a dead session is found within two ping intervals. It also
	// bounds each write on a live session and, at Close, the wait for the
	// server to close its stream.
	PingTimeout time.Duration
	// DialTimeout bounds connecting and logging in, each step included (the
	// SRV lookup, the dial, the TLS handshake, SASL, binding); 0 means
	// DefaultDialTimeout. With several targets, the TCP connect to each
	// gets a third of it and the login at each but the last half of it, so
	// that a dead or stalled one leaves time for the next.
	DialTimeout time.Duration
	// Logger receives logs under the name "renren"; nil discards them.
	Logger *zap.Logger
	// Events hears when sessions come and go and when news-feed
	// notifications arrive; nil means nobody listens.
	Events Events

	// dial replaces net.Dialer.DialContext; tests wrap connections with it.
	dial dialFunc
	// tlsMaxVersion caps TLS; tests use it to get TLS 1.2 (tls-unique).
	tlsMaxVersion uint16
	// feedLog is a Conn's open feed log, shared by its sessions.
	feedLog *FeedLog
}

// config is Options checked, with defaults applied.
type config struct {
	bare, node, domain, resource string
	password                     string
	address                      string // "" means: look up SRV
	directTLS                    bool   // address is xmpps://
	serverName                   string
	roots                        *x509.CertPool
	pin                          []byte // SPKI SHA-256, or nil
	tlsMin, tlsMax               uint16
	mechanisms                   []string // allowed, most preferred first
	pinnedSASL                   bool     // the user chose mechanisms
	lookupSRV                    srvLookup
	resolver                     *net.Resolver // for SRV and A/AAAA; nil: the default
	resend                       bool
	priority                     int8
	show                         string
	feedPath                     string
	feedLog                      *FeedLog
	pingInterval, pingTimeout    time.Duration
	dialTimeout                  time.Duration
	log                          *zap.Logger
	events                       Events
	dial                         dialFunc
}

// resolve validates opts and applies the defaults. Its errors name the
// option and the value, except for the password.
func resolve(opts Options) (config, error) {
	jidText := opts.JID
	if isRenrenID(jidText) {
		jidText += "@" + DefaultDomain
	}
	jid, err := stanza.NewJid(jidText)
	switch {
	case err != nil || jid.Node == "":
		return config{}, fmt.Errorf("jid %q: want a bare jid like 123456@talk.xiaonei.com or a Renren id like 123456", opts.JID)
	case jid.Resource != "":
		return config{}, fmt.Errorf("jid %q: want a bare jid without /resource (set the resource separately)", opts.JID)
	case !validHost(jid.Domain):
		return config{}, fmt.Errorf("jid %q: invalid domain", opts.JID)
	case opts.Password == "":
		return config{}, errors.New("password: must not be empty")
	}
	c := config{
		bare:         jid.Node + "@" + jid.Domain,
		node:         jid.Node,
		domain:       jid.Domain,
		resource:     opts.Resource,
		password:     opts.Password,
		serverName:   opts.ServerName,
		roots:        opts.RootCAs,
		tlsMax:       opts.tlsMaxVersion,
		feedPath:     opts.FeedLog,
		feedLog:      opts.feedLog,
		pingInterval: opts.PingInterval,
		pingTimeout:  opts.PingTimeout,
		dialTimeout:  opts.DialTimeout,
		log:          opts.Logger,
		events:       opts.Events,
		dial:         opts.dial,
	}
	if c.events == nil {
		c.events = nopEvents{}
	}
	if r := opts.Resolver; r != nil {
		c.resolver, c.lookupSRV = r, r.LookupSRV
	} else {
		c.lookupSRV = net.DefaultResolver.LookupSRV
	}
	if c.dial == nil {
		c.dial = (&net.Dialer{Resolver: c.resolver}).DialContext
	}
	if c.resource == "" {
		c.resource = DefaultResource
	}
	if strings.IndexFunc(c.resource, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return config{}, fmt.Errorf("resource %q: must be printable text", c.resource)
	}
	if c.serverName == "" {
		c.serverName = c.domain
	} else if !validHost(c.serverName) {
		return config{}, fmt.Errorf("server name %q: invalid host name", c.serverName)
	}
	if c.address, c.directTLS, err = parseAddress(opts.Address); err != nil {
		return config{}, err
	}
	if err := c.resolveTLS(opts); err != nil {
		return config{}, err
	}
	if c.mechanisms, err = allowedMechanisms(opts.SASL); err != nil {
		return config{}, err
	}
	c.pinnedSASL = len(opts.SASL) > 0
	if err := c.resolvePresence(opts); err != nil {
		return config{}, err
	}
	if strings.ContainsRune(c.feedPath, 0) {
		return config{}, fmt.Errorf("feed log %q: not a file path", c.feedPath)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ping interval", &c.pingInterval, DefaultPingInterval},
		{"ping timeout", &c.pingTimeout, DefaultPingTimeout},
		{"dial timeout", &c.dialTimeout, DefaultDialTimeout},
	} {
		switch {
		case *d.v < 0:
			return config{}, fmt.Errorf("%s: must not be negative (got %s)", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if opts.PingTimeout == 0 {
		c.pingTimeout = min(c.pingTimeout, c.pingInterval/2)
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	c.log = c.log.Named("renren")
	return c, nil
}

// isRenrenID reports whether s is a bare Renren user id: digits only.
func isRenrenID(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// parseAddress splits Options.Address into a host:port and whether it
// asks for direct TLS.
func parseAddress(a string) (addr string, direct bool, err error) {
	if a == "" {
		return "", false, nil
	}
	rest, direct := strings.CutPrefix(a, "xmpps://")
	host, port, err := net.SplitHostPort(rest)
	if err != nil && direct { // xmpps://host: the XEP-0368 port
		host, port, err = strings.TrimSuffix(strings.TrimPrefix(rest, "["), "]"), "5223", nil
	}
	if err != nil || !validHost(host) || !validPort(port) {
		return "", false, fmt.Errorf("address %q: want host:port (STARTTLS) or xmpps://host:port (direct TLS)", a)
	}
	return net.JoinHostPort(host, port), direct, nil
}

func validPort(p string) bool {
	n := 0
	for _, r := range p {
		if r < '0' || r > '9' || n > 65535 {
			return false
		}
		n = n*10 + int(r-'0')
	}
	return p != "" && n >= 1 && n <= 65535
}

// resolveTLS checks TLSPin and TLSMinVersion.
func (c *config) resolveTLS(opts Options) error {
	switch opts.TLSMinVersion {
	case 0, tls.VersionTLS12:
		c.tlsMin = tls.VersionTLS12
	case tls.VersionTLS13:
		c.tlsMin = tls.VersionTLS13
	default:
		return fmt.Errorf("tls min version %#x: want TLS 1.2 or 1.3", opts.TLSMinVersion)
	}
	if opts.TLSPin != "" {
		pin, err := ParsePin(opts.TLSPin)
		if err != nil {
			return err
		}
		c.pin = pin
	}
	return nil
}

// ParsePin decodes a TLSPin, "sha256/" and the standard base64 of the
// 32-byte SHA-256 digest of the server's SubjectPublicKeyInfo (what
// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
// openssl dgst -sha256 -binary | base64` prints).
func ParsePin(pin string) ([]byte, error) {
	b64, ok := strings.CutPrefix(pin, "sha256/")
	if !ok {
		return nil, fmt.Errorf("tls pin %q: want sha256/ and the base64 of a SHA-256 digest", pin)
	}
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("tls pin %q: want sha256/ and the base64 of 32 bytes", pin)
	}
	return sum, nil
}

// resolvePresence checks the presence options and picks the default of
// ResendOnReconnect for the domain.
func (c *config) resolvePresence(opts Options) error {
	if opts.Priority < -128 || opts.Priority > 127 {
		return fmt.Errorf("priority %d: must be between -128 and 127", opts.Priority)
	}
	c.priority = int8(opts.Priority)
	switch opts.Show {
	case "", "chat":
		c.show = opts.Show
	default:
		return fmt.Errorf(`show %q: must be "" or "chat" (away, xa and dnd would be posts on Renren)`, opts.Show)
	}
	if opts.ResendOnReconnect != nil {
		c.resend = *opts.ResendOnReconnect
	} else {
		c.resend = !isRenrenDomain(c.domain)
	}
	return nil
}

func isRenrenDomain(d string) bool {
	for _, r := range renrenDomains {
		if strings.EqualFold(d, r) {
			return true
		}
	}
	return false
}

// validHost accepts DNS names and IP literals. The library writes the
// domain unescaped into the stream header, so quotes and markup must never
// get that far.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		ok := r == '.' || r == '-' || r == '_' || r == ':' ||
			unicode.IsLetter(r) || unicode.IsDigit(r)
		if !ok {
			return false
		}
	}
	return true
}
