package ejabberdtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/r2sync/r2sync/renren/internal/serverproc"
)

// register creates an account through ejabberd's HTTP API, which the
// config opens to loopback for this command only.
func (s *Server) register(user, password string) error {
	body, err := json.Marshal(map[string]string{"user": user, "host": s.domain, "password": password})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+hostPort(s.httpPort)+"/api/register", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("register %s: %w", user, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("register %s: %s: %s", user, resp.Status, msg)
	}
	return nil
}

// Login is one c2s login as ejabberd logged it.
type Login struct {
	JID       string // bare JID
	Mechanism string // e.g. "SCRAM-SHA-256-PLUS"
}

// ejabberd 23.01 logs at info:
// "(<pid>) Accepted c2s SCRAM-SHA-256 authentication for u@host by sql backend from ::ffff:127.0.0.1".
var acceptedRe = regexp.MustCompile(`Accepted c2s (\S+) authentication for (\S+) by`)

// Logins returns the successful logins in ejabberd's log so far.
func (s *Server) Logins() []Login {
	var out []Login
	for _, m := range acceptedRe.FindAllSubmatch(serverproc.ReadFrom(s.logPath, 0), -1) {
		out = append(out, Login{Mechanism: string(m[1]), JID: string(m[2])})
	}
	return out
}

// WaitLogins waits until ejabberd has logged n logins and returns them;
// it writes its log a moment after it answers.
func (s *Server) WaitLogins(ctx context.Context, n int) ([]Login, error) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		got := s.Logins()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("ejabberdtest: %w waiting for %d logins in %s, have %+v", ctx.Err(), n, s.logPath, got)
		case <-t.C:
		}
	}
}
