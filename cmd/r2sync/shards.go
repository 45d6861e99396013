package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon/health"
	"github.com/r2sync/r2sync/shard"
)

// shardFlags adds --shard and --shard-count to fs.
func shardFlags(fs *flag.FlagSet) (spec *string, count *int) {
	spec = fs.String("shard", "", "run only shard I of N of the mirrors: I/N, or a StatefulSet pod name NAME-I with --shard-count (default $R2SYNC_SHARD)")
	count = fs.Int("shard-count", 0, "the number of shards N, for a --shard without /N (default $R2SYNC_SHARDS)")
	return spec, count
}

// resolveShard returns the shard the flags or R2SYNC_SHARD and
// R2SYNC_SHARDS name, or nil when neither names one: then the process
// runs every mirror.
func resolveShard(e *env, spec string, count int) (*shard.Shard, error) {
	bad := func(err error) error { return usageError("--shard: %v", err) }
	fromFlag := spec != ""
	if !fromFlag {
		spec = e.getenv("R2SYNC_SHARD")
		bad = func(err error) error { return configError(fmt.Errorf("R2SYNC_SHARD: %w", err)) }
	}
	if spec == "" {
		return nil, nil
	}
	// A flag with its own /N wins over the environment's count.
	if count == 0 && !(fromFlag && strings.Contains(spec, "/")) {
		if v := e.getenv("R2SYNC_SHARDS"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, configError(fmt.Errorf("R2SYNC_SHARDS: must be a whole number ≥ 1 (got %q)", v))
			}
			count = n
		}
	}
	sh, err := shard.Parse(spec, count)
	if err != nil {
		return nil, bad(err)
	}
	return &sh, nil
}

// ownMirrors keeps the wirings of the mirrors sh owns; a nil sh keeps
// all. Every mirror is wired first, so that the app pacing counts the
// mirrors of all shards.
func ownMirrors(ws []*wiring, sh *shard.Shard) []*wiring {
	if sh == nil {
		return ws
	}
	var out []*wiring
	for _, w := range ws {
		if sh.Owns(w.name) {
			out = append(out, w)
		}
	}
	return out
}

// logArrivals says once, for each mirror of the shard without a state
// file, that it is new here: it starts as a first start does, mirroring
// nothing older than its newest post. Called before the run locks, which
// create files beside the state.
func logArrivals(ws []*wiring, sh *shard.Shard) {
	if sh == nil {
		return
	}
	for _, w := range ws {
		if _, err := os.Stat(w.cfg.State.File); errors.Is(err, fs.ErrNotExist) {
			w.log.Info("mirror new on this shard: no state file, so it starts as a first start and mirrors nothing older than its newest post",
				zap.Stringer("shard", sh), zap.String("state_file", w.cfg.State.File))
		}
	}
}

func cmdShards(ctx context.Context, e *env, args []string) error {
	flags := newFlagSet(e, "shards", "[--config FILE] --of N",
		"Print which shard of N runs each mirror of the config (`run --shard I/N`),\none line per mirror: SHARD and NAME, by shard then in file order.")
	cfgPath := configFlag(flags)
	of := flags.Int("of", 0, "the number of shards")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() != 0 {
		return usageError("unexpected argument %q", flags.Arg(0))
	}
	if *of < 1 || *of > shard.MaxCount {
		return usageError("--of: want the number of shards, from 1 to %d (got %d)", shard.MaxCount, *of)
	}
	// Names are all it needs: no secret is read, nothing validated.
	cfg, _, err := peekConfig(e, *cfgPath)
	if err != nil {
		return err
	}
	ms := cfg.Mirrors()
	byShard := make([][]string, *of)
	for _, m := range ms {
		i := shard.Of(m.Name, *of)
		byShard[i] = append(byShard[i], m.Name)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SHARD\tMIRROR")
	for i, names := range byShard {
		for _, name := range names {
			fmt.Fprintf(w, "%d/%d\t%s\n", i, *of, name)
		}
	}
	return w.Flush()
}

// idleShard serves the endpoints of a shard that owns no mirror until ctx
// ends: it is live and ready (a StatefulSet's rollout waits for every
// pod to be ready), its page lists no mirror.
func idleShard(ctx context.Context, c config.HTTP, log *zap.Logger, sh *shard.Shard) error {
	log.Warn("no mirror on this shard; serving the probes until stopped", zap.Stringer("shard", sh))
	reg := health.NewRegistry(health.RegistryOptions{Version: versionString()})
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "ok: no mirror on shard %s\n", sh)
	}
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", ok)
	mux.Handle("/", endpoints(reg))
	srv, err := newHTTPServer(c, mux, log)
	if err != nil {
		return err
	}
	if srv == nil {
		<-ctx.Done()
		return nil
	}
	return srv.Run(ctx)
}
