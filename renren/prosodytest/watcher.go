package prosodytest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Status is one presence stanza received by a Watcher.
type Status struct {
	From      string // full JID of the sender, as the server stamped it
	Text      string // content of the first <status/> (prefers one without xml:lang); "" if none
	HasStatus bool   // whether the presence carried a <status/> element at all
	Type      string // presence type attribute: "" (available), "unavailable", "subscribe", "error", ...
	Show      string // <show/>: "", "away", "chat", "dnd", "xa"
}

// Watcher is an independent minimal XMPP client (stdlib only) logged in to
// the test server. It records every presence it receives from other
// accounts. Create it with Server.Watch. Its methods are safe for concurrent
// use.
//
// A Watcher does not reconnect: after Server.Restart (or Stop) its stream is
// closed, WaitStatuses returns an error, and a new Watch is needed.
type Watcher struct {
	jid    string
	roster []string
	c      *xmppConn

	mu        sync.Mutex
	presences []Status
	changed   chan struct{} // closed and replaced whenever presences grows
	err       error         // why the stream ended, once done is closed

	done      chan struct{} // closed when the read loop has exited
	closeOnce sync.Once
}

// Watch logs in as localpart (which must be listed in Options.Group and be
// registered) and starts recording presences. The watcher sends initial
// presence, so the server immediately probes the other group members and
// delivers their current presence. It is closed by tb.Cleanup.
//
// Watch is also the way to get a second raw client for a test: log in as
// another group member and use SendRaw.
func (s *Server) Watch(tb testing.TB, localpart, password string) *Watcher {
	tb.Helper()
	if !slices.Contains(s.opts.Group, localpart) {
		tb.Fatalf("prosodytest: Watch(%q): not in Options.Group %q, so it would see no presences", localpart, s.opts.Group)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, roster, err := dialClient(ctx, clientConfig{
		Addr:     s.Addr(),
		Domain:   s.domain,
		Pool:     s.pki.CAPool,
		User:     localpart,
		Password: password,
		Resource: "prosodytest-watcher",
	})
	if err != nil {
		tb.Fatalf("prosodytest: Watch(%q) on %s: %v\n%s", localpart, s.Addr(), err, s.logTail())
	}
	w := &Watcher{
		jid:     c.jid,
		roster:  roster,
		c:       c,
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go w.readLoop()
	if err := c.send("<presence/>"); err != nil {
		w.Close()
		tb.Fatalf("prosodytest: Watch(%q): send initial presence: %v", localpart, err)
	}
	tb.Cleanup(w.Close)
	return w
}

// JID returns the watcher's own full JID.
func (w *Watcher) JID() string { return w.jid }

// Roster returns the bare JIDs of the roster the server sent at login (with
// mod_groups: the other group members).
func (w *Watcher) Roster() []string { return slices.Clone(w.roster) }

// SendRaw writes raw XML (for example a <presence/> with a status) on the
// watcher's stream. The caller is responsible for well-formed, escaped XML.
func (w *Watcher) SendRaw(s string) error {
	select {
	case <-w.done:
		return fmt.Errorf("watcher %s: stream closed: %w", w.jid, w.Err())
	default:
	}
	return w.c.send(s)
}

// Close ends the watcher's stream and waits for its reader to exit.
// It is idempotent.
func (w *Watcher) Close() {
	w.closeOnce.Do(func() {
		w.c.close()
		<-w.done
	})
}

// Done is closed once the watcher's stream has ended.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Err returns why the stream ended (nil while it is open).
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Presences returns every presence received from other accounts so far, in
// arrival order, including ones without a status and unavailable ones.
func (w *Watcher) Presences() []Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.presences)
}

// Statuses returns the available presences (no type attribute) that carried
// a <status/> element, from any other account, in arrival order.
//
// Unavailable presences are excluded even when they carry a status: Prosody
// adds "Disconnected: ..." to the unavailable presence of a dropped session.
func (w *Watcher) Statuses() []Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return filterStatuses(w.presences, "")
}

// WaitStatuses waits until at least n available presences with a <status/>
// (as in Statuses) have arrived from the bare JID from (a full JID is
// reduced to its bare part), and returns all of them. On ctx expiry or when
// the stream ends first it returns those seen so far and an error that
// lists every presence from that JID.
func (w *Watcher) WaitStatuses(ctx context.Context, from string, n int) ([]Status, error) {
	from = bareJID(from)
	for {
		w.mu.Lock()
		got := filterStatuses(w.presences, from)
		changed := w.changed
		w.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-changed:
		case <-w.done:
			// Take a last look: presences may have arrived just before the end.
			w.mu.Lock()
			got = filterStatuses(w.presences, from)
			w.mu.Unlock()
			if len(got) >= n {
				return got, nil
			}
			return got, fmt.Errorf("watcher %s: stream ended (%v) with %d of %d statuses from %s; %s",
				w.jid, w.Err(), len(got), n, from, w.describe(from))
		case <-ctx.Done():
			return got, fmt.Errorf("watcher %s: %w waiting for %d statuses from %s, got %d; %s",
				w.jid, ctx.Err(), n, from, len(got), w.describe(from))
		}
	}
}

// WaitPresences waits until cond holds for every presence received so
// far from the bare JID from (any type, with or without a status), and
// returns them. It fails when ctx ends or the stream ends first.
func (w *Watcher) WaitPresences(ctx context.Context, from string, cond func([]Status) bool) ([]Status, error) {
	from = bareJID(from)
	for {
		w.mu.Lock()
		var got []Status
		for _, p := range w.presences {
			if strings.EqualFold(bareJID(p.From), from) {
				got = append(got, p)
			}
		}
		changed := w.changed
		w.mu.Unlock()
		if cond(got) {
			return got, nil
		}
		select {
		case <-changed:
		case <-w.done:
			return got, fmt.Errorf("watcher %s: stream ended (%v); %s", w.jid, w.Err(), w.describe(from))
		case <-ctx.Done():
			return got, fmt.Errorf("watcher %s: %w; %s", w.jid, ctx.Err(), w.describe(from))
		}
	}
}

func (w *Watcher) describe(from string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "all %d presences received:", len(w.presences))
	for _, p := range w.presences {
		mark := ""
		if from != "" && strings.EqualFold(bareJID(p.From), from) {
			mark = "*"
		}
		fmt.Fprintf(&b, " %s%+v", mark, p)
	}
	return b.String()
}

func filterStatuses(ps []Status, from string) []Status {
	var out []Status
	for _, p := range ps {
		if p.Type != "" || !p.HasStatus {
			continue
		}
		if from != "" && !strings.EqualFold(bareJID(p.From), from) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func (w *Watcher) readLoop() {
	err := w.read()
	// Answer the server's </stream:stream> (or any failure) by closing our
	// side at once: on shutdown Prosody waits for its clients to go away.
	w.c.close()
	w.mu.Lock()
	if err == nil {
		err = errStreamClosed
	}
	w.err = err
	w.mu.Unlock()
	close(w.done)
}

func (w *Watcher) read() error {
	own := bareJID(w.jid)
	for {
		se, err := w.c.nextElement()
		if err != nil {
			return err
		}
		switch {
		case se.Name.Local == "presence" && se.Name.Space == nsClient:
			var p presenceStanza
			if err := w.c.dec.DecodeElement(&p, &se); err != nil {
				return fmt.Errorf("decode presence: %w", err)
			}
			if strings.EqualFold(bareJID(p.From), own) {
				continue // our own presence, reflected
			}
			st := Status{From: p.From, Type: p.Type, Show: strings.TrimSpace(p.Show)}
			if len(p.Status) > 0 {
				st.HasStatus = true
				st.Text = p.Status[0].Text
				for _, s := range p.Status {
					if s.Lang == "" {
						st.Text = s.Text
						break
					}
				}
			}
			w.mu.Lock()
			w.presences = append(w.presences, st)
			close(w.changed)
			w.changed = make(chan struct{})
			w.mu.Unlock()
		case se.Name.Local == "iq" && se.Name.Space == nsClient:
			var iq iqStanza
			if err := w.c.dec.DecodeElement(&iq, &se); err != nil {
				return fmt.Errorf("decode iq: %w", err)
			}
			if err := w.c.answerIQ(&iq); err != nil {
				return err
			}
		default:
			if err := w.c.dec.Skip(); err != nil {
				return err
			}
		}
	}
}
