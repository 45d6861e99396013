package twittertest

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Tweet is a tweet as the test server stores it.
type Tweet struct {
	// ID is assigned by AddTweet when zero.
	ID int64
	// Text is the plain text, with full URLs (see URLs) and unescaped
	// '&', '<' and '>'. The server shortens and escapes it when serving.
	Text string
	// URLs are the links in Text. Where Text contains a URL's Expanded
	// value, it is served as Short (a t.co link, generated when empty),
	// with an entities.urls entry.
	URLs []URL
	// InReplyToStatusID, InReplyToUserID and InReplyToScreenName make the
	// tweet a reply; zero values are served as null.
	InReplyToStatusID   int64
	InReplyToUserID     int64
	InReplyToScreenName string
	// RetweetOf makes the tweet a retweet of another user's tweet; Text
	// and URLs of the retweet itself are then ignored.
	RetweetOf *Tweet
	// Media are attached photos, videos or GIFs. Like the API, the server
	// serves them as one t.co link (MediaURL, generated when empty) at
	// the end of the text, the first in entities.media and all in
	// extended_entities.media (v2: a link in entities.urls).
	Media    []Media
	MediaURL string
	// UserID and ScreenName are the author; zero values mean the server's
	// user (for RetweetOf: another user).
	UserID     int64
	ScreenName string
	// CreatedAt defaults to the current time, to the second.
	CreatedAt time.Time
}

// URL is a link in a tweet.
type URL struct {
	Short    string // t.co link, e.g. "https://t.co/AbCdEfGhIj"
	Expanded string // what the user wrote, e.g. "https://example.com/a?b=c&d"
}

// clone returns a deep copy, so callers never share slices with the server.
func (t Tweet) clone() Tweet {
	t.URLs = append([]URL(nil), t.URLs...)
	t.Media = append([]Media(nil), t.Media...)
	if t.RetweetOf != nil {
		o := t.RetweetOf.clone()
		t.RetweetOf = &o
	}
	return t
}

// isReply reports whether exclude_replies drops the tweet.
func (t Tweet) isReply() bool {
	return t.InReplyToStatusID != 0 || t.InReplyToUserID != 0
}

// v1.1 JSON shapes. Nullable fields are pointers so that they encode as
// null, the way the real API sends them.
type (
	tweetJSON struct {
		CreatedAt            string           `json:"created_at"`
		ID                   int64            `json:"id"`
		IDStr                string           `json:"id_str"`
		FullText             *string          `json:"full_text,omitempty"`
		Text                 *string          `json:"text,omitempty"`
		Truncated            bool             `json:"truncated"`
		DisplayTextRange     [2]int           `json:"display_text_range"`
		Entities             entitiesJSON     `json:"entities"`
		Source               string           `json:"source"`
		InReplyToStatusID    *int64           `json:"in_reply_to_status_id"`
		InReplyToStatusIDStr *string          `json:"in_reply_to_status_id_str"`
		InReplyToUserID      *int64           `json:"in_reply_to_user_id"`
		InReplyToUserIDStr   *string          `json:"in_reply_to_user_id_str"`
		InReplyToScreenName  *string          `json:"in_reply_to_screen_name"`
		User                 userJSON         `json:"user"`
		Geo                  *struct{}        `json:"geo"`
		Coordinates          *struct{}        `json:"coordinates"`
		Place                *struct{}        `json:"place"`
		Contributors         *struct{}        `json:"contributors"`
		ExtendedEntities     *extEntitiesJSON `json:"extended_entities,omitempty"`
		RetweetedStatus      *tweetJSON       `json:"retweeted_status,omitempty"`
		IsQuoteStatus        bool             `json:"is_quote_status"`
		RetweetCount         int              `json:"retweet_count"`
		FavoriteCount        int              `json:"favorite_count"`
		Favorited            bool             `json:"favorited"`
		Retweeted            bool             `json:"retweeted"`
		Lang                 string           `json:"lang"`
	}
	entitiesJSON struct {
		Hashtags     []hashtagJSON `json:"hashtags"`
		Symbols      []struct{}    `json:"symbols"`
		UserMentions []mentionJSON `json:"user_mentions"`
		URLs         []urlJSON     `json:"urls"`
		Media        []mediaJSON   `json:"media,omitempty"`
	}
	hashtagJSON struct {
		Text    string `json:"text"`
		Indices [2]int `json:"indices"`
	}
	mentionJSON struct {
		ScreenName string `json:"screen_name"`
		Name       string `json:"name"`
		ID         int64  `json:"id"`
		IDStr      string `json:"id_str"`
		Indices    [2]int `json:"indices"`
	}
	urlJSON struct {
		URL         string `json:"url"`
		ExpandedURL string `json:"expanded_url"`
		DisplayURL  string `json:"display_url"`
		Indices     [2]int `json:"indices"`
	}
	// userJSON is a full v1.1 user object, as a timeline repeats it in
	// every tweet: most of a real page's bytes.
	userJSON struct {
		ID                             int64            `json:"id"`
		IDStr                          string           `json:"id_str"`
		Name                           string           `json:"name"`
		ScreenName                     string           `json:"screen_name"`
		Location                       string           `json:"location"`
		Description                    string           `json:"description"`
		URL                            *string          `json:"url"`
		Entities                       userEntitiesJSON `json:"entities"`
		Protected                      bool             `json:"protected"`
		FollowersCount                 int              `json:"followers_count"`
		FriendsCount                   int              `json:"friends_count"`
		ListedCount                    int              `json:"listed_count"`
		CreatedAt                      string           `json:"created_at"`
		FavouritesCount                int              `json:"favourites_count"`
		UTCOffset                      *int             `json:"utc_offset"`
		TimeZone                       *string          `json:"time_zone"`
		GeoEnabled                     bool             `json:"geo_enabled"`
		Verified                       bool             `json:"verified"`
		StatusesCount                  int              `json:"statuses_count"`
		Lang                           *string          `json:"lang"`
		ContributorsEnabled            bool             `json:"contributors_enabled"`
		IsTranslator                   bool             `json:"is_translator"`
		IsTranslationEnabled           bool             `json:"is_translation_enabled"`
		ProfileBackgroundColor         string           `json:"profile_background_color"`
		ProfileBackgroundImageURL      *string          `json:"profile_background_image_url"`
		ProfileBackgroundImageURLHTTPS *string          `json:"profile_background_image_url_https"`
		ProfileBackgroundTile          bool             `json:"profile_background_tile"`
		ProfileImageURL                string           `json:"profile_image_url"`
		ProfileImageURLHTTPS           string           `json:"profile_image_url_https"`
		ProfileBannerURL               string           `json:"profile_banner_url"`
		ProfileLinkColor               string           `json:"profile_link_color"`
		ProfileSidebarBorderColor      string           `json:"profile_sidebar_border_color"`
		ProfileSidebarFillColor        string           `json:"profile_sidebar_fill_color"`
		ProfileTextColor               string           `json:"profile_text_color"`
		ProfileUseBackgroundImage      bool             `json:"profile_use_background_image"`
		HasExtendedProfile             bool             `json:"has_extended_profile"`
		DefaultProfile                 bool             `json:"default_profile"`
		DefaultProfileImage            bool             `json:"default_profile_image"`
		Following                      bool             `json:"following"`
		FollowRequestSent              bool             `json:"follow_request_sent"`
		Notifications                  bool             `json:"notifications"`
		TranslatorType                 string           `json:"translator_type"`
		WithheldInCountries            []string         `json:"withheld_in_countries"`
	}
	userEntitiesJSON struct {
		Description struct {
			URLs []urlJSON `json:"urls"`
		} `json:"description"`
	}
	errorsJSON struct {
		Errors []errorJSON `json:"errors"`
	}
	errorJSON struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	}
)

// createdAtLayout is Twitter's created_at format.
const createdAtLayout = "Mon Jan 02 15:04:05 -0700 2006"

// compatLimit is where text is cut in compatibility mode (no
// tweet_mode=extended) and in a retweet's own text.
const compatLimit = 140

// segment is a run of plain text or one link of a tweet.
type segment struct {
	text string
	url  *URL // when set, the segment is url.Short
}

// layout splits plain text into text and link segments: the first free
// occurrence of each URL's Expanded value becomes its Short link.
func layout(text string, urls []URL) []segment {
	type claim struct {
		start, end int
		url        *URL
	}
	var claims []claim
	for i := range urls {
		u := &urls[i]
		if u.Expanded == "" || u.Short == "" {
			continue
		}
		for from := 0; from <= len(text); {
			j := strings.Index(text[from:], u.Expanded)
			if j < 0 {
				break
			}
			c := claim{from + j, from + j + len(u.Expanded), u}
			free := true
			for _, o := range claims {
				if c.start < o.end && o.start < c.end {
					free = false
					break
				}
			}
			if free {
				claims = append(claims, c)
				break
			}
			from += j + 1
		}
	}
	// Insertion sort: a tweet has a handful of links.
	for i := 1; i < len(claims); i++ {
		for j := i; j > 0 && claims[j].start < claims[j-1].start; j-- {
			claims[j], claims[j-1] = claims[j-1], claims[j]
		}
	}
	var segs []segment
	pos := 0
	for _, c := range claims {
		if c.start > pos {
			segs = append(segs, segment{text: text[pos:c.start]})
		}
		segs = append(segs, segment{url: c.url})
		pos = c.end
	}
	if pos < len(text) {
		segs = append(segs, segment{text: text[pos:]})
	}
	return segs
}

// renderText returns the text as served (links shortened, '&' '<' '>'
// escaped) and its URL entities, whose indices count code points of the
// served text, as the API's do. limit > 0 cuts the plain text to limit
// code points ending in "…", never inside a link.
func renderText(segs []segment, limit int) (text string, urls []urlJSON, truncated bool) {
	total := 0
	for _, s := range segs {
		total += utf8.RuneCountInString(segText(s))
	}
	budget := -1
	if limit > 0 && total > limit {
		budget, truncated = limit-1, true
	}
	var b strings.Builder
	n := 0 // code points written to b
	for _, s := range segs {
		if s.url != nil {
			l := utf8.RuneCountInString(s.url.Short)
			if budget >= 0 && l > budget {
				break
			}
			urls = append(urls, urlJSON{
				URL:         s.url.Short,
				ExpandedURL: s.url.Expanded,
				DisplayURL:  displayURL(s.url.Expanded),
				Indices:     [2]int{n, n + l},
			})
			b.WriteString(s.url.Short)
			n += l
			budget -= l
			continue
		}
		t := s.text
		if budget >= 0 && utf8.RuneCountInString(t) > budget {
			t = cutRunes(t, budget)
		}
		e := escape(t)
		b.WriteString(e)
		n += utf8.RuneCountInString(e)
		if budget >= 0 {
			budget -= utf8.RuneCountInString(t)
			if budget == 0 {
				break
			}
		}
	}
	if truncated {
		b.WriteString("…")
	}
	return b.String(), urls, truncated
}

func segText(s segment) string {
	if s.url != nil {
		return s.url.Short
	}
	return s.text
}

// cutRunes returns the first n code points of s.
func cutRunes(s string, n int) string {
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

// escape escapes what the v1.1 API escapes in text: '&', '<' and '>' only.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// displayURL is the shortened form Twitter shows for a link.
func displayURL(u string) string {
	d := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	d = strings.TrimPrefix(d, "www.")
	if utf8.RuneCountInString(d) > 26 {
		d = cutRunes(d, 25) + "…"
	}
	return d
}

func ptr[T any](v T) *T { return &v }

func idStr(id int64) string { return strconv.FormatInt(id, 10) }

// hashtagRE matches a hashtag as X finds one: '#' after the start or a
// character that is not part of a word, then letters, digits or '_'.
var hashtagRE = regexp.MustCompile(`(?:^|[^\p{L}\p{N}_&/])#([\p{L}\p{N}_]+)`)

// hashtags finds the hashtags in text as served, with their indices in
// code points (the '#' included), the way the API lists them.
func hashtags(text string) []hashtagJSON {
	out := []hashtagJSON{}
	for _, m := range hashtagRE.FindAllStringSubmatchIndex(text, -1) {
		start := utf8.RuneCountInString(text[:m[2]]) - 1 // the '#'
		end := utf8.RuneCountInString(text[:m[3]])
		out = append(out, hashtagJSON{Text: text[m[2]:m[3]], Indices: [2]int{start, end}})
	}
	return out
}
