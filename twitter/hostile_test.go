package twitter_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/r2sync/r2sync/twitter"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// apis are the two protocols every hostile case runs against, with the
// client for each and the fault path of its timeline.
var apis = []struct {
	name     string
	client   func(*testing.T, *twittertest.Server, func(*twitter.Options)) client
	timeline string
}{
	{name: "v1.1", client: newClient, timeline: "user_timeline"},
	{name: "v2", client: newV2Client, timeline: "/tweets"},
}

// memUse is what a call cost in memory: the bytes it allocated in all,
// and the highest heap in use above where it started.
type memUse struct {
	total, peak uint64
}

// measure runs f and samples the heap every few milliseconds meanwhile.
func measure(f func()) memUse {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	peak = max(peak, after.HeapInuse)
	u := memUse{total: after.TotalAlloc - before.TotalAlloc}
	if peak > before.HeapInuse {
		u.peak = peak - before.HeapInuse
	}
	return u
}

// TestHostileBodies: a 200 MB or endless timeline, or error page, ends
// the request at the cap with an error that says so, in bounded memory
// and time. Before the cap, v1.1 read all of it (1.36 GB RSS for 200 MB,
// out of memory for an endless one).
func TestHostileBodies(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name  string
		fault twittertest.Fault
	}{
		{name: "200 MB timeline", fault: twittertest.FaultHugeBody(200e6)},
		{name: "endless timeline", fault: twittertest.FaultEndlessBody()},
		{name: "endless 503 page", fault: twittertest.Fault{Status: 503, EndlessBody: true}},
		{name: "200 MB 429 page", fault: twittertest.Fault{Status: 429, BodyBytes: 200e6}},
	}
	for _, api := range apis {
		for _, tc := range cases {
			t.Run(api.name+"/"+tc.name, func(t *testing.T) {
				s := newServer(t)
				s.AddTweet(twittertest.Tweet{Text: "hello"})
				c := api.client(t, s, nil)
				f := tc.fault
				f.Path = api.timeline
				s.Fail(f)
				var err error
				start := time.Now()
				mem := measure(func() { _, err = c.Since(context.Background(), "") })
				took := time.Since(start)
				t.Logf("%s: allocated %.1f MiB, peak heap +%.1f MiB, %s: %v", tc.name,
					float64(mem.total)/mib, float64(mem.peak)/mib, took.Round(time.Millisecond), err)
				var ae *twitter.APIError
				switch {
				case err == nil:
					t.Fatal("no error")
				case f.Status == 0 && !strings.HasSuffix(err.Error(), "twitter: response body over 8 MiB"):
					t.Errorf("error %q does not say the body was too large", err)
				case f.Status != 0 && (!errors.As(err, &ae) || ae.StatusCode != f.Status):
					t.Errorf("error %v, want the api error for status %d", err, f.Status)
				}
				if mem.total > 64*mib || mem.peak > 64*mib {
					t.Errorf("allocated %d bytes, heap peak +%d: want both under 64 MiB", mem.total, mem.peak)
				}
				if took > 5*time.Second {
					t.Errorf("took %s: the cap should end it, not the timeout", took)
				}
				// The next poll works again.
				if _, err := c.Since(context.Background(), ""); err != nil {
					t.Errorf("next poll: %v", err)
				}
			})
		}
	}
}

// TestLoginHostileBody: the OAuth token endpoints are capped too.
func TestLoginHostileBody(t *testing.T) {
	s := newServer(t)
	s.Fail(twittertest.Fault{EndlessBody: true, Path: "request_token"})
	var err error
	mem := measure(func() {
		_, err = twitter.StartLogin(context.Background(), twitter.LoginOptions{
			APIBase: s.V2URL(), API: twitter.APIv2, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, Timeout: 10 * time.Second,
		})
	})
	if err == nil || !strings.Contains(err.Error(), "response body over 64 KiB") {
		t.Fatalf("err %v, want the body refused", err)
	}
	if mem.total > 16<<20 {
		t.Errorf("allocated %d bytes for a refused login answer", mem.total)
	}
}

// TestRateLimitResetBounded: whatever x-rate-limit-reset says, neither a
// 429's RetryAt nor Pace waits past one rate-limit window (15 minutes)
// and a minute. One answer 100 years ahead used to stop the poller for
// 100 years.
func TestRateLimitResetBounded(t *testing.T) {
	const maxWait = 16*time.Minute + time.Second
	now := time.Now()
	cases := []struct {
		name  string
		reset string
		// far: the reset is believed to be about maxWait away; else the
		// header must not hold the poller up at all.
		far bool
	}{
		{name: "100 years ahead", reset: strconv.FormatInt(now.AddDate(100, 0, 0).Unix(), 10), far: true},
		{name: "milliseconds for seconds", reset: strconv.FormatInt(now.Add(5*time.Minute).UnixMilli(), 10), far: true},
		{name: "max int64", reset: strconv.FormatInt(math.MaxInt64, 10), far: true},
		{name: "overflows int64", reset: "99999999999999999999999"},
		{name: "in the past", reset: strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)},
		{name: "garbage", reset: "soon™"},
		{name: "negative", reset: "-5"},
	}
	for _, api := range apis {
		for _, tc := range cases {
			t.Run(api.name+"/"+tc.name, func(t *testing.T) {
				s := newServer(t)
				core, logs := observer.New(zap.WarnLevel)
				c := api.client(t, s, func(o *twitter.Options) { o.Logger = zap.New(core) })

				// A 429 refusing the poll.
				f := twittertest.FaultResetHeader(429, tc.reset)
				f.Path = api.timeline
				s.Fail(f)
				_, err := c.Since(context.Background(), "")
				var ra interface{ RetryAt() time.Time }
				if !errors.As(err, &ra) {
					t.Fatalf("err %v, want a rate-limit error", err)
				}
				at := ra.RetryAt()
				if wait := time.Until(at); wait > maxWait || tc.far && wait < 15*time.Minute {
					t.Errorf("RetryAt %s (in %s), want about %s at most", at, wait.Round(time.Second), maxWait)
				}
				if !tc.far && !at.IsZero() && at.After(time.Now()) {
					t.Errorf("RetryAt %s: a reset in the past or unreadable must not delay the retry", at)
				}

				// A 200 with the window used up: Pace.
				f = twittertest.FaultResetHeader(0, tc.reset)
				f.Path = api.timeline
				s.Fail(f)
				if _, err := c.Since(context.Background(), ""); err != nil {
					t.Fatal(err)
				}
				wait := c.Pace(time.Minute)
				switch {
				case wait > maxWait:
					t.Errorf("Pace waits %s, want at most %s", wait, maxWait)
				case tc.far && wait < 15*time.Minute:
					t.Errorf("Pace waits %s, want about a window", wait)
				case !tc.far && wait != time.Minute:
					t.Errorf("Pace waits %s, want the interval", wait)
				}
				if warned := logs.FilterMessageSnippet("x-rate-limit-reset is further ahead").Len(); tc.far != (warned > 0) {
					t.Errorf("%d warnings about the reset header, want them only for a far one", warned)
				}
			})
		}
	}
}

// TestImplausibleIDs: a post id from the future (2^63-1 decodes to 2080)
// is skipped with a warning and never becomes the cursor, on both APIs;
// ids that decode to the past, as pre-2010 ones and the small sequential
// ids of compatible servers do, are kept.
func TestImplausibleIDs(t *testing.T) {
	for _, api := range apis {
		t.Run(api.name, func(t *testing.T) {
			s := newServer(t)
			core, logs := observer.New(zap.WarnLevel)
			c := api.client(t, s, func(o *twitter.Options) { o.Logger = zap.New(core) })
			now := time.Now()
			old := s.AddTweet(twittertest.Tweet{ID: 20, Text: "2006: just setting up my twttr"})
			first := s.AddTweet(twittertest.Tweet{Text: "first"})
			soon := s.AddTweet(twittertest.Tweet{ID: twittertest.SnowflakeID(now.Add(30 * time.Minute)), Text: "a clock a little ahead"})
			s.AddTweet(twittertest.Tweet{ID: twittertest.SnowflakeID(now.Add(2 * time.Hour)), Text: "two hours ahead"})
			s.AddTweet(twittertest.Tweet{ID: math.MaxInt64, Text: "the end of time"})
			last := s.AddTweet(twittertest.Tweet{Text: "last"})
			if last.ID >= soon.ID {
				t.Fatalf("twittertest gave %d after %d: the server's own ids should stay behind", last.ID, soon.ID)
			}

			posts, err := c.Since(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range posts {
				got = append(got, p.ID)
			}
			if want := []string{str(old.ID), str(first.ID), str(last.ID), str(soon.ID)}; !slicesEqual(got, want) {
				t.Errorf("Since returned ids %v, want %v", got, want)
			}
			newest, err := c.Newest(context.Background())
			if err != nil || newest != str(soon.ID) {
				t.Errorf("Newest = %q, %v; want %d", newest, err, soon.ID)
			}
			if n := logs.FilterMessageSnippet("id is from the future").Len(); n < 2 {
				t.Errorf("%d warnings about ids from the future, want one per refused tweet and poll", n)
			}
		})
	}
}

// TestImplausibleNewestOnly: when the newest tweets are all from the
// future, Newest looks further instead of reporting an empty timeline.
func TestImplausibleNewestOnly(t *testing.T) {
	for _, api := range apis {
		t.Run(api.name, func(t *testing.T) {
			s := newServer(t)
			c := api.client(t, s, nil)
			real := s.AddTweet(twittertest.Tweet{Text: "real"})
			for i := range 5 {
				s.AddTweet(twittertest.Tweet{ID: math.MaxInt64 - int64(i), Text: "bogus " + strconv.Itoa(i)})
			}
			newest, err := c.Newest(context.Background())
			if err != nil || newest != str(real.ID) {
				t.Errorf("Newest = %q, %v; want %d", newest, err, real.ID)
			}
		})
	}
}

// TestSequentialIDs: a v1.1-compatible server with small sequential ids
// (GNU social, Friendica) keeps working.
func TestSequentialIDs(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, nil)
	for i := int64(1); i <= 3; i++ {
		s.AddTweet(twittertest.Tweet{ID: i, Text: "notice " + strconv.FormatInt(i, 10)})
	}
	posts, err := c.Since(context.Background(), "1")
	if err != nil || len(posts) != 2 || posts[0].ID != "2" || posts[1].ID != "3" {
		t.Fatalf("Since(1) = %+v, %v", posts, err)
	}
	if n, err := c.Newest(context.Background()); err != nil || n != "3" {
		t.Fatalf("Newest = %q, %v", n, err)
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDroppedConnections: a server that takes each request and drops the
// connection gets one request per poll, polled once a second: nothing in
// twitter/ resends on its own. net/http used to resend a GET whose reused
// keep-alive connection died, two requests per poll (more with more
// idle connections), on top of the mirror's own retry.
func TestDroppedConnections(t *testing.T) {
	for _, api := range apis {
		t.Run(api.name, func(t *testing.T) {
			s := newServer(t)
			s.AddTweet(twittertest.Tweet{Text: "hello"})
			c := api.client(t, s, nil)
			ctx := context.Background()
			// A good poll first, which would leave a keep-alive
			// connection to reuse.
			if _, err := c.Since(ctx, ""); err != nil {
				t.Fatal(err)
			}
			s.Fail(twittertest.Fault{Drop: true, Times: 1000})
			start := len(s.Requests())
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			const polls = 3
			for poll := range polls {
				n := len(s.Requests())
				if _, err := c.Since(ctx, ""); err == nil {
					t.Fatalf("poll %d: no error from a dropped connection", poll)
				}
				if got := len(s.Requests()) - n; got != 1 {
					t.Errorf("poll %d made %d requests, want 1", poll, got)
				}
				if poll < polls-1 {
					<-tick.C
				}
			}
			reqs := s.Requests()[start:]
			for i := range reqs {
				in := 0
				for j := i; j < len(reqs) && reqs[j].At.Sub(reqs[i].At) < time.Second; j++ {
					in++
				}
				if in > 3 {
					t.Errorf("%d requests within a second from %s", in, reqs[i].At.Format(time.StampMilli))
				}
				if reqs[i].Status != 0 {
					t.Errorf("request %d answered %d, want dropped", i, reqs[i].Status)
				}
			}

			// A post whose connection drops is not sent again.
			n := len(s.Requests())
			if _, err := c.Post(ctx, "once"); err == nil {
				t.Fatal("post: no error from a dropped connection")
			}
			if got := len(s.Requests()) - n; got != 1 {
				t.Errorf("post made %d requests, want 1", got)
			}
		})
	}
}

// TestLongErrorDetail: the server's message is quoted in the error, which
// is logged on every failed poll; a 60 KB one is cut.
func TestLongErrorDetail(t *testing.T) {
	long := strings.Repeat("é", 30_000)
	bodies := map[string]string{
		"v1.1": `{"errors":[{"code":999,"message":"` + long + `"}]}`,
		"v2":   `{"title":"Forbidden","detail":"` + long + `","type":"about:blank","status":403}`,
	}
	for _, api := range apis {
		t.Run(api.name, func(t *testing.T) {
			s := newServer(t)
			c := api.client(t, s, nil)
			s.Fail(twittertest.Fault{Status: 403, Body: bodies[api.name], Path: api.timeline})
			_, err := c.Since(context.Background(), "")
			var ae *twitter.APIError
			if !errors.As(err, &ae) || ae.StatusCode != 403 {
				t.Fatalf("err %v", err)
			}
			if n := len(err.Error()); n > 1000 || !strings.Contains(err.Error(), "éé…") {
				t.Errorf("error of %d bytes: %.200s", n, err)
			}
		})
	}
}
