package renren

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	valid := Options{JID: "123456@talk.xiaonei.com", Password: "pw"}
	tests := []struct {
		name    string
		edit    func(*Options)
		wantErr string // substring; "" means valid
		check   func(*testing.T, config)
	}{
		{"defaults", func(*Options) {}, "", func(t *testing.T, c config) {
			if c.resource != DefaultResource || c.serverName != "talk.xiaonei.com" || c.address != "" ||
				c.pingInterval != DefaultPingInterval || c.pingTimeout != DefaultPingTimeout || c.dialTimeout != DefaultDialTimeout {
				t.Errorf("defaults not applied: %+v", c)
			}
		}},
		{"explicit values kept", func(o *Options) {
			o.Resource, o.ServerName, o.Address = "r2", "xmpp.example.org", "xmpp.example.org:5223"
			o.PingInterval, o.PingTimeout, o.DialTimeout = time.Minute, time.Second, 2*time.Second
		}, "", func(t *testing.T, c config) {
			if c.resource != "r2" || c.serverName != "xmpp.example.org" || c.address != "xmpp.example.org:5223" ||
				c.pingInterval != time.Minute || c.pingTimeout != time.Second || c.dialTimeout != 2*time.Second {
				t.Errorf("values not kept: %+v", c)
			}
		}},
		{"empty jid", func(o *Options) { o.JID = "" }, `jid ""`, nil},
		{"domain only", func(o *Options) { o.JID = "talk.xiaonei.com" }, "want a bare jid", nil},
		{"full jid", func(o *Options) { o.JID = "1@talk.xiaonei.com/home" }, "without /resource", nil},
		{"quote in domain", func(o *Options) { o.JID = "1@talk'.example" }, "invalid domain", nil},
		{"empty password", func(o *Options) { o.Password = "" }, "password: must not be empty", nil},
		{"control in resource", func(o *Options) { o.Resource = "a\x00b" }, "resource", nil},
		{"bad server name", func(o *Options) { o.ServerName = "a b" }, "server name", nil},
		{"address without port", func(o *Options) { o.Address = "example.org" }, "want host:port", nil},
		{"negative timeout", func(o *Options) { o.PingTimeout = -time.Second }, "ping timeout: must not be negative", nil},
		{"bare renren id", func(o *Options) { o.JID = "123456" }, "", func(t *testing.T, c config) {
			if c.bare != "123456@talk.xiaonei.com" || c.resend {
				t.Errorf("bare %q, resend %v", c.bare, c.resend)
			}
		}},
		{"renren.com does not resend", func(o *Options) { o.JID = "1@talk.renren.com" }, "", func(t *testing.T, c config) {
			if c.resend {
				t.Error("resend on by default on talk.renren.com")
			}
		}},
		{"other servers resend", func(o *Options) { o.JID = "alice@example.org" }, "", func(t *testing.T, c config) {
			if !c.resend {
				t.Error("resend off by default on example.org")
			}
		}},
		{"resend forced off", func(o *Options) { off := false; o.JID, o.ResendOnReconnect = "alice@example.org", &off }, "", func(t *testing.T, c config) {
			if c.resend {
				t.Error("resend on")
			}
		}},
		{"direct tls address", func(o *Options) { o.Address = "xmpps://[::1]" }, "", func(t *testing.T, c config) {
			if c.address != "[::1]:5223" || !c.directTLS {
				t.Errorf("address %q, direct %v", c.address, c.directTLS)
			}
		}},
		{"bad direct tls address", func(o *Options) { o.Address = "xmpps://a b:1" }, "want host:port (STARTTLS) or xmpps://host:port", nil},
		{"show away", func(o *Options) { o.Show = "away" }, `show "away": must be "" or "chat"`, nil},
		{"priority too high", func(o *Options) { o.Priority = 128 }, "priority 128: must be between -128 and 127", nil},
		{"tls 1.1", func(o *Options) { o.TLSMinVersion = 0x0302 }, "tls min version 0x302", nil},
		{"bad pin", func(o *Options) { o.TLSPin = "sha1/abc" }, `tls pin "sha1/abc"`, nil},
		{"sasl twice", func(o *Options) { o.SASL = []string{"PLAIN", "plain"} }, `sasl "plain": listed twice`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := valid
			opts.Password = "hunter2-secret"
			tt.edit(&opts)
			c, err := resolve(opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("resolve: %v", err)
				}
				tt.check(t, c)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2-secret") {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	type srvs map[string][]*net.SRV // service -> records; absent: lookup error
	tests := []struct {
		name    string
		address string
		records srvs
		want    []string
	}{
		{"explicit address wins", "10.0.0.1:5222", srvs{"xmpp-client": {{Target: "x.example.", Port: 1}}}, []string{"10.0.0.1:5222"}},
		{"explicit direct tls", "xmpps://10.0.0.1:5223", nil, []string{"xmpps://10.0.0.1:5223"}},
		{"direct tls default port", "xmpps://xmpp.example.org", nil, []string{"xmpps://xmpp.example.org:5223"}},
		{"srv target, then the domain", "", srvs{"xmpp-client": {{Target: "xmpp.example.net.", Port: 5269}}},
			[]string{"xmpp.example.net:5269", "talk.xiaonei.com:5222"}},
		{"both services by priority, direct tls first on a tie", "", srvs{
			"xmpps-client": {{Target: "b.example.", Port: 5223, Priority: 5}, {Target: "a.example.", Port: 443, Priority: 10}},
			"xmpp-client":  {{Target: "c.example.", Port: 5222, Priority: 5}, {Target: "d.example.", Port: 5222, Priority: 1}},
		}, []string{"d.example:5222", "xmpps://b.example:5223", "c.example:5222", "xmpps://a.example:443", "talk.xiaonei.com:5222"}},
		{"the domain itself listed once", "", srvs{"xmpp-client": {{Target: "talk.xiaonei.com.", Port: 5222}}},
			[]string{"talk.xiaonei.com:5222"}},
		{"'.' for starttls means no service", "", srvs{"xmpp-client": {{Target: ".", Port: 0}}}, nil},
		{"'.' for direct tls only", "", srvs{"xmpps-client": {{Target: ".", Port: 0}}}, []string{"talk.xiaonei.com:5222"}},
		{"no srv record", "", nil, []string{"talk.xiaonei.com:5222"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := resolve(Options{JID: "1@talk.xiaonei.com", Password: "pw", Address: tt.address})
			if err != nil {
				t.Fatal(err)
			}
			c.lookupSRV = func(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
				if proto != "tcp" || name != "talk.xiaonei.com" {
					t.Errorf("lookup(%q, %q, %q)", service, proto, name)
				}
				recs, ok := tt.records[service]
				if !ok {
					return "", nil, errors.New("no such host")
				}
				return "", recs, nil
			}
			var got []string
			for _, tg := range c.targets(context.Background()) {
				got = append(got, tg.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("targets = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOrderSRVWeights checks RFC 2782's weighted selection: within one
// priority a record comes first with a chance proportional to its weight,
// and a weight-0 record comes first only when nothing else can.
func TestOrderSRVWeights(t *testing.T) {
	recs := []srvRecord{
		{SRV: net.SRV{Target: "heavy.", Port: 1, Weight: 60}},
		{SRV: net.SRV{Target: "light.", Port: 1, Weight: 20}},
		{SRV: net.SRV{Target: "zero.", Port: 1, Weight: 0}},
		{SRV: net.SRV{Target: "other.", Port: 1, Weight: 20}},
		{SRV: net.SRV{Target: "backup.", Port: 1, Priority: 9, Weight: 100}},
	}
	r := rand.New(rand.NewPCG(1, 2))
	first := map[string]int{}
	const rounds = 20000
	for range rounds {
		out := orderSRV(recs, r.IntN)
		if len(out) != 5 || out[4].addr != "backup:1" {
			t.Fatalf("order = %v: the lower priority must come last", out)
		}
		first[out[0].addr]++
	}
	for addr, want := range map[string]float64{"heavy:1": 0.6, "light:1": 0.2, "other:1": 0.2} {
		if got := float64(first[addr]) / rounds; got < want-0.02 || got > want+0.02 {
			t.Errorf("%s first in %.3f of the rounds, want %.2f", addr, got, want)
		}
	}
	// Weight 0 wins only when the draw is 0: 1 in 101.
	if got := float64(first["zero:1"]) / rounds; got > 0.02 {
		t.Errorf("zero-weight record first in %.3f of the rounds", got)
	}
}
