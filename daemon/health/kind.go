package health

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// Kind classifies err for the r2sync_errors_total{kind} label, by the
// methods the adapters' errors carry (so this package needs neither):
//
//	fatal         retrying cannot help; the daemon stops (a rejected XMPP login)
//	rate_limited  the API refused for its rate limit
//	permanent     needs the user's attention (revoked token, wrong secret)
//	disk_full     the file system has no room (or quota) for the state
//	timeout       a deadline passed
//	network       the connection failed
//	other         anything else (5xx, garbage, a lost session)
func Kind(err error) string {
	var (
		fatal     interface{ Fatal() bool }
		limited   interface{ RateLimited() bool }
		retry     interface{ RetryAt() time.Time }
		permanent interface{ Permanent() bool }
		netErr    net.Error
	)
	switch {
	case errors.As(err, &fatal) && fatal.Fatal():
		return "fatal"
	case errors.As(err, &limited) && limited.RateLimited(),
		errors.As(err, &retry) && !retry.RetryAt().IsZero():
		return "rate_limited"
	case errors.As(err, &permanent) && permanent.Permanent():
		return "permanent"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "disk_full"
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &netErr):
		return "network"
	}
	return "other"
}

// oneLine squeezes s onto one line of at most n runes, for STATUS= and
// health answers.
func oneLine(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}
