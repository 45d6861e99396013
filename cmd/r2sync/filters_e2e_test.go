package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/twitter/twittertest"
)

// filterConfig is a [sync] section that uses every filter key.
const filterConfig = `[sync]
template = "[r2] {{.Text}}"
skip_tags = ["noxp"]
only_tags = ["xp", "同步"]
strip_tags = true
skip_pattern = '(?i)\bspoiler\b'
only_pattern = '^[^!]'
skip_older_than = "1h"
`

// filterTweets are tweets each key decides, and the statuses they must
// become.
func filterTweets(now time.Time) ([]twittertest.Tweet, []string) {
	tweets := []twittertest.Tweet{
		{Text: "hello world #xp"},                                        // only_tags, stripped
		{Text: "private thoughts #xp #NoXP"},                             // skip_tags beats only_tags
		{Text: "no tag at all"},                                          // only_tags: none
		{Text: "big Spoiler ahead #xp"},                                  // skip_pattern
		{Text: "#同步 你好 🎉"},                                               // CJK only tag, stripped at the start
		{Text: "!quiet #xp"},                                             // only_pattern does not match
		{Text: "from yesterday #xp", CreatedAt: now.Add(-2 * time.Hour)}, // skip_older_than
		{Text: "tag at the very end #XP"},                                // stripped at the very end
	}
	want := []string{"[r2] hello world", "[r2] 你好 🎉", "[r2] tag at the very end"}
	return tweets, want
}

// TestFiltersChooseWhatIsMirrored: with every filter key set, tweets
// with #noxp, with and without an only-tag, matching and not matching the
// patterns, and old ones after an outage become exactly the expected
// statuses; each skip is logged with its reason and trigger and counted
// in `r2sync status`; `preview` then prints exactly the statuses sent.
func TestFiltersChooseWhatIsMirrored(t *testing.T) {
	t.Parallel()
	forEachAPI(t, func(t *testing.T, api string) {
		listen := closedPort(t)
		w := newWorld(t, api, filterConfig+"[http]\nlisten = \""+listen+"\"\n")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()

		d := w.start()
		waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })
		tweets, want := filterTweets(time.Now())
		for _, tw := range tweets {
			w.server.AddTweet(tw)
		}
		// A sentinel proves nothing else was queued before it.
		w.server.AddTweet(twittertest.Tweet{Text: "sentinel #xp"})
		want = append(want, "[r2] sentinel")
		if got := w.statuses(ctx, len(want)); !slices.Equal(got, want) {
			t.Fatalf("statuses\n got %q\nwant %q", got, want)
		}
		// The presence goes out before its log line is written, and the
		// log reaches us through a pipe: wait for each line, do not
		// expect it at once.
		for _, line := range []string{
			`"reason":"skip_tags","tag":"noxp"`,
			`"reason":"only_tags"`,
			`"reason":"skip_pattern","pattern":"(?i)\\bspoiler\\b"`,
			`"reason":"only_pattern","pattern":"^[^!]"`,
			`"reason":"skip_older_than","age":"2h0m`,
		} {
			waitFor(t, "the log line "+line, 10*time.Second, func() bool { return strings.Contains(d.out.String(), line) })
		}
		const skipped = "skipped:        1 only_pattern, 1 only_tags, 1 skip_older_than, 1 skip_pattern, 1 skip_tags since the daemon started\n"
		// Each skip is counted just after its log line.
		code, out, stderr := r2sync(t, "status", "--config", w.config)
		for deadline := time.Now().Add(10 * time.Second); code != 0 || !strings.Contains(out, skipped); {
			if time.Now().After(deadline) {
				t.Fatalf("status does not count every skip: exit %d\n%s%s", code, out, stderr)
			}
			time.Sleep(50 * time.Millisecond)
			code, out, stderr = r2sync(t, "status", "--config", w.config)
		}

		// preview on the same timeline prints the same strings. Its
		// count reaches back to the first tweet above.
		n := len(tweets) + 1
		code, out, stderr = r2sync(t, "preview", "--config", w.config, "--count", strconv.Itoa(n))
		if code != 0 {
			t.Fatalf("preview: exit %d\n%s%s", code, out, stderr)
		}
		previewed, skips := previewLines(t, out)
		if !slices.Equal(previewed, want) {
			t.Errorf("preview shows\n%q\nthe daemon sent\n%q\npreview output:\n%s", previewed, want, out)
		}
		if len(skips) != n-len(want) || !strings.Contains(out, "skip: skip_tags tag=noxp\n") ||
			!strings.Contains(out, "skip: skip_older_than age=2h0m") || !strings.Contains(out, "4 of 9 posts would become statuses\n") {
			t.Errorf("preview skips %q\n%s", skips, out)
		}
		t.Logf("preview transcript:\n%s", out)

		// An outage: tweets made while the daemon was down for hours are
		// old when it is back, and skipped; a fresh one is mirrored.
		d.stop(t)
		w.server.AddTweet(twittertest.Tweet{Text: "during the outage #xp", CreatedAt: time.Now().Add(-5 * time.Hour)})
		w.server.AddTweet(twittertest.Tweet{Text: "also old #xp", CreatedAt: time.Now().Add(-90 * time.Minute)})
		w.server.AddTweet(twittertest.Tweet{Text: "back again #xp"})
		d = w.start()
		want = append(want, "[r2] back again")
		if got := w.statuses(ctx, len(want)); !slices.Equal(got, want) {
			t.Fatalf("statuses after the outage\n got %q\nwant %q", got, want)
		}
		waitFor(t, "both old tweets to be logged as skipped", 10*time.Second, func() bool {
			return strings.Count(d.out.String(), `"reason":"skip_older_than"`) == 2
		})
		d.stop(t)
	})
}

// previewLines splits preview's output into the quoted statuses and the
// skip lines.
func previewLines(t *testing.T, out string) (statuses, skips []string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fields := strings.SplitN(line, "  ", 3)
		if len(fields) != 3 {
			continue // the summary line
		}
		if s, ok := strings.CutPrefix(fields[2], "skip: "); ok {
			skips = append(skips, s)
			continue
		}
		s, err := strconv.Unquote(fields[2])
		if err != nil {
			t.Fatalf("preview line %q: status not quoted: %v", line, err)
		}
		statuses = append(statuses, s)
	}
	return statuses, skips
}

// TestDryRunSendsNothing: `preview` and `run --dry-run` send nothing:
// the dry run logs the statuses it would set, never logs in (the watcher
// sees no presence from the account), and neither leaves a state file,
// nor anything beside it.
func TestDryRunSendsNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "v2", filterConfig)
	w.server.AddTweet(twittertest.Tweet{Text: "before the dry run #xp"})
	code, out, stderr := r2sync(t, "preview", "--config", w.config, "--count", "3")
	if code != 0 || !strings.HasSuffix(out, "\"[r2] before the dry run\"\n1 of 1 posts would become statuses\n") {
		t.Errorf("preview: exit %d\n%s%s", code, out, stderr)
	}
	d := w.start("--dry-run")
	waitFor(t, "the dry run to start", 30*time.Second, func() bool {
		return strings.Contains(d.out.String(), "r2sync starting a dry run")
	})
	// The first poll records the newest tweet (in memory): wait for it.
	waitFor(t, "the first poll", 30*time.Second, func() bool {
		return strings.Contains(d.out.String(), "first start: older posts are not mirrored")
	})
	tweets, want := filterTweets(time.Now())
	for _, tw := range tweets {
		w.server.AddTweet(tw)
	}
	waitFor(t, "every status to be logged", 30*time.Second, func() bool {
		return strings.Count(d.out.String(), `"would set status"`) == len(want)
	})
	for _, s := range want {
		if !strings.Contains(d.out.String(), `"status":"`+s+`"`) {
			t.Errorf("dry run did not log %q:\n%s", s, d.out)
		}
	}
	d.stop(t)
	// The server itself answers the watcher's probe for the offline
	// account from the bare JID; only a session has a resource.
	for _, p := range w.watcher.Presences() {
		if strings.HasPrefix(p.From, userJID+"/") {
			t.Errorf("the dry run sent a presence: %+v", p)
		}
	}
	if sessions := w.sessionCount(); sessions != 0 {
		t.Errorf("%d sessions of the account on the server; want none", sessions)
	}
	if _, err := os.Stat(filepath.Dir(w.state)); !errors.Is(err, fs.ErrNotExist) {
		files, _ := filepath.Glob(filepath.Join(filepath.Dir(w.state), "*"))
		t.Errorf("preview and the dry run left %v (stat: %v); want no state directory", files, err)
	}
}

// TestMaxPerHourPacesABurst: with max_per_hour = 3600 a burst of ten
// tweets arrives about a second apart, in order, and a kill -9 in the
// middle of it loses none (the one in flight may come twice). Not
// parallel: it measures time.
func TestMaxPerHourPacesABurst(t *testing.T) {
	w := newWorld(t, "v2", "[sync]\nmax_per_hour = 3600\n")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := w.start()
	waitFor(t, "first start to be recorded", 30*time.Second, func() bool { return w.readState().Initialized })

	arrivals := watchArrivals(ctx, w)
	want := numbered("burst ", 10)
	for _, text := range want {
		w.server.AddTweet(twittertest.Tweet{Text: text})
	}
	waitFor(t, "four statuses", 30*time.Second, func() bool { return len(arrivals.texts()) >= 4 })
	unavailable := countUnavailable(w)
	d.kill()
	waitFor(t, "the killed session to be gone", 90*time.Second, func() bool { return countUnavailable(w) > unavailable })
	// Only the status last seen before the kill may come again: it may
	// have been in flight, published and not yet recorded.
	before := arrivals.texts()
	d = w.start()
	waitFor(t, "the rest of the burst", 60*time.Second, func() bool {
		got, _ := dedupe(arrivals.texts())
		return len(got) >= len(want)
	})
	got := arrivals.texts()
	deduped, dups := dedupe(got)
	if !slices.Equal(deduped, want) {
		t.Fatalf("statuses\n%q\nwant each of\n%q\nonce, in order", got, want)
	}
	for _, s := range dups {
		if s != before[len(before)-1] {
			t.Errorf("status %q came twice but was not the one in flight at the kill", s)
		}
	}
	// The pace, between first arrivals of distinct statuses; the gap
	// into the first status after the restart spans the restart.
	first := map[string]time.Time{}
	for i, at := range arrivals.times() {
		if _, ok := first[got[i]]; !ok {
			first[got[i]] = at
		}
	}
	var gaps []time.Duration
	for i := 1; i < len(want); i++ {
		gap := first[want[i]].Sub(first[want[i-1]])
		gaps = append(gaps, gap.Round(10*time.Millisecond))
		if i == len(before) {
			continue
		}
		if gap < 900*time.Millisecond || gap > 2500*time.Millisecond {
			t.Errorf("%q came %s after %q; want about 1s", want[i], gap, want[i-1])
		}
	}
	t.Logf("gaps between statuses: %v (gap %d spans the kill and restart); %d repeated", gaps, len(before), len(dups))
	d.stop(t)
}

// arrivals records when each status reached the watcher.
type arrivals struct {
	mu   sync.Mutex
	text []string
	at   []time.Time
}

// watchArrivals polls the watcher every 5ms until ctx ends: the
// timestamps are good to a few milliseconds, enough to see a 1s pace.
func watchArrivals(ctx context.Context, w *world) *arrivals {
	a := &arrivals{}
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				got := texts(w.watcher.Statuses())
				a.mu.Lock()
				for _, s := range got[len(a.text):] {
					a.text = append(a.text, s)
					a.at = append(a.at, now)
				}
				a.mu.Unlock()
			}
		}
	}()
	return a
}

func (a *arrivals) texts() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.text)
}

func (a *arrivals) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.at)
}
