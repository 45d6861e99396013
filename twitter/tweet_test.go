package twitter

import (
	"strings"
	"testing"

	gotwitter "github.com/dghubble/go-twitter/twitter"
)

func urlEntity(short, long string) gotwitter.URLEntity {
	return gotwitter.URLEntity{URL: short, ExpandedURL: long}
}

func TestPostText(t *testing.T) {
	tests := []struct {
		name  string
		tweet gotwitter.Tweet
		want  string
	}{
		{
			name:  "unescapes what the api escapes",
			tweet: gotwitter.Tweet{FullText: "fish &amp; chips &lt;3 a&gt;b &amp;amp;"},
			want:  "fish & chips <3 a>b &amp;",
		},
		{
			name: "expands links",
			tweet: gotwitter.Tweet{
				FullText: "see https://t.co/abc and https://t.co/abcd",
				Entities: &gotwitter.Entities{Urls: []gotwitter.URLEntity{
					urlEntity("https://t.co/abc", "https://a.example/"),
					urlEntity("https://t.co/abcd", "https://b.example/"),
				}},
			},
			want: "see https://a.example/ and https://b.example/",
		},
		{
			name: "expanded url is not unescaped",
			tweet: gotwitter.Tweet{
				FullText: "q &amp; https://t.co/x1",
				Entities: &gotwitter.Entities{Urls: []gotwitter.URLEntity{urlEntity("https://t.co/x1", "https://e.example/?a=1&lt=2&copy=3")}},
			},
			want: "q & https://e.example/?a=1&lt=2&copy=3",
		},
		{
			name: "media link",
			tweet: gotwitter.Tweet{
				FullText: "photo https://t.co/m1",
				Entities: &gotwitter.Entities{Media: []gotwitter.MediaEntity{{URLEntity: urlEntity("https://t.co/m1", "https://twitter.com/me/status/1/photo/1")}}},
				ExtendedEntities: &gotwitter.ExtendedEntity{Media: []gotwitter.MediaEntity{
					{URLEntity: urlEntity("https://t.co/m1", "https://twitter.com/me/status/1/photo/1")},
					{URLEntity: urlEntity("https://t.co/m1", "https://twitter.com/me/status/1/photo/1")},
				}},
			},
			want: "photo https://twitter.com/me/status/1/photo/1",
		},
		{
			name: "media only in extended_entities",
			tweet: gotwitter.Tweet{
				FullText:         "video https://t.co/v1",
				ExtendedEntities: &gotwitter.ExtendedEntity{Media: []gotwitter.MediaEntity{{URLEntity: urlEntity("https://t.co/v1", "https://twitter.com/me/status/1/video/1")}}},
			},
			want: "video https://twitter.com/me/status/1/video/1",
		},
		{
			name: "link without expansion stays",
			tweet: gotwitter.Tweet{
				FullText: "x https://t.co/q",
				Entities: &gotwitter.Entities{Urls: []gotwitter.URLEntity{urlEntity("https://t.co/q", "")}},
			},
			want: "x https://t.co/q",
		},
		{
			name: "retweet uses the original's full text and entities",
			tweet: gotwitter.Tweet{
				FullText: "RT @bob: truncated…",
				RetweetedStatus: &gotwitter.Tweet{
					FullText: "the whole thing &amp; https://t.co/r",
					User:     &gotwitter.User{ScreenName: "bob"},
					Entities: &gotwitter.Entities{Urls: []gotwitter.URLEntity{urlEntity("https://t.co/r", "https://r.example/")}},
				},
			},
			want: "RT @bob: the whole thing & https://r.example/",
		},
		{
			name:  "compat server without full_text",
			tweet: gotwitter.Tweet{Text: "old &amp; short"},
			want:  "old & short",
		},
		{
			name: "extended_tweet in compatibility mode",
			tweet: gotwitter.Tweet{
				Text:          "cut…",
				ExtendedTweet: &gotwitter.ExtendedTweet{FullText: "whole &lt;text&gt;"},
			},
			want: "whole <text>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := postText(&tt.tweet); got != tt.want {
				t.Errorf("postText = %q, want %q", got, tt.want)
			}
		})
	}
}

// escapeLikeAPI escapes the way full_text is escaped.
func escapeLikeAPI(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// FuzzExpandText feeds the text pipeline what the API would send for a
// plain text with one link in it, and arbitrary input besides.
func FuzzExpandText(f *testing.F) {
	f.Add("fish & chips <3 ", " done", "abc123", "https://example.com/?a=1&b=2")
	f.Add("", "", "Z", "https://e.example/&amp;")
	f.Add("&lt;", "&#116;.co/", "x", "https://t.co/")
	f.Add("😀 é", "\xff", "0", "http://a")
	f.Fuzz(func(t *testing.T, before, after, token, expanded string) {
		// Arbitrary input must never panic.
		_ = expandText(before+token+after, []expansion{{short: token, long: expanded}})

		token = strings.Map(func(r rune) rune {
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
				return r
			}
			return -1
		}, token)
		if token == "" || expanded == "" {
			return
		}
		short := "https://t.co/" + token
		full := escapeLikeAPI(before) + short + escapeLikeAPI(after)
		if strings.Count(full, short) != 1 {
			return // the API would have shortened the other one too
		}
		tw := gotwitter.Tweet{FullText: full, Entities: &gotwitter.Entities{Urls: []gotwitter.URLEntity{urlEntity(short, expanded)}}}
		got, _ := postText(&tw)
		want := before + expanded + after
		if got != want {
			t.Fatalf("postText(%q) = %q, want %q", full, got, want)
		}
		if !strings.Contains(want, short) && strings.Contains(got, short) {
			t.Fatalf("output %q still has the short link %q", got, short)
		}
	})
}
