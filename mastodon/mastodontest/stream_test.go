package mastodontest

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sse reads a user stream's lines.
type sse struct {
	resp  *http.Response
	lines chan string
}

func openStream(t *testing.T, srv *Server, tok string) *sse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/api/v1/streaming/user", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sse{resp: resp, lines: make(chan string, 100)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

// next returns the next line that is not a heartbeat, or "EOF".
func (s *sse) next(t *testing.T) string {
	t.Helper()
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return "EOF"
			}
			if l == ":thump" || l == ":)" || l == "" {
				continue
			}
			return l
		case <-time.After(5 * time.Second):
			t.Fatal("no stream line in 5 s")
		}
	}
}

// event reads the next event's name and data.
func (s *sse) event(t *testing.T) (string, string) {
	t.Helper()
	ev := s.next(t)
	data := s.next(t)
	name, ok1 := strings.CutPrefix(ev, "event: ")
	d, ok2 := strings.CutPrefix(data, "data: ")
	if !ok1 || !ok2 {
		t.Fatalf("not an event: %q %q", ev, data)
	}
	return name, d
}

func TestUserStreamCarriesHomeTimeline(t *testing.T) {
	srv := NewServer(Options{Heartbeat: 20 * time.Millisecond})
	defer srv.Close()
	bob := srv.AddAccount("bob")
	stranger := srv.AddAccount("carol")
	if err := srv.AddToken("bob-token", bob.ID, nil); err != nil {
		t.Fatal(err)
	}
	s := openStream(t, srv, DefaultToken)
	bs := openStream(t, srv, "bob-token")
	_ = stranger
	own := mustPost(t, srv, NewStatus{Text: "mine"})
	fromBob := mustPost(t, srv, NewStatus{Account: bob.ID, Text: "bob's"})
	mustPost(t, srv, NewStatus{Account: bob.ID, Text: "bob's dm", Visibility: "direct"})
	priv := mustPost(t, srv, NewStatus{Text: "private", Visibility: "private"})
	if _, err := srv.Edit(own.ID, "mine, edited"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Delete(own.ID); err != nil {
		t.Fatal(err)
	}
	want := []struct{ event, id string }{
		{"update", own.ID}, {"update", fromBob.ID}, {"update", priv.ID}, {"status.update", own.ID}, {"delete", own.ID},
	}
	for _, w := range want {
		name, data := s.event(t)
		id := data
		if name != "delete" {
			var st Status
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				t.Fatal(err)
			}
			id = st.ID
			if name == "status.update" && st.EditedAt == nil {
				t.Errorf("edit without edited_at")
			}
		}
		if name != w.event || id != w.id {
			t.Errorf("event %s %s, want %s %s", name, id, w.event, w.id)
		}
	}
	// Bob follows nobody: his stream has only his own statuses.
	for _, w := range []string{fromBob.ID} {
		_, data := bs.event(t)
		var st Status
		json.Unmarshal([]byte(data), &st)
		if st.ID != w {
			t.Errorf("bob's stream: %s, want %s", st.ID, w)
		}
	}
	// Heartbeats come while nothing happens.
	deadline := time.After(2 * time.Second)
	for beats := 0; beats < 2; {
		select {
		case l := <-s.lines:
			if l == ":thump" {
				beats++
			}
		case <-deadline:
			t.Fatal("no heartbeats")
		}
	}
}

func TestFaults(t *testing.T) {
	srv := NewServer(Options{Heartbeat: 20 * time.Millisecond})
	defer srv.Close()
	t.Run("close streams", func(t *testing.T) {
		s := openStream(t, srv, DefaultToken)
		srv.CloseStreams()
		if l := s.next(t); l != "EOF" {
			t.Errorf("after CloseStreams: %q", l)
		}
	})
	t.Run("silent", func(t *testing.T) {
		s := openStream(t, srv, DefaultToken)
		srv.SetSilent(true)
		mustPost(t, srv, NewStatus{Text: "lost"})
		select {
		case l := <-s.lines:
			// One heartbeat may have been on its way.
			if l != ":thump" && l != ":)" {
				t.Errorf("silent stream sent %q", l)
			}
		case <-time.After(200 * time.Millisecond):
		}
		srv.SetSilent(false)
	})
	t.Run("down and up", func(t *testing.T) {
		s := openStream(t, srv, DefaultToken)
		srv.Down()
		if l := s.next(t); l != "EOF" {
			t.Errorf("after Down: %q", l)
		}
		_, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.URL(), "http://"), time.Second)
		var op *net.OpError
		if !errors.As(err, &op) {
			t.Fatalf("dial while down: %v, want refused", err)
		}
		if err := srv.Up(); err != nil {
			t.Fatal(err)
		}
		if resp := get(t, srv, DefaultToken, "/api/v1/accounts/verify_credentials", nil); resp.StatusCode != 200 {
			t.Errorf("after Up: %d", resp.StatusCode)
		}
	})
}
