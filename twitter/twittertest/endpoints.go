package twittertest

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// userTimeline serves statuses/user_timeline, newest first.
func (s *Server) userTimeline(w http.ResponseWriter, rec Request) {
	q := rec.Query
	s.mu.Lock()
	target, ok := rec.UserID, true
	if v := q.Get("user_id"); v != "" {
		target, _ = strconv.ParseInt(v, 10, 64)
		ok = target > 0
	} else if v := q.Get("screen_name"); v != "" {
		target, ok = s.userByName(v)
	}
	if !ok {
		s.mu.Unlock()
		s.writeError(w, rec, http.StatusNotFound, 34, "Sorry, that page does not exist.")
		return
	}
	count := 20
	if v, err := strconv.Atoi(q.Get("count")); err == nil {
		count = min(max(v, 1), 200)
	}
	sinceID, _ := strconv.ParseInt(q.Get("since_id"), 10, 64)
	maxID, _ := strconv.ParseInt(q.Get("max_id"), 10, 64)
	extended := q.Get("tweet_mode") == "extended"
	includeRTs := !isFalse(q.Get("include_rts"))
	excludeReplies := isTrue(q.Get("exclude_replies"))

	out := make([]*tweetJSON, 0, count)
	taken := 0
	for i := len(s.tweets) - 1; i >= 0 && taken < count; i-- {
		t := s.tweets[i]
		if t.UserID != target || maxID > 0 && t.ID > maxID {
			continue
		}
		if sinceID > 0 && t.ID <= sinceID {
			break
		}
		// Like the real API, count is applied before deleted tweets,
		// retweets and replies are dropped, so pages can come back short.
		taken++
		if s.deleted[t.ID] || !includeRTs && t.RetweetOf != nil || excludeReplies && t.isReply() {
			continue
		}
		out = append(out, s.render(t, extended))
	}
	s.mu.Unlock()
	s.writeJSON(w, rec, http.StatusOK, out)
}

func (s *Server) userByName(name string) (int64, bool) {
	if a, ok := s.users.byName(name); ok {
		return a.ID, true
	}
	for _, t := range s.tweets {
		if strings.EqualFold(name, t.ScreenName) {
			return t.UserID, true
		}
	}
	return 0, false
}

// update serves statuses/update: it stores the status as a new tweet of
// the server's user, with its links shortened to t.co.
func (s *Server) update(w http.ResponseWriter, rec Request) {
	param := func(k string) string {
		if v := rec.Form.Get(k); v != "" {
			return v
		}
		return rec.Query.Get(k)
	}
	status := param("status")
	if strings.TrimSpace(status) == "" {
		s.writeError(w, rec, http.StatusBadRequest, 170, "Missing required parameter: status.")
		return
	}
	if utf8.RuneCountInString(status) > 280 {
		s.writeError(w, rec, http.StatusForbidden, 186, "Tweet needs to be a bit shorter.")
		return
	}
	s.mu.Lock()
	for _, t := range s.tweets {
		if t.UserID == rec.UserID && t.RetweetOf == nil && !s.deleted[t.ID] && t.Text == status {
			s.mu.Unlock()
			s.writeError(w, rec, http.StatusForbidden, 187, "Status is a duplicate.")
			return
		}
	}
	t := Tweet{Text: status, UserID: rec.UserID}
	if v := param("in_reply_to_status_id"); v != "" {
		id, _ := strconv.ParseInt(v, 10, 64)
		parent, ok := s.find(id)
		if !ok || s.deleted[id] {
			s.mu.Unlock()
			s.writeError(w, rec, http.StatusForbidden, 385, "You attempted to reply to a Tweet that is deleted or not visible to you.")
			return
		}
		t.InReplyToStatusID, t.InReplyToUserID, t.InReplyToScreenName = parent.ID, parent.UserID, parent.ScreenName
	}
	for _, u := range findURLs(status) {
		t.URLs = append(t.URLs, URL{Expanded: u})
	}
	t = s.addLocked(t)
	j := s.render(t, param("tweet_mode") == "extended")
	s.mu.Unlock()
	s.writeJSON(w, rec, http.StatusOK, j)
}

// findURLs returns the http(s) links in text, without trailing punctuation.
func findURLs(text string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`https?://\S+`).FindAllString(text, -1) {
		if m = strings.TrimRight(m, `.,;:!?)]}'"`); len(m) > len("https://") {
			out = append(out, m)
		}
	}
	return out
}

func isTrue(v string) bool { return v == "true" || v == "1" || v == "t" }

func isFalse(v string) bool { return v == "false" || v == "0" || v == "f" }

// render builds the v1.1 JSON of t. The caller holds s.mu.
func (s *Server) render(t Tweet, extended bool) *tweetJSON {
	j := &tweetJSON{
		CreatedAt: t.CreatedAt.UTC().Format(createdAtLayout),
		ID:        t.ID,
		IDStr:     idStr(t.ID),
		Source:    `<a href="https://github.com/r2sync/r2sync" rel="nofollow">twittertest</a>`,
		User:      s.user(t.UserID, t.ScreenName),
		Lang:      "en",
		Entities: entitiesJSON{
			Hashtags:     []hashtagJSON{},
			Symbols:      []struct{}{},
			UserMentions: []mentionJSON{},
			URLs:         []urlJSON{},
		},
	}
	var segs []segment
	limit := 0
	if o := t.RetweetOf; o != nil {
		// A retweet's own text is "RT @name: " plus the original, cut at
		// 140 even in extended mode; the whole text is in retweeted_status.
		segs = append([]segment{{text: "RT @" + o.ScreenName + ": "}}, layout(o.Text, o.URLs)...)
		limit = compatLimit
		j.Entities.UserMentions = append(j.Entities.UserMentions, mentionJSON{
			ScreenName: o.ScreenName, Name: o.ScreenName, ID: o.UserID, IDStr: idStr(o.UserID),
			Indices: [2]int{3, 4 + utf8.RuneCountInString(o.ScreenName)},
		})
		j.RetweetedStatus = s.render(*o, extended)
		j.RetweetedStatus.RetweetCount = 1
		j.RetweetedStatus.Retweeted = true
		j.RetweetCount, j.Retweeted = 1, true
	} else {
		segs = layout(t.Text, t.URLs)
		if !extended {
			limit = compatLimit
		}
	}
	text, urls, truncated := renderText(segs, limit)
	if urls != nil {
		j.Entities.URLs = urls
	}
	j.Entities.Hashtags = hashtags(text)
	// The media link follows the text, outside display_text_range; a
	// cut text links to the tweet instead.
	j.DisplayTextRange = [2]int{0, utf8.RuneCountInString(text)}
	if t.RetweetOf == nil && !truncated {
		var media []mediaJSON
		if text, media = withMedia(t, text); media != nil {
			j.Entities.Media = media[:1]
			j.ExtendedEntities = &extEntitiesJSON{Media: media}
		}
	}
	if extended {
		j.FullText = &text
	} else {
		j.Text, j.Truncated = &text, truncated
	}
	if t.InReplyToStatusID != 0 {
		j.InReplyToStatusID, j.InReplyToStatusIDStr = ptr(t.InReplyToStatusID), ptr(idStr(t.InReplyToStatusID))
	}
	if t.InReplyToUserID != 0 {
		j.InReplyToUserID, j.InReplyToUserIDStr = ptr(t.InReplyToUserID), ptr(idStr(t.InReplyToUserID))
	}
	if t.InReplyToScreenName != "" {
		j.InReplyToScreenName = ptr(t.InReplyToScreenName)
	}
	return j
}

// user builds a user object. The caller holds s.mu.
func (s *Server) user(id int64, screenName string) userJSON {
	n := 0
	for _, t := range s.tweets {
		if t.UserID == id && !s.deleted[t.ID] {
			n++
		}
	}
	u := userJSON{
		ID:                        id,
		IDStr:                     idStr(id),
		Name:                      screenName,
		ScreenName:                screenName,
		Location:                  "127.0.0.1",
		Description:               "A test account of twittertest, the in-process Twitter API server of r2sync: its tweets are fixtures, its followers imaginary, and its rate limits real enough.",
		StatusesCount:             n,
		FollowersCount:            42,
		FriendsCount:              7,
		ListedCount:               1,
		FavouritesCount:           3,
		CreatedAt:                 "Tue Mar 21 20:50:14 +0000 2006",
		ProfileBackgroundColor:    "F5F8FA",
		ProfileImageURL:           "http://pbs.twimg.com/profile_images/" + idStr(id) + "/twittertest_normal.jpg",
		ProfileBannerURL:          "https://pbs.twimg.com/profile_banners/" + idStr(id) + "/1700000000",
		ProfileLinkColor:          "1DA1F2",
		ProfileSidebarBorderColor: "C0DEED",
		ProfileSidebarFillColor:   "DDEEF6",
		ProfileTextColor:          "333333",
		ProfileUseBackgroundImage: true,
		HasExtendedProfile:        true,
		DefaultProfile:            true,
		TranslatorType:            "none",
		WithheldInCountries:       []string{},
	}
	u.ProfileImageURLHTTPS = "https" + u.ProfileImageURL[len("http"):]
	u.Entities.Description.URLs = []urlJSON{}
	return u
}
