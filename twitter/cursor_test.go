package twitter_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/twitter/twittertest"
)

// Cursors are tweet ids and compare as numbers, never as strings: a
// 19-digit snowflake is after an 18-digit one, and the small sequential
// ids of v1.1-compatible servers order as they count.
func TestCompareCursors(t *testing.T) {
	s := newServer(t)
	for _, api := range apis {
		c := api.client(t, s, nil)
		for _, tt := range []struct {
			a, b string
			want int
		}{
			{"", "", 0},
			{"", "1", -1},
			{"1", "", 1},
			{"9", "10", -1}, // as strings "9" > "10"
			{"999", "1000", -1},
			{"999999999999999999", "1000000000000000000", -1}, // 18 digits before 19
			{"1858000000000000350", "1858000000000000350", 0},
			{"1858000000000000351", "1858000000000000350", 1},
			{"9223372036854775807", "1858000000000000350", 1},
			{"0", "", 0},
		} {
			got, err := c.CompareCursors(tt.a, tt.b)
			if err != nil || sign(got) != tt.want {
				t.Errorf("%s: CompareCursors(%q, %q) = %d, %v; want %d", api.name, tt.a, tt.b, got, err, tt.want)
			}
		}
		for _, bad := range []string{"abc", "-1", "+5", "007", "1e3", " 5", "9223372036854775808", "1858000000000000350x"} {
			if _, err := c.CompareCursors(bad, "1"); err == nil {
				t.Errorf("%s: CompareCursors(%q, …) accepted a cursor that no tweet id writes", api.name, bad)
			}
			if _, err := c.CompareCursors("1", bad); err == nil {
				t.Errorf("%s: CompareCursors(…, %q) accepted it", api.name, bad)
			}
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// A cursor that is no tweet id fails Since before any request: the
// mirror sees an error, not an empty timeline.
func TestSinceRefusesForeignCursor(t *testing.T) {
	for _, api := range apis {
		t.Run(api.name, func(t *testing.T) {
			s := newServer(t)
			c := api.client(t, s, nil)
			if _, err := c.Since(context.Background(), "AZ9x"); err == nil {
				t.Fatal("Since accepted a cursor that is no tweet id")
			}
			if n := len(s.Requests()); n != 0 {
				t.Errorf("%d requests for a cursor that is no tweet id", n)
			}
		})
	}
}

// Each post's cursor is its own id: the place just past it.
func TestPostCursorIsItsID(t *testing.T) {
	for _, api := range apis {
		t.Run(api.name, func(t *testing.T) {
			s := newServer(t)
			c := api.client(t, s, nil)
			s.AddTweet(twittertest.Tweet{Text: "one"})
			s.AddTweet(twittertest.Tweet{Text: "two"})
			posts, err := c.Since(context.Background(), "")
			if err != nil || len(posts) != 2 {
				t.Fatalf("Since = %+v, %v", posts, err)
			}
			for _, p := range posts {
				if p.Cursor != p.ID {
					t.Errorf("post %s has cursor %q", p.ID, p.Cursor)
				}
			}
			newest, err := c.Newest(context.Background())
			if err != nil || newest != posts[1].Cursor {
				t.Errorf("Newest = %q, %v; want the cursor of the newest post %q", newest, err, posts[1].Cursor)
			}
			again, err := c.Since(context.Background(), newest)
			if err != nil || len(again) != 0 {
				t.Errorf("Since(newest) = %+v, %v; want nothing", again, err)
			}
		})
	}
}

// memStore is a daemon.Store in memory.
type memStore struct {
	mu sync.Mutex
	st daemon.State
}

func (m *memStore) Load(context.Context) (daemon.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st, nil
}

func (m *memStore) Update(_ context.Context, fn func(*daemon.State) error) (daemon.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.st
	st.Cursors = make(map[string]string)
	for k, v := range m.st.Cursors {
		st.Cursors[k] = v
	}
	st.Pending = slices.Clone(m.st.Pending)
	st.Posted = slices.Clone(m.st.Posted)
	if err := fn(&st); err != nil {
		return daemon.State{}, err
	}
	m.st = st
	return st, nil
}

// recSink records statuses.
type recSink struct {
	mu  sync.Mutex
	got []string
}

func (r *recSink) SetStatus(_ context.Context, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, text)
	return nil
}

// The mirror moves the cursor across a change in the number of digits
// with the source's order: from 9 to 10 on a server counting from 1 (as
// GNU social does), and from 999999999999999999 to 1000000000000000000
// on snowflakes. Ordered as strings, "10" would be behind "9", every
// post after it skipped as old, and the cursor-ahead warning raised.
func TestMirrorAcrossDigitCounts(t *testing.T) {
	for _, tt := range []struct {
		name  string
		first int64
	}{
		{"small sequential ids", 8},
		{"snowflakes", 999999999999999998},
	} {
		for _, api := range apis {
			t.Run(tt.name+"/"+api.name, func(t *testing.T) {
				ctx := context.Background()
				s := newServer(t)
				c := api.client(t, s, nil)
				s.AddTweet(twittertest.Tweet{ID: tt.first, Text: "before the first start"})
				r, err := daemon.NewRenderer("{{.Text}}", 0)
				if err != nil {
					t.Fatal(err)
				}
				sink := &recSink{}
				store := &memStore{}
				m := daemon.NewMirror(daemon.Config{Source: c, SourceName: "twitter", Sink: sink, Store: store, Renderer: r, PollInterval: time.Hour})
				if _, err := m.PollOnce(ctx); err != nil {
					t.Fatal(err)
				}
				var want []string
				for i := int64(1); i <= 3; i++ {
					text := "post " + str(tt.first+i)
					s.AddTweet(twittertest.Tweet{ID: tt.first + i, Text: text})
					want = append(want, text)
					if n, err := m.PollOnce(ctx); err != nil || n != 1 {
						t.Fatalf("poll after %d: queued %d, %v", tt.first+i, n, err)
					}
				}
				if _, err := m.DeliverOnce(ctx); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(sink.got, want) {
					t.Errorf("statuses %q, want %q", sink.got, want)
				}
				if st, _ := store.Load(ctx); st.Cursors["twitter"] != str(tt.first+3) {
					t.Errorf("cursor %q, want %d", st.Cursors["twitter"], tt.first+3)
				}
			})
		}
	}
}
