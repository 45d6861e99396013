package twittertest

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// v2 limits, as X documents them.
const (
	// timelineCap is how many of a user's newest posts GET
	// /2/users/:id/tweets reaches; with exclude=replies, capReplies.
	timelineCap = 3200
	capReplies  = 800
	// noteLimit is the length above which a post's text is cut and its
	// whole text served as note_tweet.
	noteLimit = 280
	// v2CreatedAt is the v2 created_at format.
	v2CreatedAt = "2006-01-02T15:04:05.000Z"
)

// v2 JSON shapes. Ids are strings; optional fields are omitted unless
// requested, as v2 does.
type (
	v2TweetJSON struct {
		ID                  string         `json:"id"`
		Text                string         `json:"text"`
		EditHistoryTweetIDs []string       `json:"edit_history_tweet_ids"`
		AuthorID            string         `json:"author_id,omitempty"`
		CreatedAt           string         `json:"created_at,omitempty"`
		ConversationID      string         `json:"conversation_id,omitempty"`
		InReplyToUserID     string         `json:"in_reply_to_user_id,omitempty"`
		ReferencedTweets    []v2RefJSON    `json:"referenced_tweets,omitempty"`
		Entities            *v2EntsJSON    `json:"entities,omitempty"`
		NoteTweet           *v2NoteJSON    `json:"note_tweet,omitempty"`
		Lang                string         `json:"lang,omitempty"`
		PublicMetrics       map[string]int `json:"public_metrics,omitempty"`
	}
	v2RefJSON struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	v2EntsJSON struct {
		URLs     []v2URLJSON     `json:"urls,omitempty"`
		Hashtags []v2HashtagJSON `json:"hashtags,omitempty"`
		Mentions []v2MentionJSON `json:"mentions,omitempty"`
	}
	v2HashtagJSON struct {
		Start int    `json:"start"`
		End   int    `json:"end"`
		Tag   string `json:"tag"`
	}
	v2URLJSON struct {
		Start       int    `json:"start"`
		End         int    `json:"end"`
		URL         string `json:"url"`
		ExpandedURL string `json:"expanded_url"`
		DisplayURL  string `json:"display_url"`
		MediaKey    string `json:"media_key,omitempty"`
	}
	v2MentionJSON struct {
		Start    int    `json:"start"`
		End      int    `json:"end"`
		Username string `json:"username"`
		ID       string `json:"id"`
	}
	v2NoteJSON struct {
		Text     string      `json:"text"`
		Entities *v2EntsJSON `json:"entities,omitempty"`
	}
	v2UserJSON struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Username string `json:"username"`
	}
	v2IncludesJSON struct {
		Tweets []*v2TweetJSON `json:"tweets,omitempty"`
		Users  []v2UserJSON   `json:"users,omitempty"`
	}
	v2MetaJSON struct {
		ResultCount int    `json:"result_count"`
		NewestID    string `json:"newest_id,omitempty"`
		OldestID    string `json:"oldest_id,omitempty"`
		NextToken   string `json:"next_token,omitempty"`
	}
	v2TimelineJSON struct {
		Data     []*v2TweetJSON  `json:"data,omitempty"`
		Includes *v2IncludesJSON `json:"includes,omitempty"`
		Meta     v2MetaJSON      `json:"meta"`
	}
	problemJSON struct {
		Title  string           `json:"title"`
		Detail string           `json:"detail"`
		Type   string           `json:"type"`
		Status int              `json:"status,omitempty"`
		Errors []problemErrJSON `json:"errors,omitempty"`
	}
	problemErrJSON struct {
		Parameters map[string][]string `json:"parameters,omitempty"`
		Message    string              `json:"message"`
	}
)

// invalidRequest is the 400 problem v2 answers a bad parameter with.
func (s *Server) invalidRequest(w http.ResponseWriter, rec Request, param, value, msg string) {
	s.writeProblem(w, rec, problemJSON{
		Title:  "Invalid Request",
		Detail: "One or more parameters to your request was invalid.",
		Type:   "https://api.twitter.com/2/problems/invalid-request",
		Errors: []problemErrJSON{{Parameters: map[string][]string{param: {value}}, Message: msg}},
	}, http.StatusBadRequest)
}

// writeProblem answers with problem+json; status defaults to p.Status.
func (s *Server) writeProblem(w http.ResponseWriter, rec Request, p problemJSON, status ...int) {
	st := p.Status
	if len(status) > 0 {
		st = status[0]
	}
	b, _ := json.Marshal(p)
	s.write(w, rec, st, "application/problem+json", b)
}

func (s *Server) writeV2(w http.ResponseWriter, rec Request, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.writeProblem(w, rec, problemJSON{Title: "Internal Server Error", Detail: "Internal Server Error", Type: "about:blank", Status: 500})
		return
	}
	s.write(w, rec, status, "application/json; charset=utf-8", bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// usersMe serves GET /2/users/me.
func (s *Server) usersMe(w http.ResponseWriter, rec Request) {
	s.mu.Lock()
	name := s.screenNameOf(rec.UserID)
	s.mu.Unlock()
	s.writeV2(w, rec, http.StatusOK, map[string]v2UserJSON{"data": {
		ID: idStr(rec.UserID), Name: name, Username: name,
	}})
}

// userTweets serves GET /2/users/:id/tweets, newest first, in pages of
// max_results (5 to 100, default 10) with next_token, bounded by since_id
// and until_id, over the newest 3,200 posts.
func (s *Server) userTweets(w http.ResponseWriter, rec Request, idParam string) {
	q := rec.Query
	target, err := strconv.ParseInt(idParam, 10, 64)
	if err != nil || target <= 0 {
		s.invalidRequest(w, rec, "id", idParam, "The `id` query parameter value ["+idParam+"] does not match ^[0-9]{1,19}$")
		return
	}
	count := 10
	if v := q.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 100 {
			s.invalidRequest(w, rec, "max_results", v, "The `max_results` query parameter value ["+v+"] is not between 5 and 100")
			return
		}
		count = n
	}
	var ids [3]int64 // since_id, until_id, page start (inclusive)
	for i, k := range []string{"since_id", "until_id"} {
		if v := q.Get(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				s.invalidRequest(w, rec, k, v, "The `"+k+"` query parameter value ["+v+"] does not match ^[0-9]{1,19}$")
				return
			}
			ids[i] = n
		}
	}
	if v := q.Get("pagination_token"); v != "" {
		n, ok := decodeToken(v)
		if !ok {
			s.invalidRequest(w, rec, "pagination_token", v, "The `pagination_token` query parameter value ["+v+"] is not valid")
			return
		}
		ids[2] = n
	}
	sinceID, untilID, from := ids[0], ids[1], ids[2]
	var excludeReplies, excludeRTs bool
	for _, e := range splitList(q.Get("exclude")) {
		switch e {
		case "replies":
			excludeReplies = true
		case "retweets":
			excludeRTs = true
		default:
			s.invalidRequest(w, rec, "exclude", q.Get("exclude"), "The `exclude` query parameter value ["+e+"] is not one of [retweets, replies]")
			return
		}
	}
	fields := set(splitList(q.Get("tweet.fields")))
	exp := set(splitList(q.Get("expansions")))

	s.mu.Lock()
	limit := timelineCap
	if excludeReplies {
		limit = capReplies
	}
	var match []Tweet
	reached := 0
	for i := len(s.tweets) - 1; i >= 0 && reached < limit; i-- {
		t := s.tweets[i]
		if t.UserID != target || s.deleted[t.ID] {
			continue
		}
		reached++
		switch {
		case sinceID > 0 && t.ID <= sinceID,
			untilID > 0 && t.ID >= untilID,
			from > 0 && t.ID > from,
			excludeRTs && t.RetweetOf != nil,
			excludeReplies && t.isReply():
			continue
		}
		match = append(match, t)
	}
	out := v2TimelineJSON{}
	page := match[:min(count, len(match))]
	inc := &v2IncludesJSON{}
	seenUsers := map[int64]bool{}
	addUser := func(id int64, name string) {
		if !seenUsers[id] {
			seenUsers[id] = true
			inc.Users = append(inc.Users, v2UserJSON{ID: idStr(id), Name: name, Username: name})
		}
	}
	for _, t := range page {
		out.Data = append(out.Data, s.renderV2(t, fields))
		if exp["author_id"] {
			addUser(t.UserID, t.ScreenName)
		}
		if o := t.RetweetOf; o != nil && exp["referenced_tweets.id"] {
			inc.Tweets = append(inc.Tweets, s.renderV2(*o, fields))
			if exp["referenced_tweets.id.author_id"] {
				addUser(o.UserID, o.ScreenName)
			}
		}
	}
	s.mu.Unlock()
	if len(inc.Tweets) > 0 || len(inc.Users) > 0 {
		out.Includes = inc
	}
	out.Meta.ResultCount = len(page)
	if len(page) > 0 {
		out.Meta.NewestID, out.Meta.OldestID = idStr(page[0].ID), idStr(page[len(page)-1].ID)
	}
	if len(match) > len(page) {
		out.Meta.NextToken = encodeToken(match[len(page)].ID)
	}
	s.writeV2(w, rec, http.StatusOK, out)
}

// renderV2 builds the v2 JSON of t with the requested tweet.fields. The
// caller holds s.mu.
func (s *Server) renderV2(t Tweet, fields map[string]bool) *v2TweetJSON {
	j := &v2TweetJSON{ID: idStr(t.ID), EditHistoryTweetIDs: []string{idStr(t.ID)}}
	var segs []segment
	limit := 0
	var mentions []v2MentionJSON
	if o := t.RetweetOf; o != nil {
		segs = append([]segment{{text: "RT @" + o.ScreenName + ": "}}, layout(o.Text, o.URLs)...)
		limit = compatLimit
		mentions = append(mentions, v2MentionJSON{Start: 3, End: 4 + utf8.RuneCountInString(o.ScreenName), Username: o.ScreenName, ID: idStr(o.UserID)})
	} else {
		segs = layout(t.Text, t.URLs)
		full, urls, _ := renderText(segs, 0)
		if utf8.RuneCountInString(full) > noteLimit {
			limit = noteLimit
			if fields["note_tweet"] {
				j.NoteTweet = &v2NoteJSON{Text: full, Entities: v2Ents(full, urls, nil)}
			}
		}
	}
	text, urls, _ := renderText(segs, limit)
	var media []mediaJSON
	if t.RetweetOf == nil && limit == 0 {
		text, media = withMedia(t, text)
	}
	j.Text = text
	if fields["entities"] {
		j.Entities = v2Ents(text, urls, mentions)
		if len(media) > 0 {
			// v2 lists the media link with the others, naming the first
			// attachment by its media key.
			m := media[0]
			if j.Entities == nil {
				j.Entities = &v2EntsJSON{}
			}
			j.Entities.URLs = append(j.Entities.URLs, v2URLJSON{Start: m.Indices[0], End: m.Indices[1],
				URL: m.URL, ExpandedURL: m.ExpandedURL, DisplayURL: m.DisplayURL, MediaKey: mediaKey(t.Media[0])})
		}
	}
	if fields["author_id"] {
		j.AuthorID = idStr(t.UserID)
	}
	if fields["created_at"] {
		j.CreatedAt = t.CreatedAt.UTC().Format(v2CreatedAt)
	}
	if fields["conversation_id"] {
		j.ConversationID = idStr(t.ID)
		if t.InReplyToStatusID != 0 {
			j.ConversationID = idStr(t.InReplyToStatusID)
		}
	}
	if fields["in_reply_to_user_id"] && t.InReplyToUserID != 0 {
		j.InReplyToUserID = idStr(t.InReplyToUserID)
	}
	if fields["referenced_tweets"] {
		if t.RetweetOf != nil {
			j.ReferencedTweets = append(j.ReferencedTweets, v2RefJSON{Type: "retweeted", ID: idStr(t.RetweetOf.ID)})
		}
		if t.InReplyToStatusID != 0 {
			j.ReferencedTweets = append(j.ReferencedTweets, v2RefJSON{Type: "replied_to", ID: idStr(t.InReplyToStatusID)})
		}
	}
	if fields["lang"] {
		j.Lang = "en"
	}
	if fields["public_metrics"] {
		j.PublicMetrics = map[string]int{"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0}
	}
	return j
}

// v2Ents converts v1.1 URL entities and finds the hashtags of text; nil
// when there is nothing, since v2 omits an empty entities object.
func v2Ents(text string, urls []urlJSON, mentions []v2MentionJSON) *v2EntsJSON {
	tags := hashtags(text)
	if len(urls) == 0 && len(mentions) == 0 && len(tags) == 0 {
		return nil
	}
	e := &v2EntsJSON{Mentions: mentions}
	for _, h := range tags {
		e.Hashtags = append(e.Hashtags, v2HashtagJSON{Start: h.Indices[0], End: h.Indices[1], Tag: h.Text})
	}
	for _, u := range urls {
		e.URLs = append(e.URLs, v2URLJSON{Start: u.Indices[0], End: u.Indices[1], URL: u.URL, ExpandedURL: u.ExpandedURL, DisplayURL: u.DisplayURL})
	}
	return e
}

// createTweet serves POST /2/tweets with a JSON body {"text": …}.
func (s *Server) createTweet(w http.ResponseWriter, rec Request) {
	var body struct {
		Text  *string `json:"text"`
		Reply *struct {
			InReplyToTweetID string `json:"in_reply_to_tweet_id"`
		} `json:"reply"`
	}
	if err := json.Unmarshal([]byte(rec.Body), &body); err != nil {
		s.writeProblem(w, rec, problemJSON{Title: "Invalid Request", Detail: "One or more parameters to your request was invalid.",
			Type: "https://api.twitter.com/2/problems/invalid-request", Errors: []problemErrJSON{{Message: "Request body is not valid JSON"}}}, http.StatusBadRequest)
		return
	}
	if body.Text == nil || strings.TrimSpace(*body.Text) == "" {
		s.invalidRequest(w, rec, "text", "", "text is required and must not be empty")
		return
	}
	text := *body.Text
	if utf8.RuneCountInString(text) > noteLimit {
		s.writeProblem(w, rec, problemJSON{Title: "Forbidden", Detail: "Your Tweet text is too long.", Type: "about:blank", Status: http.StatusForbidden})
		return
	}
	s.mu.Lock()
	for _, t := range s.tweets {
		if t.UserID == rec.UserID && t.RetweetOf == nil && !s.deleted[t.ID] && t.Text == text {
			s.mu.Unlock()
			s.writeProblem(w, rec, problemJSON{Title: "Forbidden", Detail: "You are not allowed to create a Tweet with duplicate content.", Type: "about:blank", Status: http.StatusForbidden})
			return
		}
	}
	t := Tweet{Text: text, UserID: rec.UserID}
	if r := body.Reply; r != nil {
		id, _ := strconv.ParseInt(r.InReplyToTweetID, 10, 64)
		parent, ok := s.find(id)
		if !ok || s.deleted[id] {
			s.mu.Unlock()
			s.writeProblem(w, rec, problemJSON{Title: "Forbidden", Detail: "You attempted to reply to a Tweet that is deleted or not visible to you.", Type: "about:blank", Status: http.StatusForbidden})
			return
		}
		t.InReplyToStatusID, t.InReplyToUserID, t.InReplyToScreenName = parent.ID, parent.UserID, parent.ScreenName
	}
	for _, u := range findURLs(text) {
		t.URLs = append(t.URLs, URL{Expanded: u})
	}
	t = s.addLocked(t)
	j := s.renderV2(t, nil)
	s.mu.Unlock()
	s.writeV2(w, rec, http.StatusCreated, map[string]any{"data": map[string]any{
		"id": j.ID, "text": j.Text, "edit_history_tweet_ids": j.EditHistoryTweetIDs,
	}})
}

var tokenEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// encodeToken makes an opaque next_token that starts a page at id.
func encodeToken(id int64) string {
	return tokenEncoding.EncodeToString([]byte("p" + strconv.FormatInt(id, 36)))
}

func decodeToken(tok string) (int64, bool) {
	b, err := tokenEncoding.DecodeString(tok)
	if err != nil || len(b) < 2 || b[0] != 'p' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b[1:]), 36, 64)
	return n, err == nil && n > 0
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, v := range list {
		m[v] = true
	}
	return m
}
