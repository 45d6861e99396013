package mastodon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
)

// page reads one page of the user's statuses for q and returns the
// user's own ones after the cursor after, oldest first, each checked and
// with its time parsed. n is the page's length as served.
func (s *Source) page(ctx context.Context, id string, q url.Values, after string) (sts []*status, n int, err error) {
	var raw []*status
	if err := s.get(ctx, "/api/v1/accounts/"+url.PathEscape(id)+"/statuses", q, &raw); err != nil {
		return nil, 0, fmt.Errorf("fetch statuses: %w", err)
	}
	s.usage.postsRead.Add(int64(len(raw)))
	for _, st := range raw {
		if st == nil {
			continue
		}
		if ok, err := s.check(st, id); !ok {
			if err != nil {
				return nil, 0, fmt.Errorf("fetch statuses: %w", err)
			}
			continue
		}
		if after != "" && compareIDs(st.ID, after) <= 0 {
			continue
		}
		s.events.remember(st.ID) // so that a delete on the stream is known as ours
		sts = append(sts, st)
	}
	// The server lists pages newest first; the mirror wants oldest
	// first, and an order checked here cannot be got wrong there.
	slices.SortFunc(sts, func(a, b *status) int { return compareIDs(a.ID, b.ID) })
	sts = slices.CompactFunc(sts, func(a, b *status) bool { return a.ID == b.ID })
	return sts, len(raw), nil
}

// check decides whether st is one of the user's own statuses that the
// mirror may see. A status of another account is dropped (false, nil):
// on the user stream such statuses are the home timeline, and none may
// ever become the user's status. A status with a broken id fails, since
// no cursor could pass it.
func (s *Source) check(st *status, own string) (bool, error) {
	if err := checkID(st.ID); err != nil {
		return false, fmt.Errorf("status id: %w", err)
	}
	if st.Account.ID != own {
		s.events.foreign.Add(1)
		return false, nil
	}
	if st.Reblog != nil && st.Reblog.Reblog != nil {
		// Mastodon never nests boosts; a server that does is not
		// trusted with the text.
		st.Reblog.Reblog = nil
	}
	t, err := time.Parse(time.RFC3339Nano, st.CreatedAt)
	if err != nil {
		s.log.Warn("status time unreadable", zap.String("id", st.ID), zap.String("created_at", shorten(st.CreatedAt)))
	}
	st.createdAt = t
	return true, nil
}

// Since implements daemon.Source with min_id paging: each page holds the
// statuses right after min_id, so no status between the cursor and the
// newest is ever skipped (since_id would return the newest page and
// leave a gap after a long outage). The result is oldest first and at
// most maxPages pages; the next poll goes on from its last cursor.
func (s *Source) Since(ctx context.Context, cursor string) ([]daemon.Post, error) {
	if cursor != "" {
		if err := checkID(cursor); err != nil {
			return nil, err
		}
	}
	me, err := s.me(ctx)
	if err != nil {
		return nil, err
	}
	var posts []daemon.Post
	after := cursor
	for range maxPages {
		q := url.Values{"limit": {strconv.Itoa(pageSize)}}
		if after == "" {
			// min_id=0: the very first statuses; no min_id would be
			// the newest page.
			q.Set("min_id", "0")
		} else {
			q.Set("min_id", after)
		}
		sts, n, err := s.page(ctx, me.ID, q, after)
		if err != nil {
			return nil, err
		}
		for _, st := range sts {
			posts = append(posts, s.toPost(st))
		}
		if len(sts) == 0 || n < pageSize {
			break
		}
		after = sts[len(sts)-1].ID
	}
	return posts, nil
}

// Newest implements daemon.Source: the cursor after the user's newest
// status, "" when there is none.
func (s *Source) Newest(ctx context.Context) (string, error) {
	posts, err := s.Recent(ctx, 1)
	if err != nil || len(posts) == 0 {
		return "", err
	}
	return posts[0].Cursor, nil
}

// Recent returns the user's newest n statuses (at most one page of 40),
// oldest first.
func (s *Source) Recent(ctx context.Context, n int) ([]daemon.Post, error) {
	if n <= 0 {
		return nil, nil
	}
	me, err := s.me(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{"limit": {strconv.Itoa(min(n, pageSize))}}
	sts, _, err := s.page(ctx, me.ID, q, "")
	if err != nil {
		return nil, err
	}
	if len(sts) > n {
		sts = sts[len(sts)-n:]
	}
	posts := make([]daemon.Post, 0, len(sts))
	for _, st := range sts {
		posts = append(posts, s.toPost(st))
	}
	return posts, nil
}

// Post implements daemon.Poster: POST /api/v1/statuses, public, with an
// Idempotency-Key. When the answer is lost it resends once with the same
// key, which makes the server return the status it made, not a second.
func (s *Source) Post(ctx context.Context, text string) (daemon.Post, error) {
	me, err := s.me(ctx)
	if err != nil {
		return daemon.Post{}, err
	}
	key, err := idempotencyKey()
	if err != nil {
		return daemon.Post{}, err
	}
	form := url.Values{"status": {text}, "visibility": {"public"}}
	hdr := http.Header{"Idempotency-Key": {key}}
	var st status
	for attempt := 0; ; attempt++ {
		err = s.post(ctx, "/api/v1/statuses", form, hdr, &st)
		var apiErr *APIError
		if err == nil || attempt == 1 || ctx.Err() != nil || errors.As(err, &apiErr) {
			break
		}
		// The answer was lost (a reset, a timeout): the same key makes
		// the server answer a resend with the status it already made
		// instead of a second one.
		s.log.Warn("post status: no answer; resending with the same idempotency key", zap.Error(err))
	}
	if err != nil {
		return daemon.Post{}, fmt.Errorf("post status: %w", err)
	}
	ok, err := s.check(&st, me.ID)
	if err != nil {
		return daemon.Post{}, fmt.Errorf("post status: %w", err)
	}
	if !ok {
		return daemon.Post{}, errors.New("post status: the server answered with another account's status")
	}
	s.usage.postsCreated.Add(1)
	return s.toPost(&st), nil
}

// idempotencyKey is a random key for one post.
func idempotencyKey() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("idempotency key: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
