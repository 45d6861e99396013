package mastodontest

// The JSON entities, with the fields and types of Mastodon's
// documentation (docs.joinmastodon.org/entities/Status and /Account).
// Ids are strings; absent references are null, not "".

// Account is Mastodon's Account entity.
type Account struct {
	ID             string  `json:"id"`
	Username       string  `json:"username"`
	Acct           string  `json:"acct"`
	DisplayName    string  `json:"display_name"`
	Locked         bool    `json:"locked"`
	Bot            bool    `json:"bot"`
	Discoverable   bool    `json:"discoverable"`
	Group          bool    `json:"group"`
	CreatedAt      string  `json:"created_at"`
	Note           string  `json:"note"`
	URL            string  `json:"url"`
	Avatar         string  `json:"avatar"`
	AvatarStatic   string  `json:"avatar_static"`
	Header         string  `json:"header"`
	HeaderStatic   string  `json:"header_static"`
	FollowersCount int     `json:"followers_count"`
	FollowingCount int     `json:"following_count"`
	StatusesCount  int     `json:"statuses_count"`
	LastStatusAt   *string `json:"last_status_at"`
	Emojis         []any   `json:"emojis"`
	Fields         []any   `json:"fields"`
}

// credentialAccount is verify_credentials' answer: an Account with its
// source.
type credentialAccount struct {
	Account
	Source accountSource `json:"source"`
}

type accountSource struct {
	Privacy             string `json:"privacy"`
	Sensitive           bool   `json:"sensitive"`
	Language            string `json:"language"`
	Note                string `json:"note"`
	Fields              []any  `json:"fields"`
	FollowRequestsCount int    `json:"follow_requests_count"`
}

// Status is Mastodon's Status entity.
type Status struct {
	ID                 string       `json:"id"`
	CreatedAt          string       `json:"created_at"`
	InReplyToID        *string      `json:"in_reply_to_id"`
	InReplyToAccountID *string      `json:"in_reply_to_account_id"`
	Sensitive          bool         `json:"sensitive"`
	SpoilerText        string       `json:"spoiler_text"`
	Visibility         string       `json:"visibility"`
	Language           *string      `json:"language"`
	URI                string       `json:"uri"`
	URL                *string      `json:"url"`
	RepliesCount       int          `json:"replies_count"`
	ReblogsCount       int          `json:"reblogs_count"`
	FavouritesCount    int          `json:"favourites_count"`
	EditedAt           *string      `json:"edited_at"`
	Favourited         bool         `json:"favourited"`
	Reblogged          bool         `json:"reblogged"`
	Muted              bool         `json:"muted"`
	Bookmarked         bool         `json:"bookmarked"`
	Pinned             bool         `json:"pinned"`
	Content            string       `json:"content"`
	Filtered           []any        `json:"filtered"`
	Reblog             *Status      `json:"reblog"`
	Application        *Application `json:"application"`
	Account            Account      `json:"account"`
	MediaAttachments   []any        `json:"media_attachments"`
	Mentions           []Mention    `json:"mentions"`
	Tags               []Tag        `json:"tags"`
	Emojis             []any        `json:"emojis"`
	Card               any          `json:"card"`
	Poll               any          `json:"poll"`

	// text is the plain text the status was made from, for tests.
	text string
}

// Application is the app a status was posted with.
type Application struct {
	Name    string  `json:"name"`
	Website *string `json:"website"`
}

// Mention is a Status's mention of an account.
type Mention struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	URL      string `json:"url"`
	Acct     string `json:"acct"`
}

// Tag is a Status's hashtag.
type Tag struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Text returns the plain text the status was made from ("" for a boost).
func (st *Status) Text() string { return st.text }
