package bluesky_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/r2sync/r2sync/bluesky"
	"github.com/r2sync/r2sync/daemon"
)

// hostile serves XRPC answers of a broken or malicious AppView.
func hostile(t *testing.T, h http.HandlerFunc) *bluesky.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := bluesky.New(bluesky.Options{DID: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", Handle: "a.test", AppView: srv.URL, Timeout: 500 * time.Millisecond,
		Jetstream: "ws" + strings.TrimPrefix(srv.URL, "http") + "/subscribe", PingPeriod: 100 * time.Millisecond, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHostileAppView(t *testing.T) {
	tests := []struct {
		name string
		h    http.HandlerFunc
		want string
	}{
		{"endless body", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"feed":[`))
			for range 5 << 20 / 16 {
				if _, err := w.Write([]byte(`{"post":{}},    `)); err != nil {
					return
				}
			}
		}, "larger than"},
		{"stalls", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, "Timeout"},
		{"html 502", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
			w.Write([]byte("<html>bad gateway</html>"))
		}, "status 502"},
		{"garbage", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{{{")) }, "decode"},
		{"cursor loop, bad items", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"cursor":"same","feed":[{"post":{"record":{"text":5}}},7,{"post":{"uri":"at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3l3qo2vutsw2b","author":{"did":"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"},"record":{"text":"x","facets":[{"index":{"byteStart":-4,"byteEnd":1e3}}]}}}]}`))
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := hostile(t, tt.h)
			start := time.Now()
			posts, err := c.Since(context.Background(), "22222222222a2")
			if tt.want == "" {
				if err != nil || len(posts) != 1 || posts[0].Text != "x" {
					t.Fatalf("Since = %v, %v", posts, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestHostileJetstream: a message over the read limit ends the
// connection (and a reconnect follows); garbage and other DIDs are
// skipped.
func TestHostileJetstream(t *testing.T) {
	conns := make(chan int, 10)
	n := 0
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		n++
		conns <- n
		ctx := conn.CloseRead(r.Context())
		conn.Write(ctx, websocket.MessageText, []byte("not json"))
		conn.Write(ctx, websocket.MessageText, []byte(`{"did":"did:plc:bbbbbbbbbbbbbbbbbbbbbbbb","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"3l3qo2vutsw2b","record":{"text":"not mine"}}}`))
		conn.Write(ctx, websocket.MessageText, []byte(`{"did":"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa","time_us":2,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"self","record":{"text":"no tid"}}}`))
		conn.Write(ctx, websocket.MessageText, []byte(`{"did":"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa","time_us":3,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"3l3qo2vutsw2c","record":{"text":"mine"}}}`))
		conn.Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", 2<<20)))
		<-ctx.Done()
	})
	s := c.Source().(*bluesky.Streaming)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 10)
	done := make(chan error)
	go func() {
		done <- s.Stream(ctx, func(_ context.Context, posts []daemon.Post) error {
			for _, p := range posts {
				got <- p.Text
			}
			return nil
		})
	}()
	for want := 1; want <= 2; want++ {
		select {
		case n := <-conns:
			if n != want {
				t.Fatalf("connection %d", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no connection %d: the oversized message did not end the first", want)
		}
		if p := <-got; p != "mine" {
			t.Fatalf("pushed %q", p)
		}
	}
	cancel()
	<-done
}
