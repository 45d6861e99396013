package twitter_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// TestSinceOneRequestPerPoll: with ids like X's (a user's consecutive
// tweets are far apart, never id+1), a poll right after a complete one
// costs one timeline request unless its page was full (issue 14: every
// page with a post used to be followed by a max_id request, 1.9 requests
// per poll while tweets arrive).
func TestSinceOneRequestPerPoll(t *testing.T) {
	tests := []struct {
		name         string
		fresh        bool // no earlier poll of this client
		newTweets    int
		deleted      func(i int) bool
		wantRequests int
	}{
		{name: "idle", wantRequests: 1},
		{name: "one new tweet", newTweets: 1, wantRequests: 1},
		{name: "twenty new tweets", newTweets: 20, wantRequests: 1},
		{name: "fifty new", newTweets: 50, wantRequests: 1},
		// More than X lets an account post in that time: prove the end.
		{name: "51 new", newTweets: 51, wantRequests: 2},
		{name: "some of the new deleted", newTweets: 30, deleted: func(i int) bool { return i%4 == 0 }, wantRequests: 1},
		{name: "a full page pages back", newTweets: 250, wantRequests: 3},
		{name: "a full page of which some deleted", newTweets: 450, deleted: func(i int) bool { return i%3 == 0 || (i > 100 && i < 250) }, wantRequests: 4},
		// The first poll of a run knows nothing of what came before it.
		{name: "first poll of a run", fresh: true, newTweets: 1, wantRequests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			c := newClient(t, s, nil)
			ctx := context.Background()
			id := twittertest.SnowflakeID(time.Now().Add(-time.Hour))
			next := func() int64 { id += 4_194_304 + 977; return id } // a millisecond and a bit apart
			s.AddTweet(twittertest.Tweet{ID: next(), Text: "older"})
			cursor := strconv.FormatInt(s.AddTweet(twittertest.Tweet{ID: next(), Text: "the cursor"}).ID, 10)
			if !tt.fresh {
				if posts, err := c.Since(ctx, cursor); err != nil || len(posts) != 0 {
					t.Fatalf("first poll: %d posts, %v", len(posts), err)
				}
			}
			before := len(s.Requests())
			var want []int64
			for i := range tt.newTweets {
				tw := s.AddTweet(twittertest.Tweet{ID: next(), Text: "new " + strconv.Itoa(i)})
				if tt.deleted != nil && tt.deleted(i) {
					s.Delete(tw.ID)
					continue
				}
				want = append(want, tw.ID)
			}
			posts, err := c.Since(ctx, cursor)
			if err != nil {
				t.Fatal(err)
			}
			if len(posts) != len(want) {
				t.Fatalf("got %d posts, want %d", len(posts), len(want))
			}
			for i := range want {
				if posts[i].ID != str(want[i]) {
					t.Fatalf("post %d = %s, want %d", i, posts[i].ID, want[i])
				}
			}
			if n := len(s.Requests()) - before; n != tt.wantRequests {
				t.Errorf("%d timeline requests, want %d", n, tt.wantRequests)
			}
			if len(want) == 0 {
				return
			}
			// The next poll starts where this one ended: one request again.
			before = len(s.Requests())
			s.AddTweet(twittertest.Tweet{ID: next(), Text: "one more"})
			if posts, err := c.Since(ctx, posts[len(posts)-1].Cursor); err != nil || len(posts) != 1 {
				t.Fatalf("next poll: %d posts, %v", len(posts), err)
			}
			if n := len(s.Requests()) - before; n != 1 {
				t.Errorf("next poll: %d timeline requests, want 1", n)
			}
		})
	}
}
