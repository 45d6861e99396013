package main

import (
	"context"
	"runtime"
	"runtime/debug"

	"go.uber.org/zap"
)

// gcPercent is r2sync's GOGC when the environment sets none. The live
// heap of one idle mirror is about 1 MiB; at Go's default of 100 the heap
// may grow to its 4 MiB floor before a collection, and the scavenger
// keeps about that much resident. At 50 the floor is 2 MiB, for a
// collection every dozen idle polls at 1 s (issue 14: idle RSS).
const gcPercent = 50

// tuneRuntime applies r2sync's runtime defaults that the environment
// does not override (GOGC).
func tuneRuntime(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// fitProcs sizes GOMAXPROCS to the mirrors a generation runs, unless the
// environment sets it. One mirror is one sequential poll loop and an XMPP
// reader: it never keeps two CPUs busy, and a second P only adds thread
// wakeups to each poll, where each wakeup costs tens of microseconds on a
// small VM (BENCHMARKS.md: at 2 Ps 27 wakeups and 1.6 ms CPU per idle
// poll, at 1 P 19 and 1.3 ms). Two or more mirrors get Go's default back
// (the CPUs the process may use), also after a reload.
func fitProcs(getenv func(string) string, mirrors int) {
	if getenv("GOMAXPROCS") != "" {
		return
	}
	if mirrors == 1 {
		runtime.GOMAXPROCS(1)
		return
	}
	runtime.SetDefaultGOMAXPROCS()
}

// trimWhenReady drops the executable's startup pages once the session is
// up and the first poll is done (see dropStartupPages), unless ctx ends
// first.
func trimWhenReady(ctx context.Context, session, polled <-chan struct{}, log *zap.Logger) {
	for session != nil || polled != nil {
		select {
		case <-ctx.Done():
			return
		case <-session:
			session = nil
		case <-polled:
			polled = nil
		}
	}
	d, err := dropStartupPages()
	if err != nil {
		log.Debug("startup pages kept", zap.Error(err))
		return
	}
	if d.faultAround != nil {
		log.Debug("startup pages dropped; they come back 64 KiB around each fault", zap.Int64("mapped_bytes", d.bytes), zap.NamedError("fault_around", d.faultAround))
		return
	}
	log.Debug("startup pages dropped; they come back one page per fault", zap.Int64("mapped_bytes", d.bytes))
}

// dropped is what dropStartupPages did.
type dropped struct {
	bytes int64 // of the mappings advised
	// faultAround is why the kernel's fault-around stays on for them
	// (pageByPage), nil when it is off.
	faultAround error
}
