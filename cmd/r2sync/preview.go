package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/r2sync/r2sync/daemon"
)

// maxPreviewCount bounds --count: X serves at most the newest 3,200 posts.
const maxPreviewCount = 3200

func cmdPreview(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "preview", "[--config FILE] [--mirror NAME] [--count N]",
		"Fetch the newest posts and print, oldest first, each post's id and time\nand either the exact status it would become (quoted) or why it would be\nskipped, with the config's filters, template and max_length. Nothing is\nsent and the state file is not touched.")
	cfgPath := configFlag(fs)
	mirror := mirrorFlag(fs)
	count := fs.Int("count", 20, fmt.Sprintf("how many of the newest posts to show (1 to %d)", maxPreviewCount))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	if *count < 1 || *count > maxPreviewCount {
		return usageError("--count: must be between 1 and %d (got %d)", maxPreviewCount, *count)
	}
	w, err := wireOne(e, *cfgPath, *mirror)
	if err != nil {
		return err
	}
	defer w.close()
	// The XMPP sink's cleaning, without a session: the strings are the
	// ones `run` would queue.
	m := w.newMirrorOn(&memStore{}, dryRunSink{log: w.log}, nil)
	plan, err := m.Preview(ctx, *count)
	if errors.Is(err, daemon.ErrNoRecent) {
		return fmt.Errorf("preview: the %s source cannot list its newest posts yet", sourceKindOf(w.kind))
	}
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	writePreview(e.stdout, plan)
	return nil
}

// writePreview prints one line per planned post: id, time (UTC), then
// the status quoted as Go quotes it (so that a line break or a trailing
// space shows) or "skip: " and the reason with what triggered it.
func writePreview(w io.Writer, plan []daemon.Planned) {
	mirrored := 0
	for _, p := range plan {
		at := "-"
		if !p.Post.CreatedAt.IsZero() {
			at = p.Post.CreatedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s  %s  ", p.Post.ID, at)
		switch {
		case p.Reason == "":
			mirrored++
			fmt.Fprintln(w, strconv.Quote(p.Status))
		case p.Err != nil:
			fmt.Fprintf(w, "skip: %s (%v)\n", p.Reason, p.Err)
		case p.Key == "pattern":
			fmt.Fprintf(w, "skip: %s %s=%s\n", p.Reason, p.Key, strconv.Quote(p.Value))
		case p.Key != "":
			fmt.Fprintf(w, "skip: %s %s=%s\n", p.Reason, p.Key, p.Value)
		default:
			fmt.Fprintf(w, "skip: %s\n", p.Reason)
		}
	}
	fmt.Fprintf(w, "%d of %d posts would become statuses\n", mirrored, len(plan))
}
