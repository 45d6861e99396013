package renren

import (
	"context"
	"errors"
	"net"
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

func TestDialAddress(t *testing.T) {
	tests := []struct {
		name    string
		address string
		srvs    []*net.SRV
		err     error
		want    string
	}{
		{"explicit address wins", "10.0.0.1:5222", []*net.SRV{{Target: "x.example.", Port: 1}}, nil, "10.0.0.1:5222"},
		{"srv target", "", []*net.SRV{{Target: "xmpp.example.net.", Port: 5269}}, nil, "xmpp.example.net:5269"},
		{"srv '.' means no service", "", []*net.SRV{{Target: ".", Port: 0}}, nil, "talk.xiaonei.com:5222"},
		{"no srv record", "", nil, errors.New("no such host"), "talk.xiaonei.com:5222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := resolve(Options{JID: "1@talk.xiaonei.com", Password: "pw", Address: tt.address})
			if err != nil {
				t.Fatal(err)
			}
			lookup := func(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
				if service != "xmpp-client" || proto != "tcp" || name != "talk.xiaonei.com" {
					t.Errorf("lookup(%q, %q, %q)", service, proto, name)
				}
				return "", tt.srvs, tt.err
			}
			if got := c.dialAddress(context.Background(), lookup); got != tt.want {
				t.Errorf("dialAddress = %q, want %q", got, tt.want)
			}
		})
	}
}
