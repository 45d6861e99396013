package main

import (
	"context"
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
		s, err := r.Render(daemon.Post{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, s)
	}
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
