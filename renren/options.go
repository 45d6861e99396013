package renren

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
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
)

// Options configures a Session or a Conn.
type Options struct {
	// JID is the bare account JID, e.g. "123456@talk.xiaonei.com": Renren's
	// numeric user id at talk.xiaonei.com or talk.renren.com.
	JID string
	// Password is the account password. It is never logged and never part
	// of an error.
	Password string
	// Resource names this client's session; "" means DefaultResource.
	Resource string
	// Address is the TCP "host:port" to dial. "" means the target of the
	// domain's _xmpp-client._tcp SRV record, else the JID domain on 5222.
	Address string
	// RootCAs verifies the server certificate; nil means the system roots.
	// Verification cannot be turned off.
	RootCAs *x509.CertPool
	// ServerName is the name the certificate must carry; "" means the JID
	// domain. Set it when the server is hosted under another name.
	ServerName string
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
	// dial, the TLS handshake, SASL, binding); 0 means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// Logger receives logs under the name "renren"; nil discards them.
	Logger *zap.Logger
	// Events hears when sessions come and go and when news-feed
	// notifications arrive; nil means nobody listens.
	Events Events

	// dial replaces net.Dialer.DialContext; tests wrap connections with it.
	dial dialFunc
}

// config is Options checked, with defaults applied.
type config struct {
	bare, node, domain, resource string
	password                     string
	address                      string // "" means: look up SRV
	serverName                   string
	roots                        *x509.CertPool
	pingInterval, pingTimeout    time.Duration
	dialTimeout                  time.Duration
	log                          *zap.Logger
	events                       Events
	dial                         dialFunc
}

// resolve validates opts and applies the defaults. Its errors name the
// option and the value, except for the password.
func resolve(opts Options) (config, error) {
	jid, err := stanza.NewJid(opts.JID)
	switch {
	case err != nil || jid.Node == "":
		return config{}, fmt.Errorf("jid %q: want a bare jid like 123456@talk.xiaonei.com", opts.JID)
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
		address:      opts.Address,
		serverName:   opts.ServerName,
		roots:        opts.RootCAs,
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
	if c.address != "" {
		if _, _, err := net.SplitHostPort(c.address); err != nil {
			return config{}, fmt.Errorf("address %q: want host:port", c.address)
		}
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

// srvLookup is net.Resolver.LookupSRV; tests replace it.
type srvLookup func(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)

// dialAddress returns the TCP address to dial: Address when set, else the
// first target of the domain's SRV records (already ordered by priority and
// weight), else the domain on port 5222.
func (c config) dialAddress(ctx context.Context, lookup srvLookup) string {
	if c.address != "" {
		return c.address
	}
	_, srvs, err := lookup(ctx, "xmpp-client", "tcp", c.domain)
	if err == nil {
		for _, s := range srvs {
			if target := strings.TrimSuffix(s.Target, "."); target != "" {
				return net.JoinHostPort(target, strconv.Itoa(int(s.Port)))
			}
		}
	}
	c.log.Debug("no srv record, using the jid domain", zap.String("domain", c.domain), zap.Error(err))
	return net.JoinHostPort(c.domain, "5222")
}

// tlsConfig verifies the server certificate against ServerName itself.
//
// gosrc.io/xmpp checks VerifyHostname(JID domain) after the handshake in
// addition to Go's own check, so a certificate for another ServerName
// could never pass, and it formats TLS errors with %s, which loses their
// type. Doing the standard chain and name verification in VerifyConnection
// honours ServerName and keeps the x509 error for the caller. Verification
// is never skipped: InsecureSkipVerify only hands it to VerifyConnection,
// which crypto/tls calls on every handshake.
func (c config) tlsConfig(record func(error)) *tls.Config {
	roots, name := c.roots, c.serverName
	return &tls.Config{
		ServerName:         name,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			err := verifyChain(cs, roots, name)
			if err != nil {
				record(err)
			}
			return err
		},
	}
}

func verifyChain(cs tls.ConnectionState, roots *x509.CertPool, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, cert := range cs.PeerCertificates[1:] {
		inter.AddCert(cert)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         roots, // nil: system roots
		Intermediates: inter,
		DNSName:       name,
	})
	return err
}
