package twittertest

import (
	"crypto/rand"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
)

// pendingLogin is a PIN login between request_token and access_token.
type pendingLogin struct {
	secret   string
	pin      string
	approved bool
}

// requestSecret is the token-secret lookup for oauth/access_token: the
// request token must be one this server handed out.
func (s *Server) requestSecret(token string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.logins[token]
	if !ok {
		return "", false
	}
	return l.secret, true
}

// requestToken serves POST /oauth/request_token, signed with the consumer
// credentials alone.
func (s *Server) requestToken(w http.ResponseWriter, rec Request, params url.Values) {
	if params.Get("oauth_callback") == "" {
		s.writeError(w, rec, http.StatusBadRequest, 417, "Desktop applications only support the oauth_callback value 'oob'")
		return
	}
	s.mu.Lock()
	s.loginSeq++
	token := fmt.Sprintf("req-%d-%s", s.loginSeq, rand.Text()[:12])
	l := &pendingLogin{secret: rand.Text(), pin: fmt.Sprintf("%07d", 1000000+s.loginSeq*7919%9000000)}
	s.logins[token] = l
	s.mu.Unlock()
	body := url.Values{"oauth_token": {token}, "oauth_token_secret": {l.secret}, "oauth_callback_confirmed": {"true"}}.Encode()
	s.write(w, rec, http.StatusOK, "text/html; charset=utf-8", []byte(body))
}

// Approve plays the user who opened the authorize page for requestToken
// and approved the app; it returns the PIN the page shows. ok is false for
// an unknown token.
func (s *Server) Approve(requestToken string) (pin string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.logins[requestToken]
	if !ok {
		return "", false
	}
	l.approved = true
	return l.pin, true
}

// authorizePage serves GET /oauth/authorize?oauth_token=…: the page where
// the user approves the app. Here it approves at once and shows the PIN.
func (s *Server) authorizePage(w http.ResponseWriter, rec Request) {
	pin, ok := s.Approve(rec.Query.Get("oauth_token"))
	if !ok {
		s.write(w, rec, http.StatusForbidden, "text/html; charset=utf-8", []byte("<html><body><p>This page is no longer valid.</p></body></html>"))
		return
	}
	page := "<html><body><p>You approved the app. Enter this PIN in the app:</p><code id=\"oauth_pin\">" + html.EscapeString(pin) + "</code></body></html>"
	s.write(w, rec, http.StatusOK, "text/html; charset=utf-8", []byte(page))
}

// accessToken serves POST /oauth/access_token: an approved request token
// and its PIN (oauth_verifier) become the server's access token, once.
func (s *Server) accessToken(w http.ResponseWriter, rec Request, params url.Values) {
	token := params.Get("oauth_token")
	s.mu.Lock()
	l, ok := s.logins[token]
	if ok && l.approved && params.Get("oauth_verifier") == l.pin {
		delete(s.logins, token)
	} else {
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		s.writeError(w, rec, http.StatusUnauthorized, 0, "Invalid request token or verifier.")
		return
	}
	body := url.Values{
		"oauth_token":        {s.opts.AccessToken},
		"oauth_token_secret": {s.opts.AccessSecret},
		"user_id":            {strconv.FormatInt(s.opts.UserID, 10)},
		"screen_name":        {s.opts.ScreenName},
	}.Encode()
	s.write(w, rec, http.StatusOK, "text/html; charset=utf-8", []byte(body))
}
