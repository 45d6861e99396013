// Package renren publishes statuses on Renren (人人网, formerly Xiaonei
// 校内) over XMPP: a status is a <presence/> with a <status/>, and every
// status change became a public post on the user's profile.
//
// Renren's IM service is gone; the package works with any standard XMPP
// server (Prosody, ejabberd) as a 2026 client should: SRV lookup with
// failover, direct TLS or STARTTLS, the certificate checked against the
// JID's domain or a pinned key, SASL SCRAM-SHA-256/SHA-1 with channel
// binding when offered, PLAIN only when nothing better is, and only inside
// TLS. It keeps Renren's quirks in mind: a JID may be a bare Renren id, the
// domain answered in the stream header may differ from the one dialed,
// news-feed <xfeed/> messages arrive unasked (they are kept, see FeedEvent
// and FeedLog), and a presence is never sent except for a status the user
// asked for, because away or idle presences became posts too.
//
// Session is one XMPP connection. Conn keeps sessions up for a daemon and
// implements daemon.Sink. gosrc.io/xmpp stays behind these two types; what
// renren does around it is listed in library.go.
package renren

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
	"gosrc.io/xmpp"
	"gosrc.io/xmpp/stanza"

	"github.com/r2sync/r2sync/daemon"
)

var (
	_ daemon.Sink = (*Session)(nil)
	_ daemon.Sink = (*Conn)(nil)
)

// Session is one logged-in XMPP connection. Its methods are safe for
// concurrent use. A Session never comes back once Done is closed: dial a
// new one (Conn does).
type Session struct {
	cfg     config
	log     *zap.Logger
	client  *xmpp.Client
	tr      *transport
	router  *xmpp.Router
	jid     string        // bound full JID
	sem     chan struct{} // one status at a time
	feeds   atomic.Int64  // news-feed events received
	skipped atomic.Int64  // news-feed payloads skipped: unknown or malformed
	up      atomic.Bool   // Dial succeeded
	healthy atomic.Bool   // the server answered a ping
	status  string        // the status the initial presence carried, if any
	target  target        // where the session is connected
	feedSeq *feedSeq      // puts feed events in stream order
	ownFeed bool          // cfg.feedLog is this session's to close

	connectDone  chan struct{} // closed when Client.Connect has returned
	done         chan struct{} // closed when the session is dead
	disconnected chan struct{} // closed when the socket is closed and Connect has returned
	discOnce     sync.Once

	mu     sync.Mutex
	err    error // why the session is dead; nil while live
	tlsErr error // certificate verification failure, if any
}

func (s *Session) getTLSErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tlsErr
}

func (s *Session) setTLSErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tlsErr = err
}

// JID returns the full JID the server bound, e.g.
// "123456@talk.xiaonei.com/r2sync". Its domain may differ from the one
// dialed.
func (s *Session) JID() string { return s.jid }

// Done is closed when the session is dead: the connection failed, a ping
// went unanswered, or Close was called.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session is dead, or nil while it is live.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Healthy reports whether the server has answered a ping (including the
// one that confirms each status) on this session.
func (s *Session) Healthy() bool { return s.healthy.Load() }

// FeedEvents returns how many news-feed notifications arrived.
func (s *Session) FeedEvents() int64 { return s.feeds.Load() }

// Close sends an unavailable presence, closes the stream and releases the
// connection. It waits for the server to close its side until ctx ends.
// Closing a dead session only releases it.
func (s *Session) Close(ctx context.Context) error {
	if s.Err() != nil {
		// kill has started closing the connection: wait for the socket.
		select {
		case <-s.disconnected:
		case <-ctx.Done():
		}
		return nil
	}
	var err error
	if _, e := s.send(ctx, stanza.NewPresence(stanza.Attrs{Type: stanza.PresenceTypeUnavailable})); e != nil {
		err = fmt.Errorf("send unavailable presence: %w", e)
	}
	s.kill(ErrClosed)
	select {
	case <-s.disconnected:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("close stream: %w", ctx.Err())
		}
	}
	s.log.Info("session closed")
	return err
}

// kill marks the session dead with err (the first cause wins) and starts
// releasing the connection.
func (s *Session) kill(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	close(s.done)
	s.mu.Unlock()
	s.disconnect(errors.Is(err, ErrClosed))
}

// disconnect closes the connection: after Close, cleanly (</stream:stream>
// and a wait of at most PingTimeout for the server's), else at once. The
// transport may be closed while Connect runs, which then returns; waiting
// for that means no library goroutine outlives disconnected.
func (s *Session) disconnect(clean bool) {
	s.discOnce.Do(func() {
		go func() {
			defer close(s.disconnected)
			if clean {
				s.tr.shutdown(s.cfg.pingTimeout)
			} else {
				_ = s.tr.Close()
			}
			<-s.connectDone
			if s.ownFeed {
				_ = s.cfg.feedLog.Close()
			}
		}()
	})
}

// onError is the library's ErrorHandler: any error there means the
// connection is gone. A stream error keeps its condition (conflict,
// system-shutdown, ...) and a see-other-host its host, read back from the
// transport, for the caller to act on, and a limit the server
// crossed is reported as such rather than as the decoder's read error.
func (s *Session) onError(err error) {
	if se, ok := libStreamError(err); ok {
		if full := s.tr.streamError(); full != nil && full.Condition == se.Condition {
			se = full // with the host of a see-other-host
		}
		err = se
	} else if msg, ok := strings.CutPrefix(err.Error(), "NextStart "); ok {
		err = errors.New(msg) // the library's prefix; it kept only the text
	}
	s.lost(shorten(s.tr.why(err)))
}

// lost kills the session for a connection that ended under it.
func (s *Session) lost(err error) {
	switch {
	case s.Err() != nil: // already dead; the library reports the close it was asked for
	case s.up.Load():
		s.log.Warn("connection lost", zap.Error(err))
	default: // Dial returns the reason
		s.log.Debug("connection lost during login", zap.Error(err))
	}
	s.kill(fmt.Errorf("connection lost: %w", err))
}
