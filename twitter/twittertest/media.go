package twittertest

import (
	"strconv"
	"unicode/utf8"
)

// Media is a photo, video or animated GIF attached to a tweet.
type Media struct {
	// ID is assigned by AddTweet when zero.
	ID int64
	// Type is "photo" (the default), "video" or "animated_gif".
	Type string
	// Width and Height of the original; 0 means 1920×1080.
	Width, Height int
	// Key names the media files on pbs.twimg.com; generated when empty.
	Key string
}

// v1.1 media JSON, as in entities.media and extended_entities.media.
type (
	mediaJSON struct {
		ID            int64               `json:"id"`
		IDStr         string              `json:"id_str"`
		Indices       [2]int              `json:"indices"`
		MediaURL      string              `json:"media_url"`
		MediaURLHTTPS string              `json:"media_url_https"`
		URL           string              `json:"url"`
		DisplayURL    string              `json:"display_url"`
		ExpandedURL   string              `json:"expanded_url"`
		Type          string              `json:"type"`
		OriginalInfo  sizeJSON            `json:"original_info"`
		Sizes         map[string]sizeJSON `json:"sizes"`
		VideoInfo     *videoInfoJSON      `json:"video_info,omitempty"`
		Features      map[string]struct{} `json:"features"`
		ExtAltText    *string             `json:"ext_alt_text"`
	}
	sizeJSON struct {
		W      int    `json:"w,omitempty"`
		H      int    `json:"h,omitempty"`
		Resize string `json:"resize,omitempty"`
		Width  int    `json:"width,omitempty"`
		Height int    `json:"height,omitempty"`
	}
	videoInfoJSON struct {
		AspectRatio    [2]int        `json:"aspect_ratio"`
		DurationMillis int           `json:"duration_millis,omitempty"`
		Variants       []variantJSON `json:"variants"`
	}
	variantJSON struct {
		Bitrate     *int   `json:"bitrate,omitempty"`
		ContentType string `json:"content_type"`
		URL         string `json:"url"`
	}
	extEntitiesJSON struct {
		Media []mediaJSON `json:"media"`
	}
)

// attach fills in the ids, keys and t.co link of t's media. The caller
// holds s.mu; t.ID is set.
func (s *Server) attach(t *Tweet) {
	if len(t.Media) == 0 {
		return
	}
	if t.MediaURL == "" {
		t.MediaURL = "https://t.co/" + s.key(10)
	}
	for i := range t.Media {
		m := &t.Media[i]
		if m.ID == 0 {
			m.ID = t.ID - int64(len(t.Media)) + int64(i) // just below the tweet's, as on X
		}
		if m.Type == "" {
			m.Type = "photo"
		}
		if m.Width == 0 || m.Height == 0 {
			m.Width, m.Height = 1920, 1080
		}
		if m.Key == "" {
			m.Key = s.key(10) + s.key(5)
		}
	}
}

// mediaPath is the status page part of a media link: "photo/1", "video/1".
func mediaPath(t Tweet) string {
	kind := "photo"
	if t.Media[0].Type != "photo" {
		kind = "video"
	}
	return kind + "/1"
}

// mediaExpanded is where a tweet's media link points.
func mediaExpanded(t Tweet) string {
	return "https://twitter.com/" + t.ScreenName + "/status/" + idStr(t.ID) + "/" + mediaPath(t)
}

// mediaDisplay is the media link as Twitter shows it.
func mediaDisplay(t Tweet) string {
	return "pic.twitter.com/" + t.MediaURL[len("https://t.co/"):]
}

// renderMedia builds the v1.1 media objects of t, whose link starts at
// code point start of the served text.
func renderMedia(t Tweet, start int) []mediaJSON {
	end := start + utf8.RuneCountInString(t.MediaURL)
	out := make([]mediaJSON, 0, len(t.Media))
	for _, m := range t.Media {
		j := mediaJSON{
			ID: m.ID, IDStr: idStr(m.ID), Indices: [2]int{start, end},
			URL: t.MediaURL, DisplayURL: mediaDisplay(t), ExpandedURL: mediaExpanded(t),
			Type:         m.Type,
			OriginalInfo: sizeJSON{Width: m.Width, Height: m.Height},
			Sizes: map[string]sizeJSON{
				"thumb":  {W: 150, H: 150, Resize: "crop"},
				"small":  {W: 680, H: 680 * m.Height / m.Width, Resize: "fit"},
				"medium": {W: 1200, H: 1200 * m.Height / m.Width, Resize: "fit"},
				"large":  {W: m.Width, H: m.Height, Resize: "fit"},
			},
			Features: map[string]struct{}{},
		}
		if m.Type == "photo" {
			j.MediaURL = "http://pbs.twimg.com/media/" + m.Key + ".jpg"
		} else {
			dir := "ext_tw_video"
			if m.Type == "animated_gif" {
				dir = "tweet_video"
			}
			j.MediaURL = "http://pbs.twimg.com/" + dir + "_thumb/" + idStr(m.ID) + "/pu/img/" + m.Key + ".jpg"
			j.VideoInfo = &videoInfoJSON{AspectRatio: [2]int{16, 9}, DurationMillis: 30_000}
			if m.Type == "animated_gif" {
				j.VideoInfo.DurationMillis = 0
				zero := 0
				j.VideoInfo.Variants = []variantJSON{{Bitrate: &zero, ContentType: "video/mp4", URL: "https://video.twimg.com/tweet_video/" + m.Key + ".mp4"}}
			} else {
				base := "https://video.twimg.com/ext_tw_video/" + idStr(m.ID) + "/pu/"
				j.VideoInfo.Variants = []variantJSON{{ContentType: "application/x-mpegURL", URL: base + "pl/" + m.Key + ".m3u8?tag=12&container=fmp4"}}
				for _, v := range []struct{ rate, w, h int }{{256000, 480, 270}, {832000, 640, 360}, {2176000, 1280, 720}} {
					rate := v.rate
					j.VideoInfo.Variants = append(j.VideoInfo.Variants, variantJSON{Bitrate: &rate, ContentType: "video/mp4",
						URL: base + "vid/avc1/" + strconv.Itoa(v.w) + "x" + strconv.Itoa(v.h) + "/" + m.Key + ".mp4?tag=12"})
				}
			}
		}
		j.MediaURLHTTPS = "https" + j.MediaURL[len("http"):]
		out = append(out, j)
	}
	return out
}

// withMedia appends t's media link to text, the served text of t, and
// returns the new text and the media objects (nil when t has none).
func withMedia(t Tweet, text string) (string, []mediaJSON) {
	if len(t.Media) == 0 {
		return text, nil
	}
	if text != "" {
		text += " "
	}
	media := renderMedia(t, utf8.RuneCountInString(text))
	return text + t.MediaURL, media
}

// mediaKey is a v2 media key: a type prefix and the media id.
func mediaKey(m Media) string {
	switch m.Type {
	case "video":
		return "7_" + idStr(m.ID)
	case "animated_gif":
		return "16_" + idStr(m.ID)
	}
	return "3_" + idStr(m.ID)
}
