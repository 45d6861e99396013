package bluesky_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/bluesky"
)

func TestPostCreatesRecordWithByteFacets(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	text := "中文 🎉 https://example.com/x and https://example.org/y"
	p, err := e.c.Post(ctx, text)
	if err != nil {
		t.Fatal(err)
	}
	if e.srv.Requests("com.atproto.server.createSession") != 1 || e.srv.Requests("plc") != 1 {
		t.Errorf("sessions %d, plc lookups %d; want 1 each (PDS from the DID document)", e.srv.Requests("com.atproto.server.createSession"), e.srv.Requests("plc"))
	}
	got, err := e.c.Since(ctx, "")
	if err != nil || len(got) != 1 {
		t.Fatalf("Since = %v, %v", got, err)
	}
	if got[0].Cursor != p.Cursor || got[0].Text != text || got[0].ID != p.ID {
		t.Errorf("posted %+v, read back %+v", p, got[0])
	}
	// The second post reuses the session.
	if _, err := e.c.Post(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Requests("com.atproto.server.createSession"); n != 1 {
		t.Errorf("%d createSession calls, want 1", n)
	}
	// An expired access token: one new session, then the post.
	e.srv.ExpireSessions()
	if _, err := e.c.Post(ctx, "after expiry"); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Requests("com.atproto.server.createSession"); n != 2 {
		t.Errorf("%d createSession calls, want 2", n)
	}
}

func TestPostWrongAppPassword(t *testing.T) {
	e := newEnv(t, func(o *bluesky.Options) { o.AppPassword = "wrong-pass-word-here" })
	_, err := e.c.Post(context.Background(), "hi")
	var xe *bluesky.XRPCError
	if !errors.As(err, &xe) || xe.StatusCode != 401 || xe.Name != "AuthenticationRequired" || !xe.Permanent() {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "wrong-pass-word-here") {
		t.Errorf("error shows the app password: %v", err)
	}
	if e.srv.Requests("com.atproto.repo.createRecord") != 0 {
		t.Error("createRecord called without a session")
	}
	if _, err := e.c.Verify(context.Background()); !errors.As(err, &xe) || xe.StatusCode != 401 {
		t.Errorf("Verify with a wrong app password: %v", err)
	}
	e2 := newEnv(t, func(o *bluesky.Options) { o.AppPassword = "" })
	if _, err := e2.c.Post(context.Background(), "hi"); err == nil || !strings.Contains(err.Error(), "app_password_file") {
		t.Errorf("no app password: %v", err)
	}
}

func TestPostToConfiguredPDS(t *testing.T) {
	e := newEnv(t, nil)
	e2 := newEnv(t, func(o *bluesky.Options) { o.PDS = e.srv.URL + "/" })
	if _, err := e2.c.Post(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if e2.srv.Requests("plc") != 0 {
		t.Error("a configured pds still looked up the DID document")
	}
}

func TestPostTooLong(t *testing.T) {
	e := newEnv(t, nil)
	// 300 family emoji are 300 characters but 7,500 bytes.
	for _, text := range []string{strings.Repeat("a", 301), strings.Repeat("👨‍👩‍👧", 300)} {
		if _, err := e.c.Post(context.Background(), text); err == nil || !strings.Contains(err.Error(), "at most 300") {
			t.Errorf("post of %d bytes: %v", len(text), err)
		}
	}
	if e.srv.Requests("com.atproto.server.createSession") != 0 {
		t.Error("a session was made for a post that cannot be created")
	}
	if _, err := e.c.Post(context.Background(), strings.Repeat("同", 300)); err != nil {
		t.Errorf("300 CJK characters (900 bytes) refused: %v", err)
	}
}
