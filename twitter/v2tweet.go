package twitter

import (
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// v2 JSON shapes. Ids are strings in v2.
type (
	v2Tweet struct {
		ID               string        `json:"id"`
		Text             string        `json:"text"`
		AuthorID         string        `json:"author_id"`
		CreatedAt        string        `json:"created_at"`
		InReplyToUserID  string        `json:"in_reply_to_user_id"`
		ReferencedTweets []v2Reference `json:"referenced_tweets"`
		Entities         *v2Entities   `json:"entities"`
		NoteTweet        *v2Note       `json:"note_tweet"`
	}
	v2Reference struct {
		Type string `json:"type"` // retweeted, quoted, replied_to
		ID   string `json:"id"`
	}
	v2Note struct {
		Text     string      `json:"text"`
		Entities *v2Entities `json:"entities"`
	}
	v2Entities struct {
		URLs     []v2URL     `json:"urls"`
		Hashtags []v2Hashtag `json:"hashtags"`
	}
	v2Hashtag struct {
		Tag string `json:"tag"`
	}
	v2URL struct {
		URL         string `json:"url"`
		ExpandedURL string `json:"expanded_url"`
	}
	v2User struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Username string `json:"username"`
	}
	v2Includes struct {
		Tweets []v2Tweet `json:"tweets"`
		Users  []v2User  `json:"users"`
	}
	v2Meta struct {
		ResultCount int    `json:"result_count"`
		NewestID    string `json:"newest_id"`
		OldestID    string `json:"oldest_id"`
		NextToken   string `json:"next_token"`
	}
	v2Timeline struct {
		Data     []v2Tweet  `json:"data"`
		Includes v2Includes `json:"includes"`
		Meta     v2Meta     `json:"meta"`
	}
	// v2Problem is an error body: RFC 7807 problem+json as v2 sends it,
	// plus the v1.1 errors[] some front ends still send.
	v2Problem struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Reason string `json:"reason"`
		Errors []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
)

// v2Post converts a v2 post. ok is false when it has no usable id (none,
// or one from the future, see plausibleID).
func (c *V2) v2Post(t *v2Tweet, inc *v2Includes, me account) (tweetPost, bool) {
	id, err := strconv.ParseInt(t.ID, 10, 64)
	if err != nil || id <= 0 {
		c.log.Warn("skipping tweet without id", zap.String("id", t.ID))
		return tweetPost{}, false
	}
	if !c.plausibleID(id) {
		return tweetPost{}, false
	}
	p := daemon.Post{ID: strconv.FormatInt(id, 10), Cursor: cursorOf(id), Author: me.screenName}
	p.Text, p.Hashtags = v2Body(t)
	author := me.id
	if a, err := strconv.ParseInt(t.AuthorID, 10, 64); err == nil && a > 0 && a != me.id {
		author, p.Author = a, v2Username(inc, t.AuthorID)
	}
	// A reply to oneself continues a thread: it is no reply.
	if u, err := strconv.ParseInt(t.InReplyToUserID, 10, 64); err == nil && u > 0 && u != author {
		p.Reply = true
	}
	for _, ref := range t.ReferencedTweets {
		if ref.Type != "retweeted" {
			continue
		}
		p.Repost = true
		// The retweet's own text is cut; rebuild it from the original
		// when the server included it.
		for i := range inc.Tweets {
			if o := &inc.Tweets[i]; o.ID == ref.ID {
				text, tags := v2Body(o)
				p.Text, p.Hashtags = "RT @"+v2Username(inc, o.AuthorID)+": "+text, tags
				break
			}
		}
	}
	p.URL = c.statusURL(p.Author, id)
	if t.CreatedAt != "" {
		at, err := time.Parse(time.RFC3339, t.CreatedAt)
		if err != nil {
			c.log.Warn("unparseable created_at", zap.Int64("id", id), zap.String("created_at", t.CreatedAt))
		} else {
			p.CreatedAt = at
		}
	}
	return tweetPost{id: id, post: p}, true
}

// v2Body returns a post's full text, links expanded and unescaped, and
// its hashtags: those of the note_tweet of a post longer than 280
// characters, else of the post.
func v2Body(t *v2Tweet) (string, []string) {
	text, ents := t.Text, t.Entities
	if n := t.NoteTweet; n != nil && n.Text != "" {
		text, ents = n.Text, n.Entities
	}
	var l links
	var tags []string
	if ents != nil {
		for _, u := range ents.URLs {
			l.add(u.URL, u.ExpandedURL)
		}
		for _, h := range ents.Hashtags {
			if h.Tag != "" {
				tags = append(tags, h.Tag)
			}
		}
	}
	return l.expand(text), tags
}

// v2Username finds a user's name in includes; "" when absent.
func v2Username(inc *v2Includes, id string) string {
	for _, u := range inc.Users {
		if u.ID == id {
			return u.Username
		}
	}
	return ""
}

// isV2Problem reports whether a problem type is X's v2 problem name.
func isV2Problem(typ, name string) bool {
	return strings.HasSuffix(typ, "/2/problems/"+name)
}
