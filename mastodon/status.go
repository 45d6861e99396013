package mastodon

import (
	"time"

	"github.com/r2sync/r2sync/daemon"
)

// status is the part of Mastodon's Status entity r2sync reads.
type status struct {
	ID                 string    `json:"id"`
	CreatedAt          string    `json:"created_at"`
	InReplyToID        *string   `json:"in_reply_to_id"`
	InReplyToAccountID *string   `json:"in_reply_to_account_id"`
	SpoilerText        string    `json:"spoiler_text"`
	Visibility         string    `json:"visibility"`
	URI                string    `json:"uri"`
	URL                *string   `json:"url"`
	Content            string    `json:"content"`
	Reblog             *status   `json:"reblog"`
	Account            account   `json:"account"`
	Tags               []tag     `json:"tags"`
	EditedAt           *string   `json:"edited_at"`
	createdAt          time.Time // parsed
}

// account is the part of Mastodon's Account entity r2sync reads.
type account struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Acct     string `json:"acct"`
	URL      string `json:"url"`
}

// tag is a Status's Tag.
type tag struct {
	Name string `json:"name"`
}

// Content-warning modes (Options.ContentWarning).
const (
	CWSkip    = "skip"    // a post with a warning is never mirrored
	CWSpoiler = "spoiler" // the status is the warning text only
	CWFull    = "full"    // the warning, a blank line, then the text
)

// Skip reasons this package sets on a daemon.Post.
const (
	skipVisibility     = "visibility"
	skipContentWarning = "content_warning"
)

// toPost turns one of the user's own statuses into a daemon.Post. A
// status the user's settings exclude (its visibility, a content warning
// with CWSkip) comes with Skip set and without its text, so that the
// mirror counts it as a skip, moves its cursor past it, and nothing of
// it can reach a status even if a filter downstream failed; Visibility
// is kept, which the mirror's filter refuses for private and direct
// posts on its own. A boost is a Repost with the text "RT @acct: text",
// X's form, which the template and the [sync] filters already know; a
// reply to another account is a Reply, a reply to oneself (a thread) is
// not.
func (s *Source) toPost(st *status) daemon.Post {
	p := daemon.Post{
		ID:         st.ID,
		Cursor:     st.ID,
		Author:     st.Account.Acct,
		CreatedAt:  st.createdAt,
		Visibility: st.Visibility,
	}
	if st.URL != nil {
		p.URL = *st.URL
	}
	shown := st
	if st.Reblog != nil {
		p.Repost = true
		shown = st.Reblog
		if p.URL == "" && shown.URL != nil {
			p.URL = *shown.URL
		}
	}
	if p.URL == "" {
		p.URL = st.URI
	}
	if st.InReplyToAccountID != nil && *st.InReplyToAccountID != "" && *st.InReplyToAccountID != s.ownID() {
		p.Reply = true
	}
	for _, t := range shown.Tags {
		p.Hashtags = append(p.Hashtags, t.Name)
	}
	if !s.visible[st.Visibility] {
		p.Skip = skipVisibility
		return p
	}
	text := plainText(shown.Content)
	if cw := shown.SpoilerText; cw != "" {
		switch s.cw {
		case CWSpoiler:
			text = cw
		case CWFull:
			text = cw + "\n\n" + text
		default:
			p.Skip = skipContentWarning
			return p
		}
	}
	if p.Repost {
		text = "RT @" + shown.Account.Acct + ": " + text
	}
	p.Text = text
	return p
}
