package bluesky

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/r2sync/r2sync/daemon"
)

// Lexicon names read from feeds and streams.
const (
	collectionPost   = "app.bsky.feed.post"
	collectionRepost = "app.bsky.feed.repost"
	reasonRepost     = "app.bsky.feed.defs#reasonRepost"
	reasonPin        = "app.bsky.feed.defs#reasonPin"
)

// Record is an app.bsky.feed.post record, as in feeds, Jetstream
// commits and createRecord.
type Record struct {
	Type      string   `json:"$type"`
	Text      string   `json:"text"`
	CreatedAt string   `json:"createdAt"`
	Facets    []Facet  `json:"facets,omitempty"`
	Reply     *Reply   `json:"reply,omitempty"`
	Langs     []string `json:"langs,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	// Embed (images, an external card, a quoted record) is not read: a
	// quote post is mirrored as a post.
}

// Reply names the thread a reply belongs to.
type Reply struct {
	Root   StrongRef `json:"root"`
	Parent StrongRef `json:"parent"`
}

// StrongRef is a com.atproto.repo.strongRef.
type StrongRef struct {
	URI string `json:"uri"`
	CID string `json:"cid"`
}

// feedPage is the answer of app.bsky.feed.getAuthorFeed. Items are
// decoded one by one, so that one malformed post does not hide the rest.
type feedPage struct {
	Cursor string            `json:"cursor"`
	Feed   []json.RawMessage `json:"feed"`
}

// feedItem is an app.bsky.feed.defs#feedViewPost.
type feedItem struct {
	Post   postView    `json:"post"`
	Reason *reasonView `json:"reason"`
}

// reasonView is why an item is in the feed: a repost or a pin.
type reasonView struct {
	Type      string      `json:"$type"`
	By        profileView `json:"by"`
	URI       string      `json:"uri"` // the repost record, when the AppView sends it
	IndexedAt string      `json:"indexedAt"`
}

// postView is an app.bsky.feed.defs#postView.
type postView struct {
	URI       string      `json:"uri"`
	CID       string      `json:"cid"`
	Author    profileView `json:"author"`
	Record    Record      `json:"record"`
	IndexedAt string      `json:"indexedAt"`
}

// profileView is the part of app.bsky.actor.defs#profileViewBasic read.
type profileView struct {
	DID    string `json:"did"`
	Handle string `json:"handle"`
}

// parseATURI splits at://DID/COLLECTION/RKEY.
func parseATURI(u string) (did, collection, rkey string, ok bool) {
	rest, ok := strings.CutPrefix(u, "at://")
	if !ok {
		return "", "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// postURL is the bsky.app permalink of a post.
func postURL(actor, rkey string) string {
	return "https://bsky.app/profile/" + actor + "/post/" + rkey
}

// recordPost turns a post record of me into a daemon.Post with cursor
// rkey. A reply to another account is a Reply; a reply to oneself
// continues a thread and is not.
func recordPost(me daemon.Account, rkey string, r *Record) daemon.Post {
	p := daemon.Post{
		ID:       "at://" + me.ID + "/" + collectionPost + "/" + rkey,
		Cursor:   rkey,
		Text:     applyLinks(r.Text, r.Facets),
		URL:      postURL(me.Handle, rkey),
		Author:   me.Handle,
		Hashtags: hashtags(r.Facets, r.Tags),
	}
	if t, err := time.Parse(time.RFC3339Nano, r.CreatedAt); err == nil {
		p.CreatedAt = t
	} else if t, err := TIDTime(rkey); err == nil {
		p.CreatedAt = t
	}
	if r.Reply != nil {
		did, _, _, ok := parseATURI(r.Reply.Parent.URI)
		p.Reply = !ok || did != me.ID
	}
	return p
}

// itemPost turns a feed item into a post of me; ok is false for what
// the mirror must not see: a pinned item (it is listed again in its
// place, and its old cursor would look like a step back), another
// account's post, and anything without a TID to order it by.
func itemPost(me daemon.Account, it *feedItem) (daemon.Post, bool) {
	if it.Reason != nil {
		switch it.Reason.Type {
		case reasonRepost:
			return repostPost(me, it)
		default: // reasonPin and reasons yet unknown
			return daemon.Post{}, false
		}
	}
	did, coll, rkey, ok := parseATURI(it.Post.URI)
	if !ok || did != me.ID || it.Post.Author.DID != me.ID || coll != collectionPost || !validTID(rkey) {
		return daemon.Post{}, false
	}
	return recordPost(me, rkey, &it.Post.Record), true
}

// repostPost is a repost by me of it.Post. Its cursor is the repost
// record's key; an AppView that leaves out the record's uri gives only
// the time of the repost, which becomes a TID of its own.
func repostPost(me daemon.Account, it *feedItem) (daemon.Post, bool) {
	r := it.Reason
	if r.By.DID != me.ID {
		return daemon.Post{}, false
	}
	var key string
	if did, coll, rkey, ok := parseATURI(r.URI); ok && did == me.ID && coll == collectionRepost && validTID(rkey) {
		key = rkey
	} else if t, err := time.Parse(time.RFC3339Nano, r.IndexedAt); err == nil && t.Unix() > 0 {
		key = NewTID(t, 0)
	} else {
		return daemon.Post{}, false
	}
	_, _, orig, _ := parseATURI(it.Post.URI)
	author := it.Post.Author.Handle
	if author == "" {
		author = it.Post.Author.DID
	}
	p := daemon.Post{
		ID:       "at://" + me.ID + "/" + collectionRepost + "/" + key,
		Cursor:   key,
		Text:     "RT @" + author + ": " + applyLinks(it.Post.Record.Text, it.Post.Record.Facets),
		URL:      postURL(author, orig),
		Author:   me.Handle,
		Repost:   true,
		Hashtags: hashtags(it.Post.Record.Facets, it.Post.Record.Tags),
	}
	if t, err := TIDTime(key); err == nil {
		p.CreatedAt = t
	}
	return p, true
}
