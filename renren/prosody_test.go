package renren

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/r2sync/r2sync/renren/prosodytest"
)

// TestTransportWithProsody logs in to a real Prosody through renren's own
// transport (STARTTLS, SASL PLAIN, bind, the legacy session), publishes
// statuses a contact sees, closes cleanly without waiting out the ping
// timeout (Prosody answers </stream:stream>), and notices at once when
// Prosody shuts down and closes the stream.
func TestTransportWithProsody(t *testing.T) {
	p := prosodytest.Start(t, prosodytest.Options{
		Users: map[string]string{testUser: testPassword, "watcher": "w"},
		Group: []string{testUser, "watcher"},
	})
	w := p.Watch(t, "watcher", "w")
	const pingTimeout = 5 * time.Second
	opts := Options{
		JID:          p.JID(testUser),
		Password:     testPassword,
		Address:      p.Addr(),
		RootCAs:      p.CAPool(),
		PingInterval: time.Hour,
		PingTimeout:  pingTimeout,
		DialTimeout:  10 * time.Second,
		Logger:       zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
	}
	ctx := testContext(t)

	s := dial(t, opts)
	for i := range 3 {
		if err := s.SetStatus(ctx, fmt.Sprintf("status %d", i)); err != nil {
			t.Fatalf("SetStatus: %v", err)
		}
	}
	got, err := w.WaitStatuses(ctx, p.JID(testUser), 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range got {
		if want := fmt.Sprintf("status %d", i); st.Text != want {
			t.Errorf("status %d = %q, want %q", i, st.Text, want)
		}
	}
	start := time.Now()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took > pingTimeout/2 {
		t.Errorf("Close took %s: it did not see Prosody's </stream:stream>", took)
	}

	s = dial(t, opts)
	start = time.Now()
	p.Stop()
	select {
	case <-s.Done():
	case <-time.After(pingTimeout):
		t.Fatal("session still up after Prosody stopped")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Errorf("Err() = %v, want a lost connection", err)
	}
	t.Logf("Prosody's shutdown noticed after %s: %v", time.Since(start).Round(time.Millisecond), s.Err())
}
