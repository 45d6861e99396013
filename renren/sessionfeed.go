package renren

import (
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"
	"gosrc.io/xmpp"
	"gosrc.io/xmpp/stanza"
)

// initFeed sets up the session's news-feed handling.
func (s *Session) initFeed() {
	s.feedSeq = newFeedSeq(s.feedEvent, func(n uint64) {
		s.log.Warn("feed events lost out of order", zap.Uint64("events", n))
	})
}

// isFeedJID reports whether from is Renren's news-feed sender, with or
// without a resource.
func isFeedJID(from string) bool {
	bare, _, _ := strings.Cut(from, "/")
	return strings.EqualFold(bare, feedJID)
}

// handleMessage turns Renren news-feed notifications into FeedEvents and
// ignores every other message: r2sync only writes. It runs on a goroutine
// of the library's per stanza; feedSeq puts the events back in order.
func (s *Session) handleMessage(_ xmpp.Sender, p stanza.Packet) {
	m, ok := p.(stanza.Message)
	if !ok {
		return
	}
	fromFeed := isFeedJID(m.From)
	found := false
	for _, ext := range m.Extensions {
		x, ok := ext.(*xfeed)
		if !ok {
			continue
		}
		found = true
		ev := s.feedFromMessage(m, x, fromFeed)
		if x.seq != nil {
			x.seq.done(x.ticket, ev)
		} else if ev != nil {
			s.feedEvent(ev)
		}
	}
	switch {
	case found:
	case fromFeed:
		s.skipped.Add(1)
		s.log.Info("feed message skipped", zap.String("reason", "no <xfeed/>"), zap.String("id", clip(m.Id)))
	default:
		s.log.Debug("message ignored", zap.String("from", clip(m.From)), zap.String("type", clip(string(m.Type))))
	}
}

// feedFromMessage parses one <xfeed/>, or logs why it is skipped and
// returns nil.
func (s *Session) feedFromMessage(m stanza.Message, x *xfeed, fromFeed bool) *FeedEvent {
	if !fromFeed {
		s.skipped.Add(1)
		s.log.Info("feed event skipped", zap.String("reason", "not from "+feedJID), zap.String("from", clip(m.From)))
		return nil
	}
	node, err := parseFeed(x.XMLName, x.Attrs, x.Inner)
	if err != nil {
		s.skipped.Add(1)
		s.log.Warn("feed event skipped", zap.String("reason", "malformed"), zap.String("id", clip(m.Id)), zap.Error(err))
		return nil
	}
	return &FeedEvent{Received: x.Received, From: m.From, To: m.To, ID: m.Id, Feed: node, XML: string(x.Inner)}
}

// feedEvent takes one event, in stream order: it is counted, logged and
// appended to the feed log.
func (s *Session) feedEvent(ev *FeedEvent) {
	n := s.feeds.Add(1)
	s.cfg.events.FeedEvent()
	s.log.Info("feed event", zap.String("from", clip(ev.From)), zap.String("id", clip(ev.ID)),
		zap.Object("xfeed", ev.Feed), zap.Int("bytes", len(ev.XML)), zap.Int64("feed_events", n))
	if s.cfg.feedLog != nil {
		s.cfg.feedLog.Append(ev)
	}
}

// clip bounds a server's string in a log line.
func clip(v string) string {
	const max = 256
	if len(v) <= max {
		return v
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + "…"
}
