package bluesky

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

const (
	// readLimit caps one Jetstream message: a post record is at most a
	// few kilobytes of JSON (3,000 bytes of text, facets, an embed).
	readLimit = 1 << 20
	// rewind is how far before the last event seen a reconnect resumes:
	// Jetstream's time_us order is only roughly the order of commits, and
	// the cursor dedupes what comes twice.
	rewind = 3 * time.Second
	// msgBuffer is how many events wait while a push runs; one account
	// makes far fewer in the time of a poll.
	msgBuffer = 1024
)

// Streaming is a Client that also follows the account on Jetstream
// (daemon.Streamer).
type Streaming struct {
	*Client
	// wsTransport dials Jetstream. It is not Options.Transport: a shared
	// transport that caps or wraps response bodies breaks the WebSocket
	// upgrade, whose body is the connection itself.
	wsTransport http.RoundTripper
}

// event is a Jetstream message.
type event struct {
	DID    string `json:"did"`
	TimeUS int64  `json:"time_us"`
	Kind   string `json:"kind"` // commit, identity, account
	Commit *struct {
		Rev        string          `json:"rev"`
		Operation  string          `json:"operation"` // create, update, delete
		Collection string          `json:"collection"`
		RKey       string          `json:"rkey"`
		Record     json.RawMessage `json:"record"`
		CID        string          `json:"cid"`
	} `json:"commit"`
}

// Stream implements daemon.Streamer: it follows the account's new posts
// on Jetstream until ctx ends, reconnecting with backoff, and calls
// push(ctx, nil) after every connect so that the mirror polls what the
// stream missed. Updates and deletes are logged, never pushed as posts.
func (s *Streaming) Stream(ctx context.Context, push func(ctx context.Context, posts []daemon.Post) error) error {
	bo := daemon.NewBackoff(s.opts.ReconnectMin, s.opts.ReconnectMax)
	var lastUS int64
	for {
		start := time.Now()
		connected, err := s.streamOnce(ctx, push, &lastUS)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if connected && time.Since(start) > s.opts.ReconnectMax {
			bo.Reset() // a long healthy connection: retry at once
		}
		wait := bo.Next()
		s.log.Warn("jetstream disconnected; reconnecting", zap.Error(err), zap.Bool("was_connected", connected), zap.Duration("wait", wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// subscribeURL is the Jetstream URL for the account, resuming a little
// before lastUS when an event was seen.
func (s *Streaming) subscribeURL(did string, lastUS int64) (string, error) {
	u, err := url.Parse(s.opts.Jetstream)
	if err != nil {
		return "", err
	}
	q := u.Query()
	// Reposts too: the stream would otherwise push a later post past a
	// repost the mirror has not seen, and the cursor would skip it.
	q["wantedCollections"] = []string{collectionPost, collectionRepost}
	q.Set("wantedDids", did)
	q.Del("cursor")
	if lastUS > 0 {
		q.Set("cursor", strconv.FormatInt(max(lastUS-rewind.Microseconds(), 1), 10))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// streamOnce runs one connection; connected reports that the handshake
// succeeded.
func (s *Streaming) streamOnce(ctx context.Context, push func(context.Context, []daemon.Post) error, lastUS *int64) (connected bool, err error) {
	me, err := s.me(ctx)
	if err != nil {
		return false, err
	}
	target, err := s.subscribeURL(me.ID, *lastUS)
	if err != nil {
		return false, fmt.Errorf("jetstream url: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	conn, resp, err := websocket.Dial(dctx, target, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: s.wsTransport},
	})
	cancel()
	if err != nil {
		if resp != nil {
			return false, fmt.Errorf("jetstream connect: status %d: %w", resp.StatusCode, err)
		}
		return false, fmt.Errorf("jetstream connect: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(readLimit)
	s.log.Info("jetstream connected", zap.Int64("cursor", max(*lastUS-rewind.Microseconds(), 0)))

	cctx, stop := context.WithCancel(ctx)
	defer stop()
	pingDone := make(chan error, 1)
	go func() { pingDone <- s.pinger(cctx, conn) }()
	// Reading goes on in its own goroutine, also while push runs (a poll
	// can take seconds): coder/websocket reads pongs only inside Read, so
	// a stalled reader would look like a silent stream.
	msgs := make(chan []byte, msgBuffer)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := conn.Read(cctx)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case msgs <- data:
			case <-cctx.Done():
				readErr <- cctx.Err()
				return
			}
		}
	}()

	// The gap-filling poll, now that new posts will not be missed.
	if err := push(ctx, nil); err != nil {
		return true, fmt.Errorf("poll after connect: %w", err)
	}
	for {
		var data []byte
		select {
		case data = <-msgs:
		case err := <-readErr:
			select {
			case perr := <-pingDone:
				if perr != nil {
					return true, perr
				}
			case <-time.After(10 * time.Millisecond): // the pinger's verdict, if it closed the connection
			}
			return true, fmt.Errorf("jetstream read: %w", err)
		}
		var ev event
		if err := json.Unmarshal(data, &ev); err != nil {
			s.log.Debug("jetstream message is not an event", zap.Error(err))
			continue
		}
		if ev.TimeUS > *lastUS && ev.TimeUS < 1<<53 {
			*lastUS = ev.TimeUS
		}
		posts, ok := s.eventPosts(ctx, me, &ev)
		if !ok {
			continue
		}
		if err := push(ctx, posts); err != nil {
			return true, fmt.Errorf("push post: %w", err)
		}
	}
}

// pinger pings every period; a ping unanswered within a period closes
// the connection, so a silent stream ends within two periods.
func (s *Streaming) pinger(ctx context.Context, conn *websocket.Conn) error {
	t := time.NewTicker(s.opts.PingPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, s.opts.PingPeriod)
		err := conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			conn.CloseNow()
			return fmt.Errorf("jetstream silent: no pong within %s: %w", s.opts.PingPeriod, err)
		}
	}
}

// eventPosts turns a create commit by the account into the posts to
// push; nil posts ask for a poll. ok is false for events that are not
// pushed. Jetstream filters by wantedDids, but the DID is checked
// again: another account's post must never become the user's status.
func (s *Streaming) eventPosts(ctx context.Context, me daemon.Account, ev *event) (posts []daemon.Post, ok bool) {
	if ev.Kind != "commit" || ev.Commit == nil || ev.DID != me.ID {
		return nil, false
	}
	c := ev.Commit
	if c.Collection != collectionPost && c.Collection != collectionRepost {
		return nil, false
	}
	switch c.Operation {
	case "create":
	case "update", "delete":
		s.log.Info("record changed on bluesky; not mirrored", zap.String("operation", c.Operation), zap.String("collection", c.Collection), zap.String("rkey", shorten(c.RKey)))
		return nil, false
	default:
		return nil, false
	}
	if !validTID(c.RKey) {
		s.log.Warn("jetstream record has no TID key; left to polling", zap.String("rkey", shorten(c.RKey)))
		return nil, false
	}
	if c.Collection == collectionRepost {
		p, err := s.repost(ctx, me, c.RKey, c.Record)
		if err != nil {
			s.log.Warn("jetstream repost not resolved; polling instead", zap.String("rkey", c.RKey), zap.Error(err))
			return nil, true
		}
		return []daemon.Post{p}, true
	}
	var rec Record
	if err := json.Unmarshal(c.Record, &rec); err != nil {
		s.log.Warn("jetstream post record unreadable; left to polling", zap.String("rkey", c.RKey), zap.Error(err))
		return nil, false
	}
	return []daemon.Post{recordPost(me, c.RKey, &rec)}, true
}

// repost builds the post of a repost record: the record names only the
// original, whose text comes from the AppView (app.bsky.feed.getPosts).
func (s *Streaming) repost(ctx context.Context, me daemon.Account, rkey string, raw json.RawMessage) (daemon.Post, error) {
	var rec struct {
		Subject StrongRef `json:"subject"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Subject.URI == "" {
		return daemon.Post{}, fmt.Errorf("repost record has no subject")
	}
	var r struct {
		Posts []postView `json:"posts"`
	}
	if err := s.xrpc(ctx, s.opts.AppView, "app.bsky.feed.getPosts", url.Values{"uris": {rec.Subject.URI}}, nil, "", &r); err != nil {
		return daemon.Post{}, err
	}
	if len(r.Posts) != 1 || r.Posts[0].URI != rec.Subject.URI {
		return daemon.Post{}, fmt.Errorf("getPosts did not return %s", shorten(rec.Subject.URI))
	}
	it := feedItem{Post: r.Posts[0], Reason: &reasonView{
		Type: reasonRepost,
		By:   profileView{DID: me.ID, Handle: me.Handle},
		URI:  "at://" + me.ID + "/" + collectionRepost + "/" + rkey,
	}}
	p, ok := repostPost(me, &it)
	if !ok {
		return daemon.Post{}, fmt.Errorf("repost %s unusable", rkey)
	}
	return p, nil
}
