package mastodon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// StreamingSource is a Source that also follows the user stream
// (daemon.Streamer). The mirror finds the ability by type assertion, so
// a poll-only mirror (stream = false) uses a plain *Source.
type StreamingSource struct {
	*Source
}

var _ daemon.Streamer = StreamingSource{}

// Streaming returns s with the Streamer ability.
func (s *Source) Streaming() StreamingSource { return StreamingSource{s} }

// errSilent ends a connection on which neither an event nor a heartbeat
// came for two heartbeat periods.
var errSilent = errors.New("stream silent for two heartbeat periods")

// Stream implements daemon.Streamer over GET /api/v1/streaming/user
// (server-sent events). It reconnects with backoff whenever the stream
// fails, ends or goes silent, and calls push(ctx, nil) after every
// connect so that the mirror polls what the stream missed meanwhile.
func (s StreamingSource) Stream(ctx context.Context, push func(context.Context, []daemon.Post) error) error {
	b := daemon.NewBackoff(s.bmin, s.bmax)
	for {
		start := time.Now()
		connected, err := s.streamOnce(ctx, push)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if connected {
			s.events.reconnects.Add(1)
			if time.Since(start) > 2*s.period() {
				// It worked for a while: start the backoff over. A
				// stream that fails right after each connect keeps
				// backing off.
				b.Reset()
			}
		}
		wait := b.Next()
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Permanent() {
			// A revoked token: polling reports it; the stream tries
			// again seldom.
			wait = s.bmax
		}
		s.log.Warn("stream down; reconnecting", zap.Error(err), zap.Duration("in", wait), zap.Bool("was_connected", connected))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// streamOnce runs one connection of the stream until it fails. connected
// says whether the server accepted it.
func (s StreamingSource) streamOnce(ctx context.Context, push func(context.Context, []daemon.Post) error) (connected bool, err error) {
	me, err := s.me(ctx)
	if err != nil {
		return false, err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var silent atomic.Bool
	// One timer bounds the connect (until the response headers) and
	// then the silence between lines.
	watchdog := time.AfterFunc(s.timeout, func() {
		silent.Store(true)
		cancel()
	})
	defer watchdog.Stop()
	req, err := s.request(withStream(cctx), http.MethodGet, "/api/v1/streaming/user", nil, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := s.streamRT.RoundTrip(req)
	if err != nil {
		if silent.Load() {
			return false, fmt.Errorf("connect stream: no answer within %s", s.timeout)
		}
		return false, fmt.Errorf("connect stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body) // capped: not a 2xx
		rl := s.observe(http.MethodGet, resp)
		return false, fmt.Errorf("connect stream: %w", newAPIError(resp.StatusCode, b, rl))
	}
	s.usage.requests.Add(1)
	s.log.Info("stream connected")
	c := &conn{own: me.ID, alive: func() { watchdog.Reset(2 * s.period()) }}
	// The watchdog does not run while the mirror takes a push in: it
	// may be busy with a poll or a status, and the server's lines wait
	// in the socket meanwhile.
	c.push = func(ctx context.Context, posts []daemon.Post) error {
		watchdog.Stop()
		defer c.alive()
		return push(ctx, posts)
	}
	// Whatever was posted while the stream was down comes with this
	// poll; posts pushed from now on are after it or repeats, which the
	// mirror ignores.
	if err := c.push(ctx, nil); err != nil {
		return true, fmt.Errorf("poll after connect: %w", err)
	}
	err = s.read(ctx, resp.Body, c)
	if silent.Load() {
		return true, errSilent
	}
	return true, err
}

// conn is one connection's state.
type conn struct {
	own   string // the user's account id
	alive func() // called for every line
	push  func(context.Context, []daemon.Post) error
	last  string // the newest own status pushed

	lastBeat time.Time     // when the last heartbeat came
	beats    int           // heartbeats on this connection
	maxGap   time.Duration // the longest gap between two of them
}

// Learning the heartbeat period: the server's period is not announced
// (Mastodon's is about 15 s, a proxy may add its own), so the watchdog
// starts from Options.Heartbeat and, once a connection has shown two
// gaps between heartbeats, uses the longest gap seen on it, within
// [minPeriod, maxPeriod]. A server that beats every 200 ms is thus found
// silent after 400 ms, and jitter only lengthens the estimate.
const (
	minPeriod = 50 * time.Millisecond
	maxPeriod = 2 * time.Minute
)

// beat takes in one heartbeat comment.
func (s StreamingSource) beat(c *conn) {
	now := time.Now()
	if c.beats > 0 {
		c.maxGap = max(c.maxGap, now.Sub(c.lastBeat))
	}
	c.beats++
	c.lastBeat = now
	if c.beats >= 3 {
		s.learned.Store(int64(min(max(c.maxGap, minPeriod), maxPeriod)))
	}
}

// period is the heartbeat period the watchdog assumes.
func (s StreamingSource) period() time.Duration {
	if p := time.Duration(s.learned.Load()); p > 0 {
		return p
	}
	return s.heartbeat
}

// read parses the event stream: "event:" and "data:" lines, dispatched
// at each blank line; lines starting with ':' are heartbeats.
func (s StreamingSource) read(ctx context.Context, body io.Reader, c *conn) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), maxStreamLine)
	var (
		event string
		data  []byte
		has   bool
	)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) > 0 && line[0] == ':' {
			s.beat(c) // first: it may change the period alive uses
		}
		c.alive()
		if len(line) == 0 {
			if has {
				if err := s.dispatch(ctx, event, data, c); err != nil {
					return err
				}
			}
			event, data, has = "", data[:0], false
			continue
		}
		if line[0] == ':' {
			continue // a heartbeat, counted above
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			event, has = string(value), true
		case "data":
			if len(data)+len(value) > maxStreamLine {
				return fmt.Errorf("stream event over %d KiB", maxStreamLine>>10)
			}
			if has && len(data) > 0 {
				data = append(data, '\n')
			}
			data, has = append(data, value...), true
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("stream line over %d KiB", maxStreamLine>>10)
		}
		return fmt.Errorf("read stream: %w", err)
	}
	return errors.New("stream ended by the server")
}

// dispatch handles one event. Only the user's own new statuses are
// pushed; edits and deletes are logged and counted, never mirrored.
func (s StreamingSource) dispatch(ctx context.Context, event string, data []byte, c *conn) error {
	switch event {
	case "update", "status.update":
		var st status
		if err := json.Unmarshal(data, &st); err != nil {
			s.events.bad.Add(1)
			s.log.Warn("stream event unreadable", zap.String("event", event), zap.Error(err))
			return nil
		}
		ok, err := s.check(&st, c.own)
		if err != nil {
			s.events.bad.Add(1)
			s.log.Warn("stream event unreadable", zap.String("event", event), zap.Error(err))
			return nil
		}
		if !ok {
			return nil // the home timeline of followed accounts
		}
		if event == "status.update" {
			s.events.edits.Add(1)
			s.log.Info("status edited; the mirrored status stays", zap.String("id", st.ID))
			return nil
		}
		s.events.remember(st.ID)
		if c.last != "" && compareIDs(st.ID, c.last) < 0 {
			// Mastodon fans statuses out from concurrent workers, so two
			// posts made within milliseconds can arrive in the other
			// order; pushing the newer one first would move the mirror's
			// cursor past the older. Counted, and harmless: see below.
			s.events.reordered.Add(1)
			s.log.Info("status arrived after a newer one", zap.String("id", st.ID), zap.String("newer", c.last))
		} else {
			c.last = st.ID
		}
		// The event only says "there is something new": the mirror polls
		// with min_id from its cursor, and the API returns every status
		// past it in id order, this one and any older one whose event has
		// not come yet. One round trip to the instance, never a lost post.
		return c.push(ctx, nil)
	case "delete":
		id := string(bytes.TrimSpace(data))
		if s.events.known(id) {
			s.events.deletes.Add(1)
			s.log.Info("status deleted; the mirrored status stays", zap.String("id", shortID(id)))
		}
	}
	return nil
}
