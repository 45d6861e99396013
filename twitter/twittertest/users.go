package twittertest

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// User is an account of the server with its own access token, as each
// user who authorized the app has: every one signs with the server's one
// consumer key and secret, and with its own token secret. The user of
// Options is one; AddUser registers more.
type User struct {
	ID         int64
	ScreenName string
	// AccessToken and AccessSecret are the user's OAuth 1.0a token.
	AccessToken, AccessSecret string
}

// firstGeneratedID is where user ids that AddUser picks start: far from
// DefaultUserID and from the authors tests tend to make up.
const firstGeneratedID = 3_000_000_001

// account is a registered user and whether its token works.
type account struct {
	User
	revoked bool
}

// userTable holds the registered users; the server's s.mu guards it.
type userTable struct {
	byID    map[int64]*account
	byToken map[string]*account
	order   []int64 // registration order, the default user first
}

// newUserTable registers the user of o, whose defaults are filled in.
func newUserTable(o Options) userTable {
	u := &account{User: User{ID: o.UserID, ScreenName: o.ScreenName, AccessToken: o.AccessToken, AccessSecret: o.AccessSecret}}
	return userTable{
		byID:    map[int64]*account{u.ID: u},
		byToken: map[string]*account{u.AccessToken: u},
		order:   []int64{u.ID},
	}
}

// byName finds a registered user by screen name, as X does: ignoring case.
func (t *userTable) byName(name string) (*account, bool) {
	for _, id := range t.order {
		if a := t.byID[id]; strings.EqualFold(a.ScreenName, name) {
			return a, true
		}
	}
	return nil, false
}

// AddUser registers another user of the app and returns it as stored.
// Empty fields are filled in: an unused ID, ScreenName "user<ID>", and a
// fresh access token ("<ID>-…", the shape of X's) and secret. The user's
// requests are signed with the server's consumer credentials and the
// user's token; its tweets (AddTweet with its UserID, or what it posts)
// make its timeline; it has its own rate-limit windows. Like
// httptest.NewServer on a failed listen, it panics on what can only be a
// mistake in the test: a negative ID, or an ID, screen name or access
// token some registered user already has.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.users
	if u.ID < 0 {
		panic(fmt.Sprintf("twittertest: AddUser: user id %d is negative", u.ID))
	}
	if u.ID == 0 {
		u.ID = firstGeneratedID
		for t.byID[u.ID] != nil {
			u.ID++
		}
	}
	if u.ScreenName == "" {
		u.ScreenName = "user" + idStr(u.ID)
	}
	if u.AccessToken == "" {
		u.AccessToken = idStr(u.ID) + "-" + strings.ToLower(rand.Text())
	}
	if u.AccessSecret == "" {
		u.AccessSecret = rand.Text()
	}
	if t.byID[u.ID] != nil {
		panic(fmt.Sprintf("twittertest: AddUser: user id %d is already registered", u.ID))
	}
	if _, ok := t.byName(u.ScreenName); ok {
		panic(fmt.Sprintf("twittertest: AddUser: screen name %q is already registered", u.ScreenName))
	}
	if t.byToken[u.AccessToken] != nil {
		// The token is not named: it is a credential.
		panic(fmt.Sprintf("twittertest: AddUser: user %d: access token already belongs to another user", u.ID))
	}
	a := &account{User: u}
	t.byID[u.ID] = a
	t.byToken[u.AccessToken] = a
	t.order = append(t.order, u.ID)
	return u
}

// Users returns the registered users in the order they were registered,
// the user of Options first.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users.order))
	for _, id := range s.users.order {
		out = append(out, s.users.byID[id].User)
	}
	return out
}

// RevokeToken makes the access token of the registered user userID
// invalid, as when the user revokes the app's access: that user's
// requests are answered 401 with code 89 ("Invalid or expired token.",
// in v2 a 401 problem) until RestoreToken; other users are not affected.
// It reports whether userID is registered.
func (s *Server) RevokeToken(userID int64) bool {
	return s.setRevoked(userID, true)
}

// RestoreToken makes the token that RevokeToken revoked valid again, the
// same token and secret, as if the user had authorized the app anew and
// the client kept its credentials. It reports whether userID is registered.
func (s *Server) RestoreToken(userID int64) bool {
	return s.setRevoked(userID, false)
}

func (s *Server) setRevoked(userID int64, revoked bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.users.byID[userID]
	if a == nil {
		return false
	}
	a.revoked = revoked
	return true
}

// accessSecret returns the token-secret lookup for a request signed with
// an access token: any registered user's token that is not revoked. It
// sets rec.UserID to the user the token belongs to, even when the token
// is revoked or the signature will not hold, since that is whose request
// it was and whose rate-limit window it counts against.
func (s *Server) accessSecret(rec *Request) func(token string) (string, bool) {
	return func(token string) (string, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		a := s.users.byToken[token]
		if a == nil || token == "" {
			return "", false
		}
		rec.UserID = a.ID
		return a.AccessSecret, !a.revoked
	}
}

// screenNameOf is the screen name of a registered user, or "user<ID>"
// for an author the server only knows from its tweets. The caller holds
// s.mu.
func (s *Server) screenNameOf(id int64) string {
	if a := s.users.byID[id]; a != nil {
		return a.ScreenName
	}
	return "user" + idStr(id)
}
