package renren

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	"gosrc.io/xmpp/stanza"

	"github.com/r2sync/r2sync/daemon"
)

// SetStatus publishes text as the account's status and returns nil only
// once the server has processed it: the presence is followed by a ping,
// and since a stream is ordered, any reply to the ping (result or error)
// proves the presence arrived. Characters XML 1.0 cannot carry are dropped.
// Statuses are sent one at a time.
//
// When the presence went out, even in part, but no reply came (the ping
// timed out, the connection died, the server sent something unparsable,
// ctx ended), the error has an Uncertain method that returns true: the
// server may have published the status. When nothing of it was written
// (no live session, a write that failed before its first byte) the error
// has no such method and the status can safely be sent again.
func (s *Session) SetStatus(ctx context.Context, text string) error {
	clean := daemon.SanitizeXML(text)
	if strings.TrimSpace(clean) == "" {
		return errors.New("set status: empty text")
	}
	if len(clean) != len(text) {
		s.log.Debug("dropped characters xml cannot carry", zap.Int("bytes", len(text)-len(clean)))
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return fmt.Errorf("set status: %w", ctx.Err())
	case <-s.done:
		return fmt.Errorf("set status: %w", s.Err())
	}
	p := s.cfg.presence(clean)
	if wrote, err := s.send(ctx, p); err != nil {
		err = fmt.Errorf("send status: %w", err)
		if wrote {
			return uncertain(err)
		}
		return err
	}
	if err := s.Ping(ctx); err != nil {
		return uncertain(fmt.Errorf("confirm status: %w", err))
	}
	return nil
}

// Ping sends an XEP-0199 ping and waits for the reply, at most
// PingTimeout. An unanswered ping kills the session: that is how a
// connection the server ended without an error is found.
func (s *Session) Ping(ctx context.Context) error {
	if err := s.Err(); err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.pingTimeout)
	defer cancel()
	iq, err := stanza.NewIQ(stanza.Attrs{Type: stanza.IQTypeGet})
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	// No 'to': the server answers on behalf of the account (RFC 6120
	// 10.3.3), whatever name it goes by.
	iq.Payload = &ping{}
	// Register the reply route before sending. Client.SendIQ registers it
	// after the write, and a fast server's reply can come in between and be
	// dropped.
	replies := s.router.NewIQResultRoute(pctx, iq.Id)
	if _, err := s.send(pctx, iq); err != nil {
		go s.drain(replies)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("ping: %w", err)
	}
	start := time.Now()
	select {
	case reply := <-replies:
		s.healthy.Store(true)
		s.log.Debug("ping answered", zap.String("type", string(reply.Type)), zap.Duration("rtt", time.Since(start)))
		return nil
	case <-s.done:
		go s.drain(replies)
		return s.Err()
	case <-pctx.Done():
		go s.drain(replies)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err := fmt.Errorf("no ping reply within %s", s.cfg.pingTimeout)
		s.kill(err)
		return err
	}
}

// drain takes a late reply off a route that nobody waits for any more:
// the library's router blocks on the unbuffered channel until someone does.
func (s *Session) drain(replies <-chan stanza.IQ) {
	select {
	case <-replies:
	case <-s.disconnected:
	}
}

// send writes one stanza and reports whether any of it may have reached
// the server. The transport bounds each write, but ctx may be shorter: the
// write runs aside, and if ctx ends (or the session dies) first the
// connection is declared dead and the stanza counts as maybe written.
func (s *Session) send(ctx context.Context, p stanza.Packet) (wrote bool, err error) {
	if err := s.Err(); err != nil {
		return false, err
	}
	// What Client.Send does, minus stream management, but with the count
	// of bytes written.
	data, err := xml.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("marshal %T: %w", p, err)
	}
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	go func() {
		n, err := s.tr.Write(data)
		res <- result{n, err}
	}()
	finished := func(r result) (bool, error) {
		if r.err != nil {
			s.kill(fmt.Errorf("write: %w", r.err))
			return r.n > 0, s.Err() // the first cause, maybe the reader's
		}
		return true, nil
	}
	select {
	case r := <-res:
		return finished(r)
	case <-s.done:
		// The connection is being closed under the write, which ends
		// soon; its count tells whether anything went out.
		select {
		case r := <-res:
			if r.err != nil {
				return r.n > 0, s.Err()
			}
			return true, s.Err()
		case <-ctx.Done():
			return true, ctx.Err()
		}
	case <-ctx.Done():
		select {
		case r := <-res: // finished just now
			if wrote, err := finished(r); err != nil {
				return wrote, err
			}
		default:
			s.kill(errors.New("write did not complete"))
		}
		return true, ctx.Err()
	}
}
