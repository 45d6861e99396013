package health_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon/health"
)

func TestStatus(t *testing.T) {
	c := newClock() // 12:00 UTC
	reg := health.NewRegistry(health.RegistryOptions{Now: c.Now})
	m := reg.Mirror("bob", health.Options{PollInterval: time.Minute, Kind: "mastodon", Account: "@bob@example.social", XMPP: "bob@example.org"})
	reg.Mirror("alice", health.Options{PollInterval: time.Minute})

	st := m.Status()
	if st.Name != "bob" || st.Source != "mastodon" || st.SourceAccount != "@bob@example.social" || st.XMPPAccount != "bob@example.org" {
		t.Fatalf("identity: %+v", st)
	}
	if st.SessionUp || !st.SessionSince.Equal(c.Now()) || st.Ready == "" || st.LastError != "" {
		t.Fatalf("fresh monitor: %+v", st)
	}

	c.Advance(time.Minute)
	m.SessionUp()
	up := c.Now()
	m.Polled(nil)
	m.Skipped("visibility")
	m.Skipped("visibility")
	m.Skipped("reply")
	m.StatusSent("hello <script>")
	m.Delivered("1", time.Second)
	c.Advance(2 * time.Hour) // 14:01
	m.Polled(nil)
	m.Delivered("2", time.Second)
	m.Delivered("3", time.Second)
	m.DeliveryFailed(errors.New("set status: xmpp\nsession lost"))
	m.Pending(1)

	st = m.Status()
	if !st.SessionUp || !st.SessionSince.Equal(up) {
		t.Errorf("session up %v since %v, want true since %v", st.SessionUp, st.SessionSince, up)
	}
	if st.LastStatus != "hello <script>" || !st.LastStatusAt.Equal(up) {
		t.Errorf("last status %q at %v", st.LastStatus, st.LastStatusAt)
	}
	if st.Skipped["visibility"] != 2 || st.Skipped["reply"] != 1 || len(st.Skipped) != 2 {
		t.Errorf("skipped %v, want visibility 2, reply 1", st.Skipped)
	}
	if st.LastError != "deliver: set status: xmpp session lost" || !st.LastErrorAt.Equal(c.Now()) {
		t.Errorf("last error %q at %v", st.LastError, st.LastErrorAt)
	}
	if st.Pending != 1 || st.Mirrored != 3 || st.Ready != "" || st.Live != "" {
		t.Errorf("pending %d mirrored %d ready %q live %q", st.Pending, st.Mirrored, st.Ready, st.Live)
	}
	if want := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC); !st.HourStart.Equal(want) {
		t.Errorf("hour start %v, want %v", st.HourStart, want)
	}
	var want [health.Hours]uint32
	want[health.Hours-1], want[health.Hours-3] = 2, 1
	if st.Hourly != want {
		t.Errorf("hourly %v, want %v", st.Hourly, want)
	}

	// A day later the old counts are gone; a session loss is the last
	// error and changes the session's since.
	c.Advance(23 * time.Hour) // 13:01 the next day
	m.SessionDown(errors.New("stream closed"))
	st = m.Status()
	want = [health.Hours]uint32{}
	want[0] = 2
	if st.Hourly != want {
		t.Errorf("a day later hourly %v, want %v", st.Hourly, want)
	}
	c.Advance(time.Hour)
	if st = m.Status(); st.Hourly != ([health.Hours]uint32{}) {
		t.Errorf("25 h later hourly %v, want zeros", st.Hourly)
	}
	if st.SessionUp || !strings.HasPrefix(st.LastError, "xmpp: stream closed") || st.Ready == "" {
		t.Errorf("after session loss: %+v", st)
	}

	all := reg.Statuses()
	if len(all) != 2 || all[0].Name != "alice" || all[1].Name != "bob" {
		t.Errorf("Statuses: %+v", all)
	}
}
