package bluesky

import (
	"testing"

	"github.com/r2sync/r2sync/daemon"
)

func TestItemPostClassifies(t *testing.T) {
	me := daemon.Account{ID: "did:plc:me", Handle: "me.test"}
	own := postView{URI: "at://did:plc:me/app.bsky.feed.post/3l3qo2vutsw2b", Author: profileView{DID: "did:plc:me"}, Record: Record{Text: "mine"}}
	bobs := postView{URI: "at://did:plc:bob/app.bsky.feed.post/3l3qo2vutsw2c", Author: profileView{DID: "did:plc:bob", Handle: "bob.test"}, Record: Record{Text: "bob's"}}
	tests := []struct {
		name string
		it   feedItem
		ok   bool
		want string
	}{
		{"own post", feedItem{Post: own}, true, "mine"},
		{"pinned own post is not listed twice", feedItem{Post: own, Reason: &reasonView{Type: reasonPin}}, false, ""},
		{"unknown reason", feedItem{Post: own, Reason: &reasonView{Type: "app.bsky.feed.defs#reasonSomethingNew"}}, false, ""},
		{"another account's post", feedItem{Post: bobs}, false, ""},
		{"own repost", feedItem{Post: bobs, Reason: &reasonView{Type: reasonRepost, By: profileView{DID: "did:plc:me"}, URI: "at://did:plc:me/app.bsky.feed.repost/3l3qo2vutsw2d"}}, true, "RT @bob.test: bob's"},
		{"repost without uri keys by time", feedItem{Post: bobs, Reason: &reasonView{Type: reasonRepost, By: profileView{DID: "did:plc:me"}, IndexedAt: "2026-12-02T01:00:00.000Z"}}, true, "RT @bob.test: bob's"},
		{"someone else's repost", feedItem{Post: own, Reason: &reasonView{Type: reasonRepost, By: profileView{DID: "did:plc:bob"}, URI: "at://did:plc:bob/app.bsky.feed.repost/3l3qo2vutsw2d"}}, false, ""},
		{"non-TID key", feedItem{Post: postView{URI: "at://did:plc:me/app.bsky.feed.post/self", Author: profileView{DID: "did:plc:me"}}}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := itemPost(me, &tt.it)
			if ok != tt.ok || p.Text != tt.want {
				t.Errorf("itemPost = %q, %v; want %q, %v", p.Text, ok, tt.want, tt.ok)
			}
			if ok && !validTID(p.Cursor) {
				t.Errorf("cursor %q", p.Cursor)
			}
		})
	}
}
