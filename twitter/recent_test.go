package twitter_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/twitter"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// TestRecent: both APIs return the newest n posts, oldest first,
// converted exactly as Since converts them, paging when n is over a page.
func TestRecent(t *testing.T) {
	for _, api := range []string{twitter.APIv11, twitter.APIv2} {
		t.Run(api, func(t *testing.T) {
			ctx := context.Background()
			s := newServer(t)
			c := apiClient(t, s, api)
			_, want := sinceFixture(s)
			r, ok := c.(daemon.RecentLister)
			if !ok {
				t.Fatal("no Recent")
			}
			posts, err := r.Recent(ctx, len(want))
			if err != nil {
				t.Fatal(err)
			}
			checkPosts(t, posts, want)
			two, err := r.Recent(ctx, 2)
			if err != nil || len(two) != 2 || two[0].ID != want[3].ID || two[1].ID != want[4].ID {
				t.Fatalf("Recent(2) = %+v, %v; want the two newest, oldest first", two, err)
			}

			for i := range 250 {
				s.AddTweet(twittertest.Tweet{Text: "bulk " + str(int64(i))})
			}
			many, err := r.Recent(ctx, 230)
			if err != nil || len(many) != 230 {
				t.Fatalf("Recent(230) = %d posts, %v", len(many), err)
			}
			if many[0].Text != "bulk 20" || many[229].Text != "bulk 249" {
				t.Fatalf("Recent(230) spans %q to %q; want bulk 20 to bulk 249", many[0].Text, many[229].Text)
			}
			for i := 1; i < len(many); i++ {
				a, _ := strconv.ParseInt(many[i-1].Cursor, 10, 64)
				b, _ := strconv.ParseInt(many[i].Cursor, 10, 64)
				if a >= b {
					t.Fatalf("posts %d and %d out of order: %s, %s", i-1, i, many[i-1].Cursor, many[i].Cursor)
				}
			}
		})
	}
}
