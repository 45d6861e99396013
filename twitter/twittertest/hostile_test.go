package twittertest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

func TestHugeBody(t *testing.T) {
	for _, tt := range []struct{ name, base, path, prefix string }{
		{name: "v1.1", path: "statuses/user_timeline.json", prefix: "["},
		{name: "v2", path: "users/" + strconv.Itoa(twittertest.DefaultUserID) + "/tweets", prefix: `{"data":[`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			c := client(s, nil)
			base := s.URL()
			if tt.name == "v2" {
				base = s.V2URL()
			}
			for _, n := range []int64{10, 5000, 1 << 20} {
				s.Fail(twittertest.FaultHugeBody(n))
				r := get(t, c, base, tt.path, nil)
				if r.status != 200 || int64(len(r.body)) != n && n > 100 || r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
					t.Fatalf("%d bytes asked: status %d, %d bytes, Content-Length %s", n, r.status, len(r.body), r.header.Get("Content-Length"))
				}
				if !json.Valid(r.body) || !bytes.HasPrefix(r.body, []byte(tt.prefix)) {
					t.Errorf("%d bytes asked: not a JSON timeline: %.100s…%s", n, r.body, r.body[max(0, len(r.body)-50):])
				}
			}
		})
	}
}

func TestEndlessBody(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	s.Fail(twittertest.Fault{Status: 503, EndlessBody: true})
	resp, err := c.Get(s.URL() + "statuses/user_timeline.json")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || resp.ContentLength != -1 {
		t.Errorf("status %d, length %d; want 503 of unknown length", resp.StatusCode, resp.ContentLength)
	}
	n, err := io.CopyN(io.Discard, resp.Body, 20<<20)
	if n != 20<<20 || err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	resp.Body.Close()
	s.Close() // must not wait for the endless body
}

func TestDrop(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	s.Fail(twittertest.FaultDrop())
	_, err := c.Get(s.URL() + "statuses/user_timeline.json")
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatalf("err %v, want the connection dropped", err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Status != 0 || !reqs[0].OAuthVerified || reqs[0].At.IsZero() {
		t.Errorf("requests %+v, want one dropped", reqs)
	}
	if r := get(t, c, s.URL(), "statuses/user_timeline.json", nil); r.status != 200 {
		t.Errorf("after the drop: %d", r.status)
	}
}

func TestResetHeaderFault(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	for _, status := range []int{0, 429} {
		s.Fail(twittertest.FaultResetHeader(status, "99999999999"))
		r := get(t, c, s.URL(), "statuses/user_timeline.json", nil)
		want := status
		if status == 0 {
			want = 200
		}
		if r.status != want || len(r.header.Values("X-Rate-Limit-Reset")) != 1 || r.header.Get("X-Rate-Limit-Reset") != "99999999999" || r.header.Get("X-Rate-Limit-Remaining") != "0" {
			t.Errorf("status %d, headers %v", r.status, r.header)
		}
		if status == 0 && !json.Valid(r.body) {
			t.Errorf("not served normally: %s", r.body)
		}
	}
}

func TestImplausibleIDsServed(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	s.AddTweet(twittertest.Tweet{ID: math.MaxInt64, Text: "the end of time"})
	next := s.AddTweet(twittertest.Tweet{Text: "after"})
	if next.ID > twittertest.SnowflakeID(time.Now()) {
		t.Errorf("a tweet after 2^63-1 got id %d, from the future", next.ID)
	}
	r := get(t, c, s.URL(), "statuses/user_timeline.json", nil)
	if !bytes.Contains(r.body, []byte(`"id":9223372036854775807,"id_str":"9223372036854775807"`)) {
		t.Errorf("2^63-1 not served as given: %.300s", r.body)
	}
	// The snowflake layout: time in the bits above the low 22.
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	if got := time.UnixMilli(twittertest.SnowflakeID(at)>>22 + twittertest.SnowflakeEpoch); !got.Equal(at) {
		t.Errorf("SnowflakeID decodes to %s, want %s", got, at)
	}
}

func TestMedia(t *testing.T) {
	s := newServer(t)
	c := client(s, nil)
	tw := s.AddTweet(twittertest.Tweet{Text: "look", Media: []twittertest.Media{{}, {Type: "video"}}})
	if tw.MediaURL == "" || tw.Media[0].ID == 0 || tw.Media[1].Key == "" {
		t.Fatalf("media not filled in: %+v", tw)
	}
	expanded := "https://twitter.com/" + twittertest.DefaultScreenName + "/status/" + strconv.FormatInt(tw.ID, 10) + "/photo/1"

	r := get(t, c, s.URL(), "statuses/user_timeline.json", url.Values{"tweet_mode": {"extended"}})
	var tweets []obj
	decode(t, r.body, &tweets)
	got := tweets[0]
	if want := "look " + tw.MediaURL; got["full_text"] != want {
		t.Errorf("full_text %q, want %q", got["full_text"], want)
	}
	media := got["entities"].(obj)["media"].([]any)
	ext := got["extended_entities"].(obj)["media"].([]any)
	if len(media) != 1 || len(ext) != 2 {
		t.Fatalf("%d in entities.media, %d in extended_entities: want 1 and 2", len(media), len(ext))
	}
	m := media[0].(obj)
	idx := m["indices"].([]any)
	if m["url"] != tw.MediaURL || m["expanded_url"] != expanded || idx[0] != jsonNum(5) || idx[1] != jsonNum(5+len(tw.MediaURL)) {
		t.Errorf("media entity %v", m)
	}
	if v := ext[1].(obj); v["type"] != "video" || v["video_info"] == nil {
		t.Errorf("video entity %v", v)
	}
	if r := got["display_text_range"].([]any); r[1] != jsonNum(4) {
		t.Errorf("display_text_range %v, want the link outside", r)
	}

	r = get(t, c, s.V2URL(), "users/"+strconv.Itoa(twittertest.DefaultUserID)+"/tweets", url.Values{"tweet.fields": {"entities"}})
	var v2 struct {
		Data []struct {
			Text     string `json:"text"`
			Entities struct {
				URLs []struct {
					URL, ExpandedURL, MediaKey string
				} `json:"urls"`
			} `json:"entities"`
		} `json:"data"`
	}
	if err := json.Unmarshal(bytes.ReplaceAll(bytes.ReplaceAll(r.body, []byte("expanded_url"), []byte("ExpandedURL")), []byte("media_key"), []byte("MediaKey")), &v2); err != nil {
		t.Fatal(err)
	}
	if len(v2.Data) != 1 || v2.Data[0].Text != "look "+tw.MediaURL || len(v2.Data[0].Entities.URLs) != 1 {
		t.Fatalf("v2: %s", r.body)
	}
	if u := v2.Data[0].Entities.URLs[0]; u.URL != tw.MediaURL || u.ExpandedURL != expanded || !strings.HasPrefix(u.MediaKey, "3_") {
		t.Errorf("v2 media link %+v", u)
	}
}
