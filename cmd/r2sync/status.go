package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// statusPendingShown caps the pending statuses listed one by one.
const statusPendingShown = 10

func cmdStatus(ctx context.Context, e *env, args []string) error {
	flags := newFlagSet(e, "status", "[--config FILE]",
		"Describe the state file in words: what was mirrored last and when, and\nwhich statuses wait for delivery. With [http] listen set, also ask the\nrunning daemon whether it is ready.")
	cfgPath := configFlag(flags)
	mirror := mirrorFlag(flags)
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
	cfg.HTTP.Token = peekToken(e, path, cfg.HTTP)
	name, kind := mirrorName, cfg.Mirrors()[0].SourceKind()
	if ms := cfg.Mirrors(); len(ms) > 1 || ms[0].Name != mirrorName || *mirror != "" {
		if *mirror == "" {
			return writeMirrorRows(ctx, e, cfg)
		}
		m, err := pickMirror(cfg, path, *mirror)
		if err != nil {
			return err
		}
		cfg.State.File, name, kind = m.StateFile, m.Name, m.SourceKind()
	}
	if cfg.State.File == "" {
		return configError(errors.New("state.file is empty"))
	}
	exists := true
	if _, err := os.Stat(cfg.State.File); errors.Is(err, fs.ErrNotExist) {
		exists = false
	} else if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	st, err := statefile.New(cfg.State.File).Load(ctx)
	if err != nil {
		return stateError(err)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	writeState(w, cfg.State.File, exists, st, e.now(), kind)
	if cfg.HTTP.Listen != "" {
		url := endpointURL(cfg.HTTP.Listen, "/readyz")
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		code, body, err := httpGet(hctx, url)
		cancel()
		switch {
		case err != nil:
			fmt.Fprintf(w, "daemon:\tnot reachable at %s (is it running?)\n", url)
		case code == 200:
			fmt.Fprintf(w, "daemon:\tready\n")
		default:
			fmt.Fprintf(w, "daemon:\tnot ready: %s\n", body)
		}
		if err == nil {
			mctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			if code, body, err := httpGetAll(mctx, endpointURL(cfg.HTTP.Listen, "/metrics"), cfg.HTTP.Token.Value()); err == nil && code == 200 {
				fmt.Fprintf(w, "skipped:\t%s since the daemon started\n", describeSkips(skipCounts(body)[name]))
			}
			cancel()
		}
	}
	return w.Flush()
}

// writeState describes st for a person.
// kind is the mirror's source, which names its posts ("tweet", "post").
func writeState(w io.Writer, path string, exists bool, st daemon.State, now time.Time, kind string) {
	tweet := "post"
	if kind == config.SourceTwitter {
		tweet = "tweet"
	}
	fmt.Fprintf(w, "state file:\t%s\n", path)
	if !exists {
		fmt.Fprintf(w, "started:\tnot yet: the first start records your newest %s and mirrors nothing older\n", tweet)
		return
	}
	if !st.Initialized {
		fmt.Fprintf(w, "started:\tnot yet: the newest %s is not recorded\n", tweet)
	}
	switch st.Mirrored {
	case 0:
		fmt.Fprintf(w, "mirrored:\tnothing yet\n")
	case 1:
		fmt.Fprintf(w, "mirrored:\t1 status\n")
	default:
		fmt.Fprintf(w, "mirrored:\t%d statuses\n", st.Mirrored)
	}
	if lm := st.LastMirrored; lm != nil {
		fmt.Fprintf(w, "last mirrored:\t%s %s at %s (%s)\n", tweet, lm.PostID, when(lm.At), health.Ago(now.Sub(lm.At)))
	}
	if cursor, ok := st.Cursor(sourceKey(kind)); ok {
		if cursor == "" {
			cursor = "0" // none yet; the Twitter source's cursor is a tweet id
			if kind != config.SourceTwitter {
				cursor = "(none yet)"
			}
		}
		fmt.Fprintf(w, "newest seen:\t%s %s (only newer %ss are mirrored)\n", tweet, cursor, tweet)
	}
	switch n := len(st.Pending); n {
	case 0:
		fmt.Fprintf(w, "pending:\tnone\n")
	default:
		fmt.Fprintf(w, "pending:\t%d waiting for the XMPP server, oldest first:\n", n)
		for i, p := range st.Pending {
			if i == statusPendingShown {
				fmt.Fprintf(w, "\t… and %d more\n", n-i)
				break
			}
			fmt.Fprintf(w, "\t%s %s, queued %s: %s\n", tweet, p.PostID, health.Ago(now.Sub(p.QueuedAt)), quoteShort(p.Text, 60))
		}
	}
	if n := len(st.Posted); n > 0 {
		fmt.Fprintf(w, "from r2sync post:\t%d %s(s) the daemon will not mirror again\n", n, tweet)
	}
}

func when(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") }

// quoteShort quotes s, cut to n runes, on one line.
func quoteShort(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
