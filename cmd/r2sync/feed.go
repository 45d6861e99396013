package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/r2sync/r2sync/renren"
)

// feedPoll is how often `r2sync feed --follow` looks for new events:
// news-feed notifications are for a person reading along, not for a
// machine.
const feedPoll = 250 * time.Millisecond

func cmdFeed(ctx context.Context, e *env, args []string) error {
	flags := newFlagSet(e, "feed", "[--config FILE] [--follow]",
		"Print the Renren news feed the daemon keeps in renren.feed_log, one line\nper event: when it arrived, its attributes, then its text under the\nelements that hold it. Lines a crash cut short are reported and skipped.")
	cfgPath := configFlag(flags)
	follow := flags.Bool("follow", false, "keep printing events as they arrive, until interrupted")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() != 0 {
		return usageError("unexpected argument %q", flags.Arg(0))
	}
	cfg, path, err := peekConfig(e, *cfgPath)
	if err != nil {
		return err
	}
	name := cfg.Renren.FeedLog
	if name == "" {
		return configError(fmt.Errorf("%s: renren.feed_log is not set: the daemon keeps no news feed (set it to a file such as \"/var/lib/r2sync/feed.jsonl\")", path))
	}
	return printFeed(ctx, e, name, *follow, feedPoll)
}

// printFeed prints the events of the feed log at name, and with follow
// goes on as it grows (or is replaced, as a log rotation does) until ctx
// ends.
func printFeed(ctx context.Context, e *env, name string, follow bool, poll time.Duration) error {
	var f *os.File
	var fr *renren.FeedReader
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if f == nil {
			var err error
			f, err = os.Open(name)
			switch {
			case errors.Is(err, fs.ErrNotExist) && !follow:
				fmt.Fprintf(e.stderr, "r2sync feed: %s does not exist yet: no news-feed event has arrived\n", name)
				return nil
			case errors.Is(err, fs.ErrNotExist):
				f = nil
			case err != nil:
				return fmt.Errorf("renren.feed_log: %w", err)
			default:
				fr = renren.NewFeedReader(f)
			}
		}
		for fr != nil {
			ev, err := fr.Next()
			var le *renren.FeedLineError
			switch {
			case errors.As(err, &le):
				fmt.Fprintf(e.stderr, "r2sync feed: %s: %v\n", name, le)
				continue
			case errors.Is(err, io.EOF):
			case err != nil:
				return fmt.Errorf("renren.feed_log: %w", err)
			default:
				if _, err := fmt.Fprintln(e.stdout, ev.Line()); err != nil {
					return err // stdout closed, as by `| head`
				}
				continue
			}
			break
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if f != nil && replaced(f, name) {
			f.Close()
			f, fr = nil, nil
		}
	}
}

// replaced reports whether name no longer is the file f has open.
func replaced(f *os.File, name string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(name)
	return err1 != nil || err2 != nil || !os.SameFile(a, b)
}
