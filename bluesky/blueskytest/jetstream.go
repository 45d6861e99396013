package blueskytest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// eventEnvelope is one Jetstream event: its JSON and what it is filtered
// by.
type eventEnvelope struct {
	timeUS     int64
	did        string
	collection string
	data       []byte
}

// subscriber is one /subscribe connection.
type subscriber struct {
	dids, collections []string
	ch                chan []byte
	done              chan struct{}
	stopped           bool
}

// stop ends the subscriber; called with s.mu held.
func (sub *subscriber) stop() {
	if !sub.stopped {
		sub.stopped = true
		close(sub.done)
	}
}

func (sub *subscriber) wants(ignoreDids bool, e *eventEnvelope) bool {
	if len(sub.collections) > 0 && !slices.Contains(sub.collections, e.collection) {
		return false
	}
	return ignoreDids || len(sub.dids) == 0 || slices.Contains(sub.dids, e.did)
}

// emitLocked appends the commit event of a record to the log and sends
// it to every subscriber that wants it. A subscriber too slow to keep
// up is disconnected, as Jetstream does.
func (s *Server) emitLocked(r *record, op string) {
	us := s.nextUSLocked()
	commit := map[string]any{"rev": tid(us), "operation": op, "collection": r.collection, "rkey": r.rkey}
	if op != "delete" {
		commit["record"] = r.value
		commit["cid"] = r.cid
	}
	data, _ := json.Marshal(map[string]any{"did": r.did, "time_us": us, "kind": "commit", "commit": commit})
	e := eventEnvelope{timeUS: us, did: r.did, collection: r.collection, data: data}
	s.events = append(s.events, e)
	for sub := range s.subs {
		if !sub.wants(s.ignoreWantedDids, &e) {
			continue
		}
		select {
		case sub.ch <- data:
		default:
			sub.stop()
			delete(s.subs, sub)
		}
	}
}

// Identity sends an identity event for did (a handle change), which a
// post mirror must ignore.
func (s *Server) Identity(did string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	us := s.nextUSLocked()
	h := "handle.invalid"
	if a := s.accounts[did]; a != nil {
		h = a.handle
	}
	data, _ := json.Marshal(map[string]any{"did": did, "time_us": us, "kind": "identity",
		"identity": map[string]any{"did": did, "handle": h, "seq": us, "time": time.UnixMicro(us).UTC().Format(time.RFC3339Nano)}})
	e := eventEnvelope{timeUS: us, did: did, data: data}
	s.events = append(s.events, e)
	for sub := range s.subs {
		if s.ignoreWantedDids || len(sub.dids) == 0 || slices.Contains(sub.dids, did) {
			select {
			case sub.ch <- data:
			default:
			}
		}
	}
}

// subscribe is Jetstream's /subscribe: wantedCollections, wantedDids
// (repeatable) and cursor (time_us to replay from).
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sub := &subscriber{dids: q["wantedDids"], collections: q["wantedCollections"], ch: make(chan []byte, 4096), done: make(chan struct{})}
	var cursor int64 = -1
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "invalid cursor", http.StatusBadRequest)
			return
		}
		cursor = n
	}
	// The subscriber is registered before the handshake answer, so that
	// an event made right after the client sees the connection is not
	// lost.
	s.mu.Lock()
	s.requests["subscribe"]++
	var replay [][]byte
	if cursor >= 0 {
		for i := range s.events {
			if e := &s.events[i]; e.timeUS >= cursor && sub.wants(s.ignoreWantedDids, e) {
				replay = append(replay, e.data)
			}
		}
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		sub.stop()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	// Reading keeps control frames (pings, close) answered; clients may
	// send options updates, which are ignored.
	ctx := conn.CloseRead(r.Context())
	write := func(b []byte) bool {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, b) == nil
	}
	for _, b := range replay {
		if !write(b) {
			return
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.done:
			conn.Close(websocket.StatusGoingAway, "closed by the server")
			return
		case b := <-sub.ch:
			if !write(b) {
				return
			}
		}
	}
}
