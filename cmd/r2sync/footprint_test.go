package main

import (
	"runtime"
	"testing"
)

// One mirror runs on one P; more mirrors, or a GOMAXPROCS in the
// environment, keep what Go would choose.
func TestFitProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	noEnv := func(string) string { return "" }

	fitProcs(noEnv, 1)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("one mirror: GOMAXPROCS %d, want 1", got)
	}
	fitProcs(noEnv, 3) // a reload to three mirrors
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Errorf("three mirrors: GOMAXPROCS %d, want the default %d", got, def)
	}
	runtime.GOMAXPROCS(def + 1)
	fitProcs(func(k string) string {
		if k == "GOMAXPROCS" {
			return "7"
		}
		return ""
	}, 1)
	if got := runtime.GOMAXPROCS(0); got != def+1 {
		t.Errorf("GOMAXPROCS set by the environment: %d, want it left at %d", got, def+1)
	}
}
