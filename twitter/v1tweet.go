package twitter

import (
	"strconv"
	"time"

	gotwitter "github.com/dghubble/go-twitter/twitter"
	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// expansions collects the t.co replacements of a v1.1 tweet: links, and
// media (whose t.co link in the text stands for all its attachments).
func expansions(ents *gotwitter.Entities, ext *gotwitter.ExtendedEntity) *links {
	var l links
	if ents != nil {
		for _, u := range ents.Urls {
			l.add(u.URL, u.ExpandedURL)
		}
		for _, m := range ents.Media {
			l.add(m.URL, m.ExpandedURL)
		}
	}
	if ext != nil {
		for _, m := range ext.Media {
			l.add(m.URL, m.ExpandedURL)
		}
	}
	return &l
}

// body returns the text, entities and media of a tweet's own text: the
// extended form when the server sent one.
func body(t *gotwitter.Tweet) (string, *gotwitter.Entities, *gotwitter.ExtendedEntity) {
	text, ents, ext := t.FullText, t.Entities, t.ExtendedEntities
	if text == "" {
		if et := t.ExtendedTweet; et != nil && et.FullText != "" {
			text, ents, ext = et.FullText, et.Entities, et.ExtendedEntities
		} else {
			// A compatible server that ignores tweet_mode=extended.
			text = t.Text
		}
	}
	return text, ents, ext
}

// tweetBody returns a tweet's own text, expanded and unescaped, and its
// hashtags.
func tweetBody(t *gotwitter.Tweet) (string, []string) {
	text, ents, ext := body(t)
	var tags []string
	if ents != nil {
		for _, h := range ents.Hashtags {
			if h.Text != "" {
				tags = append(tags, h.Text)
			}
		}
	}
	return expansions(ents, ext).expand(text), tags
}

// postText returns the text to mirror and its hashtags. A retweet's own
// text is truncated by the API, so it is rebuilt from the original.
func postText(t *gotwitter.Tweet) (string, []string) {
	if rs := t.RetweetedStatus; rs != nil {
		name := ""
		if rs.User != nil {
			name = rs.User.ScreenName
		}
		text, tags := tweetBody(rs)
		return "RT @" + name + ": " + text, tags
	}
	return tweetBody(t)
}

// parseID prefers the id_str form; the number is the fallback for
// compatible servers that only send it. encoding/json decodes an integer
// literal into int64 exactly, so neither path goes through float64.
func parseID(s string, n int64) int64 {
	if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
		return id
	}
	if n > 0 {
		return n
	}
	return 0
}

// toPost converts a v1.1 tweet. ok is false when it has no usable id
// (none, or one from the future); such a tweet cannot be mirrored or
// used as a cursor, and is skipped with a warning rather than failing
// every later poll.
func (c *V1) toPost(t *gotwitter.Tweet) (tweetPost, bool) {
	id := parseID(t.IDStr, t.ID)
	if id == 0 {
		c.log.Warn("skipping tweet without id", zap.String("id_str", t.IDStr))
		return tweetPost{}, false
	}
	if !c.plausibleID(id) {
		return tweetPost{}, false
	}
	p := daemon.Post{ID: strconv.FormatInt(id, 10), Cursor: cursorOf(id), Repost: t.RetweetedStatus != nil}
	p.Text, p.Hashtags = postText(t)
	var author int64
	if t.User != nil {
		author = parseID(t.User.IDStr, t.User.ID)
		p.Author = t.User.ScreenName
	}
	// A reply to oneself continues a thread: it is no reply.
	if to := parseID(t.InReplyToUserIDStr, t.InReplyToUserID); to != 0 && to != author {
		p.Reply = true
	}
	p.URL = c.statusURL(p.Author, id)
	if t.CreatedAt != "" {
		at, err := time.Parse(createdAtLayout, t.CreatedAt)
		if err != nil {
			c.log.Warn("unparseable created_at", zap.Int64("id", id), zap.String("created_at", t.CreatedAt))
		} else {
			p.CreatedAt = at
		}
	}
	return tweetPost{id: id, post: p}, true
}
