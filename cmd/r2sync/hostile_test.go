package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// hostileTweets are texts that break naive XML, XMPP or truncation code.
// (No CR: XML parsers turn it into LF, so a status cannot keep it.)
var hostileTweets = []string{
	"nul \x00 byte",
	"backspace \x08 and escape \x1b[31mred\x1b[0m",
	"noncharacters \uFFFE and \uFFFF end",
	"family 👨‍👩‍👧‍👦 and 🏳️‍🌈 zwj",
	"flags 🇨🇳🇯🇵🇺🇸🇩🇪",
	"combining e\u0301\u0301 Z̤͔ͧ̑̓ a\u0308",
	"rtl مرحبا بالعالم \u202Eevil\u202C שלום",
	strings.Repeat("中", 280),
	strings.Repeat("👍🏽", 150),
	"</status></presence><presence type='unavailable'/>",
	"]]> <![CDATA[x]]> <!-- c --> <?pi?>",
	"&amp; &lt;b&gt; &#0; &#x1F; & < > ' \"",
	"tab\tand\nnewline",
}

// TestHostileText sends each hostile tweet through the API and a real
// Prosody: the stream stays up (one session, no unavailable presence),
// each status arrives sanitised and truncated exactly as the renderer
// says, and nothing is injected (the statuses are exactly these, in order).
func TestHostileText(t *testing.T) { forEachAPI(t, testHostileText) }

func testHostileText(t *testing.T, api string) {
	w := newWorld(t, api, "[sync]\ntemplate = \"{{.Text}}\"\nmax_length = 140\n")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })

	r, err := daemon.NewRenderer("{{.Text}}", 140)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, text := range hostileTweets {
		w.server.AddTweet(twittertest.Tweet{Text: text})
		s, err := r.Render(daemon.Post{Text: text}, daemon.SanitizeXML)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, s)
	}
	// The injected answer replaces a whole timeline page: inject it only
	// once everything before it was fetched.
	w.statuses(ctx, len(want))
	want = append(want, serveLoneSurrogates(t, w))
	w.server.AddTweet(twittertest.Tweet{Text: "sentinel"})
	want = append(want, "sentinel")
	got := w.statuses(ctx, len(want))
	for i := range want {
		if i < len(got) && got[i] != want[i] {
			t.Errorf("status %d\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	checkOnce(t, got, want)
	for _, s := range got {
		if n := len([]rune(s)); n > 2*140 { // clusters ≤ 140; a cluster is short
			t.Errorf("status of %d runes was not truncated: %q", n, s)
		}
	}
	if n := w.sessionCount(); n != 1 {
		t.Errorf("%d sessions, want 1: the stream broke", n)
	}
	if n := countUnavailable(w); n != 0 {
		t.Errorf("%d unavailable presences from the daemon, want 0 (injected or dropped)", n)
	}
	d.stop(t)
}

// serveLoneSurrogates makes the next timeline answer carry a tweet whose
// JSON text has unpaired surrogate escapes, which no Go string can hold,
// and returns the status it must become: JSON decoding turns each into
// U+FFFD, a character XML can carry.
func serveLoneSurrogates(t *testing.T, w *world) string {
	t.Helper()
	var last int64
	for _, tw := range w.server.Tweets() {
		last = max(last, tw.ID)
	}
	id := last + 1
	const text = `lone \ud800 high and \udfff low, reversed \udc00\ud800 pair`
	fault := twittertest.Fault{Status: 200, Path: "user_timeline", Body: fmt.Sprintf(
		`[{"id":%d,"id_str":"%d","full_text":"%s","created_at":"Mon Nov 23 22:00:00 +0000 2026",`+
			`"user":{"id":42,"id_str":"42","screen_name":"alice"},"entities":{"urls":[]},`+
			`"in_reply_to_user_id":null,"in_reply_to_user_id_str":null}]`, id, id, text)}
	if w.api == "v2" {
		fault = twittertest.Fault{Status: 200, Path: "/tweets", Body: fmt.Sprintf(
			`{"data":[{"id":"%d","text":"%s","author_id":"42","created_at":"2026-11-23T22:00:00.000Z","edit_history_tweet_ids":["%d"]}],`+
				`"meta":{"result_count":1,"newest_id":"%d","oldest_id":"%d"}}`, id, text, id, id, id)}
	}
	w.server.Fail(fault)
	// The placeholder takes the id the fault announced, so later answers
	// start after it; its own text is never served.
	if got := w.server.AddTweet(twittertest.Tweet{Text: "placeholder"}); got.ID != id {
		t.Fatalf("placeholder got id %d, want %d", got.ID, id)
	}
	return "lone \uFFFD high and \uFFFD low, reversed \uFFFD\uFFFD pair"
}
