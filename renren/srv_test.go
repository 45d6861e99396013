package renren

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/r2sync/r2sync/renren/renrentest"
)

// dnsServer answers DNS queries over UDP on 127.0.0.1 from a fixed set of
// records: the resolver r2sync is given in tests, with no change to the
// system's.
type dnsServer struct {
	addr    string
	records []dns.RR

	mu      sync.Mutex
	queries []string
}

func startDNS(t *testing.T, zone ...string) *dnsServer {
	t.Helper()
	d := &dnsServer{}
	for _, z := range zone {
		rr, err := dns.NewRR(z)
		if err != nil {
			t.Fatalf("record %q: %v", z, err)
		}
		d.records = append(d.records, rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.addr = pc.LocalAddr().String()
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve), NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return d
}

func (d *dnsServer) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	known := false
	for _, q := range r.Question {
		d.mu.Lock()
		d.queries = append(d.queries, dns.TypeToString[q.Qtype]+" "+q.Name)
		d.mu.Unlock()
		for _, rr := range d.records {
			if !strings.EqualFold(rr.Header().Name, q.Name) {
				continue
			}
			known = true
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	if !known {
		m.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

func (d *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return new(net.Dialer).DialContext(ctx, "udp", d.addr)
	}}
}

func (d *dnsServer) asked() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.queries)
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// deadPort returns a loopback port where nothing listens.
func deadPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := port(t, ln.Addr().String())
	ln.Close()
	return p
}

// TestSRV resolves example.test through a DNS server on 127.0.0.1 with
// records for both services: a dead direct TLS target first, a live
// direct TLS one next, STARTTLS last. The certificates name only
// example.test, not the SRV targets, and that is what counts.
func TestSRV(t *testing.T) {
	const domain = "example.test"
	direct := newServer(t, renrentest.Options{Domain: domain, DirectTLS: true, Mechanisms: allMechanisms})
	starttls := newServer(t, renrentest.Options{Domain: domain})
	dns := startDNS(t,
		fmt.Sprintf("_xmpps-client._tcp.%s. 60 IN SRV 5 10 %d dead.%s.", domain, deadPort(t), domain),
		fmt.Sprintf("_xmpps-client._tcp.%s. 60 IN SRV 10 10 %d tls.%s.", domain, port(t, direct.Addr()), domain),
		fmt.Sprintf("_xmpp-client._tcp.%s. 60 IN SRV 20 10 %d starttls.%s.", domain, port(t, starttls.Addr()), domain),
		"dead."+domain+". 60 IN A 127.0.0.1",
		"tls."+domain+". 60 IN A 127.0.0.1",
		"starttls."+domain+". 60 IN A 127.0.0.1",
	)
	opts := Options{
		JID:         testUser + "@" + domain,
		Password:    testPassword,
		RootCAs:     bothCAs(direct, starttls),
		Resolver:    dns.resolver(),
		PingTimeout: clientOptions(t, direct, "x@y").PingTimeout,
		DialTimeout: clientOptions(t, direct, "x@y").DialTimeout,
		Logger:      clientOptions(t, direct, "x@y").Logger,
	}

	t.Run("dead target, then direct tls", func(t *testing.T) {
		s := dial(t, opts)
		if s.target.String() != fmt.Sprintf("xmpps://tls.%s:%d", domain, port(t, direct.Addr())) {
			t.Errorf("connected to %s", s.target)
		}
		if err := s.SetStatus(testContext(t), "via srv"); err != nil {
			t.Fatal(err)
		}
		if n, m := len(direct.LoginLog()), len(starttls.LoginLog()); n != 1 || m != 0 {
			t.Errorf("logins: direct tls %d, starttls %d; want 1 and 0", n, m)
		}
		for _, q := range []string{"SRV _xmpps-client._tcp." + domain + ".", "SRV _xmpp-client._tcp." + domain + "."} {
			if !slices.Contains(dns.asked(), q) {
				t.Errorf("no query %q in %q", q, dns.asked())
			}
		}
	})
	t.Run("direct tls down, then starttls", func(t *testing.T) {
		if err := direct.Close(); err != nil {
			t.Fatal(err)
		}
		s := dial(t, opts)
		if err := s.SetStatus(testContext(t), "via starttls"); err != nil {
			t.Fatal(err)
		}
		if got := starttls.Statuses(); len(got) != 1 || got[0].Text != "via starttls" {
			t.Errorf("starttls server statuses = %+v", got)
		}
	})
	t.Run("a target that stalls", func(t *testing.T) {
		// It accepts and then says nothing; the next gets the time left.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
			}
		}()
		dns := startDNS(t,
			fmt.Sprintf("_xmpp-client._tcp.%s. 60 IN SRV 1 0 %d stall.%s.", domain, port(t, ln.Addr().String()), domain),
			fmt.Sprintf("_xmpp-client._tcp.%s. 60 IN SRV 2 0 %d starttls.%s.", domain, port(t, starttls.Addr()), domain),
			"stall."+domain+". 60 IN A 127.0.0.1",
			"starttls."+domain+". 60 IN A 127.0.0.1",
		)
		o := opts
		o.Resolver, o.DialTimeout = dns.resolver(), 2*time.Second
		start := time.Now()
		s := dial(t, o)
		took := time.Since(start)
		if !strings.HasPrefix(s.target.addr, "starttls.") || took < time.Second || took > 1900*time.Millisecond {
			t.Errorf("connected to %s after %v, want the second target after about 1s", s.target, took)
		}
	})
	t.Run("a certificate for the target only is refused", func(t *testing.T) {
		// evil.test serves the domain with a certificate naming itself:
		// right for the SRV target, wrong for the JID's domain.
		evil := newServer(t, renrentest.Options{Domain: domain, CertHosts: []string{"evil.test"}})
		dns := startDNS(t,
			fmt.Sprintf("_xmpp-client._tcp.%s. 60 IN SRV 0 0 %d evil.test.", domain, port(t, evil.Addr())),
			"evil.test. 60 IN A 127.0.0.1",
		)
		o := opts
		o.Resolver, o.RootCAs = dns.resolver(), evil.CAPool()
		_, err := Dial(testContext(t), o)
		var he x509.HostnameError
		if !errors.As(err, &he) || he.Host != domain {
			t.Fatalf("Dial = %v, want an x509.HostnameError for %s", err, domain)
		}
		if n := evil.AuthAttempts(); n != 0 {
			t.Errorf("%d logins sent to the wrong server", n)
		}
		if !strings.Contains(err.Error(), "all 2 servers failed") {
			t.Errorf("Dial = %v, want both the SRV target and the domain fallback tried", err)
		}
	})
}
