package mastodontest

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxChars is Mastodon's default character limit of a status.
const maxChars = 500

// NewStatus is a status to make on the server, as an app posting it or
// a remote server delivering it would.
type NewStatus struct {
	// Account is the author's id; "" is the user.
	Account string
	// Text is the plain text; the server renders it as HTML.
	Text string
	// Visibility is "public" (default), "unlisted", "private" or
	// "direct".
	Visibility string
	// SpoilerText is a content warning.
	SpoilerText string
	// InReplyToID is the id of the status answered.
	InReplyToID string
	// ReblogOf makes the status a boost of that status; Text is unused.
	ReblogOf string
}

// AddAccount adds an account the user follows: its statuses appear on
// the user's stream (the home timeline), never in the user's own
// statuses.
func (s *Server) AddAccount(username string) Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.addAccount(username)
	s.accounts[0].FollowingCount++
	a.FollowersCount++
	return *a
}

// addAccount makes an account; s.mu is held (or s is not yet shared).
func (s *Server) addAccount(username string) *Account {
	created := time.Now().UTC().Truncate(24 * time.Hour).Format("2006-01-02T15:04:05.000Z")
	a := &Account{
		ID:           strconv.FormatInt(s.nextID(), 10),
		Username:     username,
		Acct:         username,
		DisplayName:  username,
		Discoverable: true,
		CreatedAt:    created,
		URL:          s.url + "/@" + username,
		Avatar:       s.url + "/avatars/original/missing.png",
		AvatarStatic: s.url + "/avatars/original/missing.png",
		Header:       s.url + "/headers/original/missing.png",
		HeaderStatic: s.url + "/headers/original/missing.png",
		Emojis:       []any{},
		Fields:       []any{},
	}
	s.accounts = append(s.accounts, a)
	return a
}

// nextID returns a new id the way Mastodon makes them: the millisecond
// time shifted left 16 bits plus a sequence, so ids grow with time and
// have 18 digits. s.mu is held.
func (s *Server) nextID() int64 {
	id := time.Now().UnixMilli() << 16
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	return id
}

func (s *Server) accountByID(id string) *Account {
	for _, a := range s.accounts {
		if a.ID == id {
			return a
		}
	}
	return nil
}

func (s *Server) accountByUsername(name string) *Account {
	for _, a := range s.accounts {
		if strings.EqualFold(a.Username, name) {
			return a
		}
	}
	return nil
}

// Errors of Post, with Mastodon's messages.
var (
	errBlank    = errors.New("Validation failed: Text can't be blank")
	errTooLong  = errors.New("Validation failed: Text character limit of 500 exceeded")
	errNotFound = errors.New("Record not found")
)

// Post makes a status and sends it to the streams whose home timeline
// it belongs to.
func (s *Server) Post(n NewStatus) (Status, error) {
	s.mu.Lock()
	st, err := s.create(n)
	if err != nil {
		s.mu.Unlock()
		return Status{}, err
	}
	s.mu.Unlock()
	s.broadcast("update", st)
	return *st, nil
}

// PostReordered makes two statuses, first then second, and sends their
// stream events in the other order, as Mastodon's concurrent fan-out
// workers can for two posts made within milliseconds.
func (s *Server) PostReordered(first, second NewStatus) (Status, Status, error) {
	s.mu.Lock()
	a, err := s.create(first)
	if err != nil {
		s.mu.Unlock()
		return Status{}, Status{}, err
	}
	b, err := s.create(second)
	if err != nil {
		s.mu.Unlock()
		return Status{}, Status{}, err
	}
	s.mu.Unlock()
	s.broadcast("update", b)
	s.broadcast("update", a)
	return *a, *b, nil
}

// create makes a status; s.mu is held.
func (s *Server) create(n NewStatus) (*Status, error) {
	author := s.accounts[0]
	if n.Account != "" {
		if author = s.accountByID(n.Account); author == nil {
			return nil, errNotFound
		}
	}
	vis := n.Visibility
	if vis == "" {
		vis = "public"
	}
	switch vis {
	case "public", "unlisted", "private", "direct":
	default:
		return nil, errors.New("Validation failed: Visibility is invalid")
	}
	id := strconv.FormatInt(s.nextID(), 10)
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	st := &Status{
		ID:               id,
		CreatedAt:        now,
		Visibility:       vis,
		SpoilerText:      n.SpoilerText,
		Sensitive:        n.SpoilerText != "",
		URI:              s.url + "/users/" + author.Username + "/statuses/" + id,
		Account:          *author,
		Filtered:         []any{},
		MediaAttachments: []any{},
		Mentions:         []Mention{},
		Tags:             []Tag{},
		Emojis:           []any{},
		Application:      &Application{Name: "Web"},
	}
	if n.ReblogOf != "" {
		orig := s.byID[n.ReblogOf]
		if orig == nil || orig.Reblog != nil {
			return nil, errNotFound
		}
		o := *orig
		st.Reblog = &o
		st.URI += "/activity"
		st.Visibility = "public"
		st.Sensitive = false
		st.SpoilerText = ""
		st.Application = nil
		orig.ReblogsCount++
	} else {
		if strings.TrimSpace(n.Text) == "" {
			return nil, errBlank
		}
		if utf8.RuneCountInString(n.Text) > maxChars {
			return nil, errTooLong
		}
		u := s.url + "/@" + author.Username + "/" + id
		st.URL = &u
		lang := "en"
		st.Language = &lang
		st.text = n.Text
		st.Content, st.Tags, st.Mentions = s.format(n.Text)
		if st.Tags == nil {
			st.Tags = []Tag{}
		}
		if st.Mentions == nil {
			st.Mentions = []Mention{}
		}
	}
	if n.InReplyToID != "" {
		parent := s.byID[n.InReplyToID]
		if parent == nil {
			return nil, errNotFound
		}
		pid, paid := parent.ID, parent.Account.ID
		st.InReplyToID, st.InReplyToAccountID = &pid, &paid
		parent.RepliesCount++
	}
	author.StatusesCount++
	day := now[:10]
	author.LastStatusAt = &day
	st.Account = *author
	s.statuses = append(s.statuses, st) // ids only grow
	s.byID[id] = st
	return st, nil
}

// Edit changes a status's text and sends status.update to the streams.
func (s *Server) Edit(id, text string) (Status, error) {
	s.mu.Lock()
	st := s.byID[id]
	if st == nil || st.Reblog != nil {
		s.mu.Unlock()
		return Status{}, errNotFound
	}
	st.text = text
	st.Content, st.Tags, st.Mentions = s.format(text)
	at := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	st.EditedAt = &at
	s.mu.Unlock()
	s.broadcast("status.update", st)
	return *st, nil
}

// Delete removes a status and sends delete to the streams.
func (s *Server) Delete(id string) error {
	s.mu.Lock()
	st := s.byID[id]
	if st == nil {
		s.mu.Unlock()
		return errNotFound
	}
	delete(s.byID, id)
	s.statuses = slices.DeleteFunc(s.statuses, func(x *Status) bool { return x.ID == id })
	s.mu.Unlock()
	s.broadcast("delete", st)
	return nil
}

// Statuses returns every status, oldest first.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, len(s.statuses))
	for i, st := range s.statuses {
		out[i] = *st
	}
	return out
}

// compareIDs orders decimal ids as numbers.
func compareIDs(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// pageQuery is an account statuses request's paging and filters.
type pageQuery struct {
	maxID, sinceID, minID          string
	limit                          int
	excludeReblogs, excludeReplies bool
}

// page selects the statuses of account that viewer may see for q, newest
// first, as Mastodon pages: with min_id the statuses right after it,
// otherwise the newest ones below max_id and above since_id.
func (s *Server) page(account, viewer string, q pageQuery) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sel []*Status
	for _, st := range s.statuses {
		if st.Account.ID != account {
			continue
		}
		if viewer != account && st.Visibility != "public" && st.Visibility != "unlisted" {
			continue
		}
		if q.excludeReblogs && st.Reblog != nil {
			continue
		}
		if q.excludeReplies && st.InReplyToID != nil && *st.InReplyToAccountID != account {
			continue
		}
		if q.maxID != "" && compareIDs(st.ID, q.maxID) >= 0 {
			continue
		}
		if q.sinceID != "" && compareIDs(st.ID, q.sinceID) <= 0 {
			continue
		}
		if q.minID != "" && compareIDs(st.ID, q.minID) <= 0 {
			continue
		}
		sel = append(sel, st)
	}
	// sel is oldest first.
	if q.minID != "" {
		if len(sel) > q.limit {
			sel = sel[:q.limit]
		}
	} else if len(sel) > q.limit {
		sel = sel[len(sel)-q.limit:]
	}
	out := make([]Status, 0, len(sel))
	for i := len(sel) - 1; i >= 0; i-- {
		out = append(out, *sel[i])
	}
	return out
}
