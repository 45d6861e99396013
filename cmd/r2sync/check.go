package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/renren"
	"github.com/r2sync/r2sync/twitter"
)

func cmdCheck(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "check", "[--config FILE]",
		"Validate the config, verify the Twitter credentials and log in to XMPP.\nExits 0 only if all is well.")
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ws, err := wireMirrors(e, *cfgPath)
	if err != nil {
		return err
	}
	defer closeAll(ws)
	fmt.Fprintln(e.stdout, "config: ok")

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var failed []string
	for _, w := range ws {
		prefix := ""
		if len(ws) > 1 {
			prefix = "mirror " + w.name + ": "
		}
		if !checkMirror(ctx, e, w, prefix) {
			failed = append(failed, w.name)
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(ws) == 1:
		return errors.New("check failed")
	default:
		return fmt.Errorf("check failed for mirror(s) %s", strings.Join(failed, ", "))
	}
}

// checkMirror verifies w's Twitter credentials and XMPP login, printing a
// line for each with prefix; it reports whether both passed.
func checkMirror(ctx context.Context, e *env, w *wiring, prefix string) bool {
	cfg, log := w.cfg, w.log
	ok := checkSource(ctx, e, w, prefix)

	xopts := w.xmpp
	xopts.Resource = cfg.Renren.Resource + "-check"
	if err := checkXMPP(ctx, xopts); err != nil {
		ok = false
		hint := ""
		if errors.Is(err, renren.ErrAuth) {
			hint = " (check renren.password and renren.jid)"
		}
		fmt.Fprintf(e.stdout, "%srenren: FAILED: %v%s\n", prefix, err, hint)
	} else {
		fmt.Fprintf(e.stdout, "%srenren: ok, logged in as %s over verified TLS\n", prefix, cfg.Renren.JID)
	}
	if ok {
		log.Debug("check passed", zap.String("jid", cfg.Renren.JID))
	}
	return ok
}

// checkSource verifies w's source credentials (or that its account
// exists), printing one line with prefix; it reports whether it passed.
func checkSource(ctx context.Context, e *env, w *wiring, prefix string) bool {
	if tw := w.twitter; tw != nil {
		where := fmt.Sprintf("api %s at %s", tw.API(), tw.APIBase())
		acct, err := verify(ctx, tw)
		if err != nil {
			fmt.Fprintf(e.stdout, "%stwitter: FAILED (%s): %v%s\n", prefix, where, err, twitterHint(tw.API(), err))
			return false
		}
		fmt.Fprintf(e.stdout, "%stwitter: ok, authenticated as @%s (id %s) with %s\n", prefix, acct.Handle, acct.ID, where)
		return true
	}
	kind := sourceKindOf(w.kind)
	acct, err := verify(ctx, w.source)
	if err != nil {
		fmt.Fprintf(e.stdout, "%s%s: FAILED: %v\n", prefix, kind, err)
		return false
	}
	fmt.Fprintf(e.stdout, "%s%s: ok, account @%s (id %s)\n", prefix, kind, acct.Handle, acct.ID)
	return true
}

// verify checks src's credentials, when it can (daemon.Verifier).
func verify(ctx context.Context, src daemon.Source) (daemon.Account, error) {
	v, ok := src.(daemon.Verifier)
	if !ok {
		return daemon.Account{}, errors.New("this source cannot check its credentials")
	}
	return v.Verify(ctx)
}

// twitterHint says which config key fixes a Twitter failure, when one does.
func twitterHint(api string, err error) string {
	var ae *twitter.APIError
	if !errors.As(err, &ae) {
		return ""
	}
	switch {
	case ae.Code == 453 || (api == twitter.APIv11 && ae.TierNotAllowed()):
		return `; fix: set twitter.api = "v2" (or remove twitter.api and twitter.api_base), since X's free and basic tiers serve only v2`
	case ae.TierNotAllowed():
		return "; fix: in the X developer portal, attach the app to a project (free, basic or pay-per-use access), then run r2sync login for a new access token"
	case ae.StatusCode == 401:
		return "; check twitter.consumer_key, twitter.consumer_secret, twitter.access_token and twitter.access_secret (r2sync login gets a new access token)"
	case ae.StatusCode == 404:
		return fmt.Sprintf("; check twitter.api_base and twitter.api (a %s API was asked)", api)
	}
	return ""
}

func checkXMPP(ctx context.Context, opts renren.Options) error {
	s, err := renren.Dial(ctx, opts)
	if err != nil {
		return err
	}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close(ctx)
		return fmt.Errorf("ping: %w", err)
	}
	return s.Close(ctx)
}
