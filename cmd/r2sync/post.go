package main

import (
	"context"
	"fmt"
	"time"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/renren"
)

func cmdPost(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "post", "[--config FILE] MESSAGE",
		"Post MESSAGE to Twitter, then set it (through sync.template) as the XMPP status.\nA running or later daemon does not mirror this tweet again.")
	cfgPath := configFlag(fs)
	mirror := mirrorFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	message, err := oneArg(fs, "MESSAGE")
	if err != nil {
		return err
	}
	w, err := wireOne(e, *cfgPath, *mirror)
	if err != nil {
		return err
	}
	defer w.close()
	cfg, store := w.cfg, w.store
	poster, ok := w.source.(daemon.Poster)
	if !ok {
		if w.twitter != nil {
			return fmt.Errorf("the %s api client cannot post", w.twitter.API())
		}
		return fmt.Errorf("the %s source cannot post", sourceKindOf(w.kind))
	}
	noun := "post" // what the source calls what `post` creates
	if w.twitter != nil {
		noun = "tweet"
	}
	// Its own resource, so a running daemon's session is not replaced.
	xopts := w.xmpp
	xopts.Resource = cfg.Renren.Resource + "-post"

	// Create the tweet while holding the state lock and claim it in the
	// same update: a daemon that sees the tweet in its timeline must take
	// the lock to queue it, and then finds the claim.
	var created daemon.Post
	_, err = store.Update(ctx, func(s *daemon.State) error {
		p, err := poster.Post(ctx, message)
		if err != nil {
			return fmt.Errorf("post %s: %w", noun, err)
		}
		created = p
		s.Posted = append(s.Posted, daemon.PostRef{Source: sourceKey(w.kind), ID: p.ID, Cursor: p.Cursor})
		return nil
	})
	if err != nil {
		if created.ID != "" {
			return fmt.Errorf("%s %s posted, but the state file was not updated, so a daemon may mirror it again: %w", noun, created.ID, err)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "%s posted: %s\n", noun, created.URL)

	text, err := w.renderer.Render(created, xmppSanitize)
	if err != nil {
		return err
	}
	if err := setStatusOnce(ctx, xopts, text); err != nil {
		// Hand the status to the daemon rather than lose it.
		_, qerr := store.Update(ctx, func(s *daemon.State) error {
			s.Pending = append(s.Pending, daemon.Status{PostID: created.ID, Text: text, QueuedAt: time.Now()})
			return nil
		})
		if qerr != nil {
			return fmt.Errorf("set status: %w (and queueing it for the daemon failed: %v)", err, qerr)
		}
		return fmt.Errorf("set status: %w; it is queued in %s for `r2sync run`", err, cfg.State.File)
	}
	fmt.Fprintf(e.stdout, "status set: %s\n", text)
	return nil
}

// setStatusOnce logs in, sets the status, and logs out.
func setStatusOnce(ctx context.Context, opts renren.Options, text string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := renren.Dial(ctx, opts)
	if err != nil {
		return err
	}
	err = s.SetStatus(ctx, text)
	cerr := s.Close(ctx)
	if err != nil {
		return err
	}
	return cerr
}
