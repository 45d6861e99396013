package renren

import (
	"encoding/xml"
	"sync"
	"sync/atomic"
)

// maxFeedPending bounds the news-feed events a session holds back while
// an earlier one is still being handled. A gap this wide means the
// earlier one is lost (it cannot be, but a bound costs nothing).
const maxFeedPending = 1024

// decoderFeeds maps the live decoders of sessions to their feedSeq, so
// that an <xfeed/>, decoded through the library's global type registry,
// can tell which session and which place in its stream it belongs to.
var decoderFeeds sync.Map // *xml.Decoder -> *feedSeq

func feedSeqOf(d *xml.Decoder) *feedSeq {
	if v, ok := decoderFeeds.Load(d); ok {
		return v.(*feedSeq)
	}
	return nil
}

// feedSeq puts a session's news-feed events back into stream order.
// Each <xfeed/> takes a ticket as it is decoded (in stream order) and is
// handled on a goroutine of the library's; done releases the events whose
// tickets come next, in order, to out.
type feedSeq struct {
	tickets atomic.Uint64
	out     func(*FeedEvent) // called in order, one at a time
	gap     func(skipped uint64)

	mu      sync.Mutex
	next    uint64                // the ticket to release next
	pending map[uint64]*FeedEvent // done out of order; nil: skipped
}

func newFeedSeq(out func(*FeedEvent), gap func(uint64)) *feedSeq {
	return &feedSeq{out: out, gap: gap, pending: make(map[uint64]*FeedEvent)}
}

// take returns the next ticket, 0 for the first.
func (f *feedSeq) take() uint64 { return f.tickets.Add(1) - 1 }

// done hands in the event of ticket, or nil for one that was skipped,
// and releases what is due.
func (f *feedSeq) done(ticket uint64, ev *FeedEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ticket < f.next {
		return // given up on (see below)
	}
	f.pending[ticket] = ev
	f.release()
	if len(f.pending) > maxFeedPending {
		lowest := ticket
		for t := range f.pending {
			lowest = min(lowest, t)
		}
		if f.gap != nil {
			f.gap(lowest - f.next)
		}
		f.next = lowest
		f.release()
	}
}

func (f *feedSeq) release() {
	for {
		ev, ok := f.pending[f.next]
		if !ok {
			return
		}
		delete(f.pending, f.next)
		f.next++
		if ev != nil {
			f.out(ev)
		}
	}
}

// register and unregister tie dec to f for the decoder's lifetime.
func (f *feedSeq) register(dec *xml.Decoder)   { decoderFeeds.Store(dec, f) }
func (f *feedSeq) unregister(dec *xml.Decoder) { decoderFeeds.Delete(dec) }
