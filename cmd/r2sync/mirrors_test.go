package main

import (
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
)

// TestAPITransportPerHost: mirrors on one API host share one transport,
// whatever their tokens; another host gets its own.
func TestAPITransportPerHost(t *testing.T) {
	m := map[string]http.RoundTripper{}
	a := apiTransport(config.Twitter{API: "v2", APIBase: "https://api.x.com/2/"}, m)
	b := apiTransport(config.Twitter{API: "v2", APIBase: "https://API.x.com/2/"}, m)
	c := apiTransport(config.Twitter{APIBase: "http://127.0.0.1:9/1.1/"}, m)
	if a == nil || a != b {
		t.Errorf("two mirrors on api.x.com got different transports")
	}
	if c == a {
		t.Errorf("a mirror on another host shares api.x.com's transport")
	}
	if len(m) != 2 {
		t.Errorf("%d transports, want 2", len(m))
	}
}

// TestPaceApps: 1,000 mirrors on one app polling every minute would read
// 15,000 timelines per 15 min, over the budget: their interval stretches;
// a mirror of another app keeps its own.
func TestPaceApps(t *testing.T) {
	var ws []*wiring
	for i := 0; i < 1001; i++ {
		key := "ck-big"
		if i == 1000 {
			key = "ck-small"
		}
		w := &wiring{twitter: fakeBase{}, name: "m"}
		w.cfg.Twitter.ConsumerKey = config.Secret(key)
		w.cfg.Twitter.PollInterval.Duration = time.Minute
		ws = append(ws, w)
	}
	paceApps(ws, zap.NewNop())
	if got := ws[0].cfg.Twitter.PollInterval.Duration; got <= time.Minute {
		t.Errorf("1,000 mirrors on one app poll every %s, want it stretched past 1m", got)
	}
	if got := ws[1000].cfg.Twitter.PollInterval.Duration; got != time.Minute {
		t.Errorf("the other app's mirror polls every %s, want 1m", got)
	}
}

// fakeBase is a twitterSource for paceApps, which reads only APIBase.
type fakeBase struct{ twitterSource }

func (fakeBase) APIBase() string { return "https://api.x.com/2/" }
