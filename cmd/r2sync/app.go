package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// Exit statuses, after sysexits.h where one fits.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
	// exitDataErr (EX_DATAERR) is for a corrupt state file: restarting
	// cannot help until the user inspects or resets it.
	exitDataErr    = 65
	exitCantCreate = 73 // EX_CANTCREAT: the state cannot be written
	// exitTempFail (EX_TEMPFAIL) is for a state file another `r2sync run`
	// holds: not a fault of this config or this disk, and a later start,
	// once the other one has ended, succeeds.
	exitTempFail = 75
	exitConfig   = 78 // EX_CONFIG
)

// command is one subcommand of r2sync.
type command struct {
	name    string
	args    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what every command writes to and reads from.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	// reload receives a value per SIGHUP for `run`; nil means never.
	reload <-chan struct{}
}

// exitError carries an exit status and a message already fit to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func configError(err error) error { return &exitError{code: exitConfig, err: err} }

// stateError gives a state file that is corrupt (or holds a cursor its
// source cannot read), locked by another daemon or cannot be written its
// exit status; other errors pass unchanged.
func stateError(err error) error {
	var corrupt *statefile.CorruptError
	var cursor *daemon.CursorError
	var inUse *statefile.InUseError
	var unwritable *statefile.UnwritableError
	switch {
	case errors.As(err, &corrupt), errors.As(err, &cursor):
		return &exitError{code: exitDataErr, err: err}
	case errors.As(err, &inUse):
		return &exitError{code: exitTempFail, err: err}
	case errors.As(err, &unwritable):
		return &exitError{code: exitCantCreate, err: err}
	}
	return err
}
func usageError(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

func commands() []command {
	return []command{
		{name: "run", args: "[--config FILE] [--shard I/N]", summary: "mirror new tweets to the XMPP status until stopped", run: cmdRun},
		{name: "post", args: "[--config FILE] MESSAGE", summary: "post MESSAGE to Twitter and set it as the status once", run: cmdPost},
		{name: "check", args: "[--config FILE]", summary: "validate the config, the Twitter credentials and the XMPP login", run: cmdCheck},
		{name: "login", args: "[--config FILE]", summary: "get a Twitter access token with a PIN (OAuth 1.0a out-of-band)", run: cmdLogin},
		{name: "demo", args: "", summary: "show the mirror at work against built-in test servers; no accounts needed", run: cmdDemo},
		{name: "preview", args: "[--config FILE] [--count N]", summary: "show what the newest posts would become; sends nothing", run: cmdPreview},
		{name: "status", args: "[--config FILE]", summary: "describe the state file: last mirrored tweet, pending statuses", run: cmdStatus},
		{name: "healthcheck", args: "[--config FILE] [--url URL]", summary: "exit 0 when the running daemon is ready (/readyz), else 1", run: cmdHealthcheck},
		{name: "feed", args: "[--config FILE] [--follow]", summary: "print the Renren news feed kept in renren.feed_log", run: cmdFeed},
		{name: "shards", args: "[--config FILE] --of N", summary: "print which shard of N runs each mirror (run --shard I/N)", run: cmdShards},
		{name: "state", args: "reset [--config FILE]", summary: "forget the state file (the next start mirrors nothing older)", run: cmdState},
		{name: "version", args: "", summary: "print the version", run: cmdVersion},
	}
}

// run is the whole program; main only adds signals and the exit.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, reload <-chan struct{}) int {
	e := &env{stdout: stdout, stderr: stderr, getenv: os.Getenv, now: time.Now, reload: reload}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		if err == nil {
			return exitOK
		}
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "r2sync %s: %v\n", c.name, err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return exitFail
	}
	fmt.Fprintf(stderr, "r2sync: unknown command %q (see r2sync --help)\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "r2sync mirrors your tweets to your Renren (XMPP) status.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  r2sync %-11s %-27s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The config file is --config, else $R2SYNC_CONFIG, else %s.\n", config.DefaultPath)
	fmt.Fprintln(w, "Run r2sync COMMAND --help for a command's flags.")
}

// newFlagSet returns a FlagSet for a command that prints its help to stdout.
func newFlagSet(e *env, name, args, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: r2sync %s %s\n\n%s\n", name, args, summary)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(e.stderr)
	}
	return fs
}

// parseFlags parses args, turning a flag error into a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: exitUsage, err: err}
	}
	return nil
}

// configFlag adds --config to fs.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "config file (default $R2SYNC_CONFIG, then "+config.DefaultPath+")")
}

// loadConfig reads and validates the config file named by --config,
// $R2SYNC_CONFIG or the default path, and returns it with its path.
func loadConfig(e *env, path string) (config.Config, string, error) {
	path = configPath(e, path)
	cfg, err := config.Load(path)
	if err != nil {
		return config.Config{}, path, configError(err)
	}
	return cfg, path, nil
}

// newRenderer builds the status renderer from the [sync] section, so
// that a template error is a config error too. Commands that render
// build it once, in wire.
func newRenderer(path string, c config.Sync) (*daemon.Renderer, error) {
	r, err := daemon.NewRenderer(c.Template, c.MaxLength)
	if err != nil {
		return nil, configError(fmt.Errorf("%s: sync.template: %w", path, err))
	}
	return r, nil
}

// configPath is the config file: flag, else $R2SYNC_CONFIG, else the
// default path.
func configPath(e *env, flag string) string {
	if flag != "" {
		return flag
	}
	if p := e.getenv("R2SYNC_CONFIG"); p != "" {
		return p
	}
	return config.DefaultPath
}

// oneArg returns the single positional argument, or a usage error.
func oneArg(fs *flag.FlagSet, what string) (string, error) {
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		return "", usageError("expected one %s argument (got %d)", what, fs.NArg())
	}
	return fs.Arg(0), nil
}
