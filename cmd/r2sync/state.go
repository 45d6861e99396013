package main

import (
	"context"
	"fmt"

	"github.com/r2sync/r2sync/daemon/statefile"
)

func cmdState(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || (args[0] != "reset" && args[0] != "-h" && args[0] != "--help") {
		return usageError("expected `r2sync state reset [--config FILE]`")
	}
	fs := newFlagSet(e, "state reset", "[--config FILE]",
		"Remove the state file. The next start records the newest tweet and mirrors\nnothing older; statuses still pending are dropped.")
	cfgPath := configFlag(fs)
	mirror := mirrorFlag(fs)
	if args[0] == "reset" {
		args = args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, path, err := loadConfig(e, *cfgPath)
	if err != nil {
		return err
	}
	m, err := pickMirror(cfg, path, *mirror)
	if err != nil {
		return err
	}
	store := statefile.New(m.StateFile)
	if err := store.Reset(ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "state file %s removed; the next start mirrors only tweets newer than the newest one then\n", m.StateFile)
	return nil
}
