package bluesky

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rivo/uniseg"

	"github.com/r2sync/r2sync/daemon"
)

// Limits of app.bsky.feed.post's text.
const (
	maxGraphemes = 300
	maxTextBytes = 3000
)

// session is a createSession answer.
type session struct {
	AccessJwt string `json:"accessJwt"`
	DID       string `json:"did"`
	Handle    string `json:"handle"`
	pds       string
}

// login creates a session on the account's PDS with the app password,
// once per Client: createSession is limited to 30 calls in 5 minutes.
func (c *Client) login(ctx context.Context, me daemon.Account, fresh bool) (*session, error) {
	c.mu.Lock()
	s := c.session
	c.mu.Unlock()
	if s != nil && !fresh {
		return s, nil
	}
	if c.opts.AppPassword == "" {
		return nil, errors.New("no app password: set bluesky.app_password_file")
	}
	pds, err := c.pdsOf(ctx, me.ID)
	if err != nil {
		return nil, fmt.Errorf("find the pds: %w", err)
	}
	var r session
	in := map[string]string{"identifier": me.ID, "password": c.opts.AppPassword}
	if err := c.xrpc(ctx, pds, "com.atproto.server.createSession", nil, in, "", &r); err != nil {
		return nil, err
	}
	if r.AccessJwt == "" {
		return nil, errors.New("com.atproto.server.createSession: answer has no accessJwt")
	}
	if r.DID != me.ID {
		return nil, fmt.Errorf("com.atproto.server.createSession: the app password is for %s, not %s", shorten(r.DID), me.ID)
	}
	r.pds = pds
	c.mu.Lock()
	c.session = &r
	c.mu.Unlock()
	return &r, nil
}

// Post implements daemon.Poster: it creates an app.bsky.feed.post record
// with link facets on the account's PDS. The returned post carries the
// record key, so the mirror recognises it when it comes back.
func (c *Client) Post(ctx context.Context, text string) (daemon.Post, error) {
	if text == "" {
		return daemon.Post{}, errors.New("post to bluesky: empty text")
	}
	// The lexicon's limits: the PDS would refuse the record after the
	// session was made.
	if n := uniseg.GraphemeClusterCount(text); n > maxGraphemes || len(text) > maxTextBytes {
		return daemon.Post{}, fmt.Errorf("post to bluesky: the text has %d characters (%d bytes); a post holds at most %d (%d bytes)", n, len(text), maxGraphemes, maxTextBytes)
	}
	me, err := c.me(ctx)
	if err != nil {
		return daemon.Post{}, fmt.Errorf("post to bluesky: %w", err)
	}
	rec := Record{
		Type:      collectionPost,
		Text:      text,
		CreatedAt: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		Facets:    linkFacets(text),
	}
	var r struct {
		URI string `json:"uri"`
		CID string `json:"cid"`
	}
	for attempt := 0; ; attempt++ {
		s, err := c.login(ctx, me, attempt > 0)
		if err != nil {
			return daemon.Post{}, fmt.Errorf("post to bluesky: %w", err)
		}
		in := map[string]any{"repo": me.ID, "collection": collectionPost, "record": rec}
		err = c.xrpc(ctx, s.pds, "com.atproto.repo.createRecord", nil, in, s.AccessJwt, &r)
		var xe *XRPCError
		if attempt == 0 && errors.As(err, &xe) && (xe.Name == "ExpiredToken" || xe.Name == "InvalidToken") {
			continue // the cached session ran out: log in once more
		}
		if err != nil {
			return daemon.Post{}, fmt.Errorf("post to bluesky: %w", err)
		}
		break
	}
	c.postsCreated.Add(1)
	did, coll, rkey, ok := parseATURI(r.URI)
	if !ok || did != me.ID || coll != collectionPost || !validTID(rkey) {
		return daemon.Post{}, fmt.Errorf("post to bluesky: created record has an unexpected uri %q", shorten(r.URI))
	}
	return recordPost(me, rkey, &rec), nil
}
