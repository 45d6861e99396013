package twitter

import (
	"html"
	"net/url"
	"strconv"
	"strings"
	"time"

	gotwitter "github.com/dghubble/go-twitter/twitter"
	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// expansion replaces one t.co link with the URL it stands for.
type expansion struct {
	short, long string
}

// expansions collects the t.co replacements of a tweet: links, and media
// (whose t.co link in the text stands for all its attachments).
func expansions(ents *gotwitter.Entities, ext *gotwitter.ExtendedEntity) []expansion {
	var ex []expansion
	seen := make(map[string]bool)
	add := func(e gotwitter.URLEntity) {
		if e.URL == "" || e.ExpandedURL == "" || seen[e.URL] {
			return
		}
		seen[e.URL] = true
		ex = append(ex, expansion{short: e.URL, long: e.ExpandedURL})
	}
	if ents != nil {
		for _, u := range ents.Urls {
			add(u)
		}
		for _, m := range ents.Media {
			add(m.URLEntity)
		}
	}
	if ext != nil {
		for _, m := range ext.Media {
			add(m.URLEntity)
		}
	}
	return ex
}

// expandText replaces each t.co link in text, which is HTML-escaped the way
// the API serves full_text, and unescapes the rest. Expanded URLs are
// inserted verbatim rather than unescaped with the text, so that a query
// string such as "?a=1&lt=2" survives.
func expandText(text string, ex []expansion) string {
	var b strings.Builder
	for {
		at, best := -1, -1
		for i, e := range ex {
			if e.short == "" {
				continue // would match everywhere and never advance
			}
			j := strings.Index(text, e.short)
			if j < 0 {
				continue
			}
			// Leftmost match wins; at the same spot the longer link does.
			if at < 0 || j < at || (j == at && len(e.short) > len(ex[best].short)) {
				at, best = j, i
			}
		}
		if at < 0 {
			b.WriteString(html.UnescapeString(text))
			return b.String()
		}
		b.WriteString(html.UnescapeString(text[:at]))
		b.WriteString(ex[best].long)
		text = text[at+len(ex[best].short):]
	}
}

// tweetBody returns a tweet's own text, expanded and unescaped.
func tweetBody(t *gotwitter.Tweet) string {
	text, ents, ext := t.FullText, t.Entities, t.ExtendedEntities
	if text == "" {
		if et := t.ExtendedTweet; et != nil && et.FullText != "" {
			text, ents, ext = et.FullText, et.Entities, et.ExtendedEntities
		} else {
			// A compatible server that ignores tweet_mode=extended.
			text = t.Text
		}
	}
	return expandText(text, expansions(ents, ext))
}

// postText returns the text to mirror. A retweet's own text is truncated
// by the API, so it is rebuilt from the original.
func postText(t *gotwitter.Tweet) string {
	if rs := t.RetweetedStatus; rs != nil {
		name := ""
		if rs.User != nil {
			name = rs.User.ScreenName
		}
		return "RT @" + name + ": " + tweetBody(rs)
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

// toPost converts a tweet. ok is false when it has no usable id (none,
// or one from the future); such a tweet cannot be mirrored or used as a
// cursor, and is skipped with a warning rather than failing every later
// poll.
func (c *Client) toPost(t *gotwitter.Tweet) (daemon.Post, bool) {
	id := parseID(t.IDStr, t.ID)
	if id == 0 {
		c.log.Warn("skipping tweet without id", zap.String("id_str", t.IDStr))
		return daemon.Post{}, false
	}
	if !c.plausibleID(id) {
		return daemon.Post{}, false
	}
	p := daemon.Post{
		ID:              id,
		Text:            postText(t),
		InReplyToUserID: parseID(t.InReplyToUserIDStr, t.InReplyToUserID),
		Retweet:         t.RetweetedStatus != nil,
	}
	if t.User != nil {
		p.AuthorID = parseID(t.User.IDStr, t.User.ID)
		p.ScreenName = t.User.ScreenName
	}
	idStr := strconv.FormatInt(id, 10)
	if p.ScreenName != "" {
		p.URL = c.web + url.PathEscape(p.ScreenName) + "/status/" + idStr
	} else {
		p.URL = c.web + "i/web/status/" + idStr
	}
	if t.CreatedAt != "" {
		at, err := time.Parse(createdAtLayout, t.CreatedAt)
		if err != nil {
			c.log.Warn("unparseable created_at", zap.Int64("id", id), zap.String("created_at", t.CreatedAt))
		} else {
			p.CreatedAt = at
		}
	}
	return p, true
}
