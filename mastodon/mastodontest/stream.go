package mastodontest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// streamBuffer is how many events a stream holds for a slow reader
// before the server drops the connection, as Mastodon's streaming
// server does with a reader that falls behind.
const streamBuffer = 4096

// stream is one open user stream.
type stream struct {
	account string          // whose home timeline
	events  chan []byte     // formatted events
	end     chan struct{}   // closed by CloseStreams
	follows map[string]bool // authors of the home timeline
}

// broadcast sends an event about st to every stream whose home timeline
// holds it: the author's own, and the streams of accounts following the
// author (the user follows every account of AddAccount). A direct status
// reaches only its author's stream here; private ones reach followers.
func (s *Server) broadcast(event string, st *Status) {
	var data []byte
	if event == "delete" {
		data = []byte(st.ID)
	} else {
		b, err := json.Marshal(st)
		if err != nil {
			panic(err) // the entity types always encode
		}
		data = b
	}
	msg := []byte(fmt.Sprintf("event: %s\ndata: %s\n\n", event, data))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.silent {
		return // a hung connection: what is sent is lost
	}
	for c := range s.streams {
		if c.account != st.Account.ID && (!c.follows[st.Account.ID] || st.Visibility == "direct") {
			continue
		}
		select {
		case c.events <- msg:
		default:
			close(c.end)
			delete(s.streams, c)
		}
	}
}

// streamUser serves GET /api/v1/streaming/user as server-sent events:
// ":)" on connect, then events and ":thump" heartbeats.
func (s *Server) streamUser(rw http.ResponseWriter, r *http.Request) {
	w := &statusWriter{ResponseWriter: rw}
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), At: time.Now()}
	defer func() {
		req.Status = w.status
		s.record(req)
	}()
	t := s.authenticate(w, r)
	if t == nil {
		return
	}
	req.AccountID = t.account.ID
	if !t.allowed("read:statuses") {
		writeError(w, http.StatusForbidden, "This action is outside the authorized scopes")
		return
	}
	fl, ok := rw.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	c := &stream{account: t.account.ID, events: make(chan []byte, streamBuffer), end: make(chan struct{}), follows: map[string]bool{}}
	s.mu.Lock()
	if t.account == s.accounts[0] {
		for _, a := range s.accounts[1:] {
			c.follows[a.ID] = true
		}
	}
	s.streams[c] = struct{}{}
	s.connects++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streams, c)
		s.mu.Unlock()
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte(":)\n")); err != nil {
		return
	}
	fl.Flush()
	hb := time.NewTicker(s.opts.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-c.end:
			return
		case msg := <-c.events:
			if _, err := w.Write(msg); err != nil {
				return
			}
			fl.Flush()
		case <-hb.C:
			s.mu.Lock()
			silent := s.silent
			s.mu.Unlock()
			if silent {
				continue
			}
			if _, err := w.Write([]byte(":thump\n")); err != nil {
				return
			}
			fl.Flush()
			s.mu.Lock()
			s.beats++
			s.mu.Unlock()
		}
	}
}

// CloseStreams ends every open stream, as a restarting streaming server
// does; clients reconnect.
func (s *Server) CloseStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.streams {
		close(c.end)
		delete(s.streams, c)
	}
}

// SetSilent makes open and new streams send nothing, neither events nor
// heartbeats, as a hung proxy does; events meanwhile are lost to them.
func (s *Server) SetSilent(silent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent = silent
}

// StreamConnects is how many user streams the server has accepted.
func (s *Server) StreamConnects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// Heartbeats is how many heartbeat comments the server has sent, on all
// streams together.
func (s *Server) Heartbeats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.beats
}

// OpenStreams is how many user streams are open.
func (s *Server) OpenStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}
