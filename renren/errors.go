package renren

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrAuth matches (errors.Is) the error of a login the server rejected,
// such as a wrong password. Retrying soon cannot help; the error's text
// reads "login failed for 123456@talk.xiaonei.com: not-authorized". Dial
// returns it; a Conn logs it and retries only after LongBackoff.
var ErrAuth = errors.New("login failed")

// ErrClosed is returned by a Session after Close and by a Conn after Run
// has returned.
var ErrClosed = errors.New("connection closed")

// authError is a SASL <failure/> for an account.
type authError struct {
	jid       string
	condition string // RFC 6120 6.5 condition, e.g. "not-authorized"
}

func (e *authError) Error() string { return "login failed for " + e.jid + ": " + e.condition }

// Is makes errors.Is(err, ErrAuth) true.
func (e *authError) Is(target error) bool { return target == ErrAuth }

// Permanent tells a caller that only the user can fix this (a wrong
// password or jid): retry slowly, if at all. A daemon must not stop on it,
// since a password changed back or a server fixed cures it.
func (e *authError) Permanent() bool { return true }

// StreamError is a <stream:error/> with which the server ended a session,
// e.g. "conflict" when another login took the resource, "system-shutdown"
// when the server stops, or "see-other-host" with the host to use instead.
type StreamError struct {
	Condition string // RFC 6120 4.9.3 condition
	Host      string // for see-other-host: the "host" or "host:port" named
}

func (e *StreamError) Error() string {
	if e.Host != "" {
		return "stream error: " + e.Condition + " " + e.Host
	}
	return "stream error: " + e.Condition
}

// libStreamError recognizes the error gosrc.io/xmpp hands its
// ErrorHandler for a stream error: errors.New("stream error: " + condition).
// The condition is the server's element name; it is kept only when it
// looks like one.
func libStreamError(err error) (*StreamError, bool) {
	cond, ok := strings.CutPrefix(err.Error(), "stream error: ")
	if !ok || cond == "" || len(cond) > 64 || strings.ContainsFunc(cond, func(r rune) bool {
		return !(r == '-' || (r >= 'a' && r <= 'z'))
	}) {
		return nil, false
	}
	return &StreamError{Condition: cond}, true
}

// needsUser reports whether err ended a session for a reason that an
// immediate reconnect would only repeat: the login was rejected, no SASL
// mechanism is acceptable to both sides, or
// another client took over the account's resource (conflict) or the
// server revoked the login (not-authorized). A Conn waits LongBackoff then.
func needsUser(err error) bool {
	var me *mechanismError
	if errors.Is(err, ErrAuth) || errors.As(err, &me) {
		return true
	}
	var se *StreamError
	return errors.As(err, &se) && (se.Condition == "conflict" || se.Condition == "not-authorized")
}

// transientSASL lists the SASL conditions that a retry may cure.
func transientSASL(condition string) bool {
	return condition == "temporary-auth-failure" || condition == "aborted"
}

// uncertainError wraps the error of a status that went out, at least in
// part, on a live session that never confirmed it: the server may have
// published it, so sending it again may post it twice. It has the
// Uncertain method that daemon looks for (errors.As on an interface) and
// does not import renren for.
type uncertainError struct{ err error }

func uncertain(err error) error { return &uncertainError{err: err} }

func (e *uncertainError) Error() string {
	return "status sent but not confirmed (it may have been published): " + e.err.Error()
}

func (e *uncertainError) Unwrap() error { return e.err }

// Uncertain reports that the status may have been published.
func (e *uncertainError) Uncertain() bool { return true }

// errServerClosedStream is why a session ends when the server sends
// </stream:stream>.
var errServerClosedStream = errors.New("the server closed the stream")

// maxErrorText bounds the text of an error that quotes a server's bytes:
// encoding/xml puts a whole entity or element name into its message
// ("invalid character entity &aaaa…;"), and a hostile server can make that
// a megabyte that would go into every log line and retry message.
const maxErrorText = 200

// truncatedError is an error whose text was cut to maxErrorText.
type truncatedError struct {
	err error
	msg string
}

func (e *truncatedError) Error() string { return e.msg }
func (e *truncatedError) Unwrap() error { return e.err }

// shorten returns err, or err with its text cut when it is too long.
func shorten(err error) error {
	msg := err.Error()
	if len(msg) <= maxErrorText {
		return err
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return &truncatedError{err: err, msg: fmt.Sprintf("%s… (%d bytes)", msg[:cut], len(msg))}
}
