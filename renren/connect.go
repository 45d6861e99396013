package renren

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// target is one place to connect to.
type target struct {
	addr      string // host:port
	directTLS bool   // TLS from the first byte (XEP-0368), else STARTTLS
}

func (t target) String() string {
	if t.directTLS {
		return "xmpps://" + t.addr
	}
	return t.addr
}

// srvLookup is net.Resolver.LookupSRV; unit tests replace it.
type srvLookup func(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)

// srvRecord is an SRV record and the service it was found under.
type srvRecord struct {
	net.SRV
	directTLS bool
}

// srvServices are the SRV services of a client connection, direct TLS
// first: XEP-0368 has a client prefer it when priorities tie.
var srvServices = []struct {
	name      string
	directTLS bool
}{
	{"xmpps-client", true},
	{"xmpp-client", false},
}

// targets returns where to connect, in the order to try them: Address
// alone when set; else every target of the domain's _xmpps-client and
// _xmpp-client SRV records, in priority and weight order (RFC 2782), and
// then the domain on 5222 unless the STARTTLS service was declared absent
// (a lone "." target). The certificate is checked against ServerName
// whichever target answers (see tlsConfig).
func (c config) targets(ctx context.Context) []target {
	if c.address != "" {
		return []target{{addr: c.address, directTLS: c.directTLS}}
	}
	var recs []srvRecord
	fallback := true
	for _, svc := range srvServices {
		_, srvs, err := c.lookupSRV(ctx, svc.name, "tcp", c.domain)
		if err != nil {
			c.log.Debug("no srv records", zap.String("service", svc.name), zap.String("domain", c.domain), zap.Error(err))
			continue
		}
		if len(srvs) == 1 && strings.TrimSuffix(srvs[0].Target, ".") == "" && !svc.directTLS {
			fallback = false // RFC 2782: "decidedly not available"
		}
		for _, s := range srvs {
			recs = append(recs, srvRecord{SRV: *s, directTLS: svc.directTLS})
		}
	}
	out := orderSRV(recs, rand.N[int])
	if def := (target{addr: net.JoinHostPort(c.domain, "5222")}); fallback && !slices.Contains(out, def) {
		out = append(out, def)
	}
	if len(recs) > 0 {
		c.log.Debug("srv targets", zap.Stringers("targets", out))
	}
	return out
}

// orderSRV sorts records by priority and, within one priority, by
// RFC 2782's weighted random selection: each pick takes a record with a
// chance proportional to its weight, records of weight 0 first among
// equals. randN(n) returns a number in [0, n). Targets "." are dropped,
// and a target listed twice is tried once.
func orderSRV(recs []srvRecord, randN func(int) int) []target {
	recs = slices.DeleteFunc(slices.Clone(recs), func(r srvRecord) bool {
		return strings.TrimSuffix(r.Target, ".") == "" || r.Port == 0
	})
	slices.SortStableFunc(recs, func(a, b srvRecord) int {
		if a.Priority != b.Priority {
			return int(a.Priority) - int(b.Priority)
		}
		if a.directTLS != b.directTLS { // direct TLS first among equals
			if a.directTLS {
				return -1
			}
			return 1
		}
		return 0
	})
	var out []target
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && recs[j].Priority == recs[i].Priority {
			j++
		}
		group := slices.Clone(recs[i:j])
		slices.SortStableFunc(group, func(a, b srvRecord) int {
			return boolInt(a.Weight != 0) - boolInt(b.Weight != 0)
		})
		for len(group) > 0 {
			sum := 0
			for _, r := range group {
				sum += int(r.Weight)
			}
			pick, run, k := randN(sum+1), 0, 0
			for k = range group {
				if run += int(group[k].Weight); run >= pick {
					break
				}
			}
			t := target{
				addr:      net.JoinHostPort(strings.TrimSuffix(group[k].Target, "."), strconv.Itoa(int(group[k].Port))),
				directTLS: group[k].directTLS,
			}
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
			group = slices.Delete(group, k, k+1)
		}
		i = j
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
