package bluesky

import (
	"context"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/r2sync/r2sync/daemon"
)

// FuzzFeedItem: any feed item JSON gives a post of the account or
// nothing, never a panic, and never another account's post.
func FuzzFeedItem(f *testing.F) {
	f.Add(`{"post":{"uri":"at://did:plc:me/app.bsky.feed.post/3l3qo2vutsw2b","author":{"did":"did:plc:me"},"record":{"text":"看 x.com/a…","facets":[{"index":{"byteStart":4,"byteEnd":13},"features":[{"$type":"app.bsky.richtext.facet#link","uri":"https://x.com/a/b"}]}],"reply":{"parent":{"uri":"at://did:plc:bob/app.bsky.feed.post/3l3qo2vutsw2a"}}}}}`)
	f.Add(`{"post":{"uri":"at://did:plc:bob/app.bsky.feed.post/3l3qo2vutsw2b","author":{"did":"did:plc:bob","handle":"bob"},"record":{"text":"x"}},"reason":{"$type":"app.bsky.feed.defs#reasonRepost","by":{"did":"did:plc:me"},"indexedAt":"2026-12-02T01:00:00.000Z"}}`)
	f.Add(`{"post":{},"reason":{"$type":"app.bsky.feed.defs#reasonPin"}}`)
	me := daemon.Account{ID: "did:plc:me", Handle: "me.test"}
	f.Fuzz(func(t *testing.T, data string) {
		var it feedItem
		if json.Unmarshal([]byte(data), &it) != nil {
			return
		}
		p, ok := itemPost(me, &it)
		if !ok {
			return
		}
		if !validTID(p.Cursor) {
			t.Fatalf("post with cursor %q", p.Cursor)
		}
		if !p.Repost && it.Post.Author.DID != me.ID {
			t.Fatalf("another account's post: %+v", it.Post.Author)
		}
		if p.Repost && it.Reason.By.DID != me.ID {
			t.Fatalf("another account's repost")
		}
		if utf8.ValidString(data) && !utf8.ValidString(p.Text) {
			t.Fatalf("invalid text %q", p.Text)
		}
	})
}

// FuzzJetstreamEvent: any message gives the account's own post or
// nothing, never a panic.
func FuzzJetstreamEvent(f *testing.F) {
	f.Add(`{"did":"did:plc:me","time_us":1725911162329308,"kind":"commit","commit":{"rev":"3l3qo2vutsw2b","operation":"create","collection":"app.bsky.feed.post","rkey":"3l3qo2vuowo2b","record":{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2024-09-09T19:46:02.102Z"},"cid":"bafy"}}`)
	f.Add(`{"did":"did:plc:me","time_us":1,"kind":"commit","commit":{"operation":"delete","collection":"app.bsky.feed.post","rkey":"3l3qo2vuowo2b"}}`)
	f.Add(`{"did":"did:plc:me","time_us":1,"kind":"identity","identity":{"did":"did:plc:me","handle":"me.test"}}`)
	c, err := New(Options{DID: "did:plc:me", Handle: "me.test", AppView: "http://127.0.0.1:1", Jetstream: "ws://127.0.0.1:1/subscribe", Timeout: 100_000_000})
	if err != nil {
		f.Fatal(err)
	}
	s := c.Source().(*Streaming)
	me := daemon.Account{ID: "did:plc:me", Handle: "me.test"}
	f.Fuzz(func(t *testing.T, data string) {
		var ev event
		if json.Unmarshal([]byte(data), &ev) != nil {
			return
		}
		posts, _ := s.eventPosts(context.Background(), me, &ev)
		for _, p := range posts {
			if ev.DID != me.ID || !validTID(p.Cursor) {
				t.Fatalf("pushed %+v from %s", p, ev.DID)
			}
		}
	})
}
