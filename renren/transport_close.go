package renren

import (
	"io"
	"time"

	"gosrc.io/xmpp/stanza"
)

// How a transport gives up on its connection: closing must never wait on
// the peer for long, since a peer that stopped reading is one reason to
// close.

// fail records why the connection is unusable and closes it.
func (t *transport) fail(err error) {
	t.mu.Lock()
	if t.failure == nil && !t.closed {
		t.failure = err
	}
	t.mu.Unlock()
	t.Close()
}

// failed returns why the transport gave up on the connection (a limit the
// server crossed, a write that failed), or nil.
func (t *transport) failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failure
}

// why prefers the transport's own reason to the error a reader made of it.
func (t *transport) why(err error) error {
	if f := t.failed(); f != nil {
		return f
	}
	return err
}

// Close ends the connection now: it is how the library drops a connection
// (a stream error, a failed login or keepalive) and how renren drops a dead
// session. It says </stream:stream> when a stream is open, without waiting
// for the server's, and closes the socket. Safe at any time, from any
// goroutine, while Connect runs, and more than once.
func (t *transport) Close() error {
	t.close(0)
	return nil
}

// shutdown is Close after a clean end: it waits up to wait for the server
// to close its stream, the sign that it has processed everything sent
// before (a socket closed with unread data may reset the connection).
func (t *transport) shutdown(wait time.Duration) { t.close(wait) }

func (t *transport) close(wait time.Duration) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.nowOnce.Do(func() { close(t.closeNow) })
		<-t.done
		return
	}
	t.closed = true
	for _, dec := range t.decoders {
		t.feed.unregister(dec)
	}
	t.decoders = nil
	raw, conn, open := t.raw, t.conn, t.open && t.failure == nil
	if raw != nil {
		_ = raw.SetWriteDeadline(time.Now().Add(max(wait, abortWriteTimeout)))
	}
	t.mu.Unlock()
	defer close(t.done)
	t.cancelLogin() // a dial or a handshake in progress ends
	if raw == nil {
		return // Connect has not dialed yet and will see closed
	}
	if open && t.lockWrites(wait) {
		_, _ = io.WriteString(conn, stanza.StreamClose)
		<-t.wsem
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-t.peerClosed:
			case <-t.readEnded:
			case <-t.closeNow:
			case <-timer.C:
			}
			timer.Stop()
		}
	}
	_ = raw.Close()
}

// lockWrites takes the write lock, waiting at most wait for a write in
// progress. A write that takes longer is stuck on a peer that does not
// read, and the courtesy </stream:stream> is skipped.
func (t *transport) lockWrites(wait time.Duration) bool {
	select {
	case t.wsem <- struct{}{}:
		return true
	default:
	}
	if wait <= 0 {
		return false
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case t.wsem <- struct{}{}:
		return true
	case <-timer.C:
		return false
	}
}
