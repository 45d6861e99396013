package twitter_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// BenchmarkSinceIdle is one idle v1.1 poll against twittertest on
// loopback: the client's share of CPU per idle poll (issue 14), the
// server's included.
func BenchmarkSinceIdle(b *testing.B) {
	s := twittertest.NewServer(twittertest.Options{
		ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		AccessToken: accessToken, AccessSecret: accessSecret,
		UserID: userID, ScreenName: screenName,
		UserLimits: map[string]twittertest.RateLimit{"statuses/user_timeline": {Limit: 1 << 30}},
	})
	defer s.Close()
	c, err := twitter.NewV1(twitter.Options{
		APIBase: s.URL(), ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		AccessToken: accessToken, AccessSecret: accessSecret, Timeout: 10 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	cursor := strconv.FormatInt(s.AddTweet(twittertest.Tweet{ID: twittertest.SnowflakeID(time.Now().Add(-time.Hour)), Text: "the cursor"}).ID, 10)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Since(ctx, cursor); err != nil {
			b.Fatal(err)
		}
	}
}
