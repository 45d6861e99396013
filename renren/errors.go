package renren

import (
	"errors"
	"strings"

	"gosrc.io/xmpp"
)

// ErrAuth matches (errors.Is) the error of a login the server rejected,
// such as a wrong password. Retrying cannot help; the error's text reads
// "login failed for 123456@talk.xiaonei.com: not-authorized".
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

// Fatal tells the mirror (daemon.IsFatal) to stop instead of retrying.
func (e *authError) Fatal() bool { return true }

// saslFailure returns the condition of a SASL failure reported by
// gosrc.io/xmpp, which only gives it as text: ConnError{"auth failure: " +
// condition}. v0.5.1 always leaves the condition empty (SASLFailure.Any
// lacks an xml tag and never matches), so an unknown condition is reported
// as not-authorized, what a rejected PLAIN login nearly always gets.
func saslFailure(err error) (string, bool) {
	var ce xmpp.ConnError
	if !errors.As(err, &ce) || ce.Unwrap() == nil {
		return "", false
	}
	cond, ok := strings.CutPrefix(ce.Unwrap().Error(), "auth failure: ")
	if !ok {
		return "", false
	}
	if cond == "" {
		cond = "not-authorized"
	}
	return cond, true
}

// transientSASL lists the SASL conditions that a retry may cure.
func transientSASL(condition string) bool {
	return condition == "temporary-auth-failure" || condition == "aborted"
}
