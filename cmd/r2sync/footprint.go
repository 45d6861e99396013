package main

import (
	"context"
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
