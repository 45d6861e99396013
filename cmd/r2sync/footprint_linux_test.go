package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExeReadOnlyMapping(t *testing.T) {
	const ino = 1234567
	tests := []struct {
		name   string
		line   string
		ok     bool
		lo, hi uintptr
	}{
		{name: "text", line: "00400000-00996000 r-xp 00000000 fd:01 1234567    /usr/bin/r2sync", ok: true, lo: 0x400000, hi: 0x996000},
		{name: "rodata", line: "00996000-00fba000 r--p 00596000 fd:01 1234567    /usr/bin/r2sync", ok: true, lo: 0x996000, hi: 0xfba000},
		// The data segment holds the program's variables: never dropped.
		{name: "data", line: "00fba000-0109f000 rw-p 00bba000 fd:01 1234567    /usr/bin/r2sync"},
		{name: "another file", line: "7f0000000000-7f0000001000 r--p 00000000 fd:01 7654321    /etc/ld.so.cache"},
		{name: "anonymous", line: "c000000000-c000400000 rw-p 00000000 00:00 0"},
		{name: "shared", line: "00400000-00996000 r-xs 00000000 fd:01 1234567    /usr/bin/r2sync"},
		{name: "deleted after an upgrade", line: "00400000-00996000 r-xp 00000000 fd:01 1234567    /usr/bin/r2sync (deleted)", ok: true, lo: 0x400000, hi: 0x996000},
		{name: "garbage", line: "zz-yy r-xp 0 0 1234567 x"},
		{name: "empty range", line: "00400000-00400000 r-xp 00000000 fd:01 1234567    /usr/bin/r2sync"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi, ok := exeReadOnlyMapping(tt.line, ino)
			if ok != tt.ok || lo != tt.lo || hi != tt.hi {
				t.Errorf("= %#x, %#x, %v; want %#x, %#x, %v", lo, hi, ok, tt.lo, tt.hi, tt.ok)
			}
		})
	}
}

// Only the exe's read-only mappings without a written page are dropped:
// in a PIE build the RELRO pages hold the loader's relocations.
func TestCleanExeMappings(t *testing.T) {
	const smaps = `00400000-00996000 r-xp 00000000 fd:01 1234567    /usr/bin/r2sync
Size:               5720 kB
Rss:                5600 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
00996000-00fba000 r--p 00596000 fd:01 1234567    /usr/bin/r2sync
Size:               6288 kB
Anonymous:             0 kB
00fba000-00fc0000 r--p 00bba000 fd:01 1234567    /usr/bin/r2sync
Size:                 24 kB
Anonymous:            24 kB
00fc0000-0109f000 rw-p 00bc0000 fd:01 1234567    /usr/bin/r2sync
Anonymous:            80 kB
7f0000000000-7f0000001000 r--p 00000000 fd:01 7654321    /usr/lib/libc.so.6
Anonymous:             0 kB
0109f000-010a0000 r--p 00c9f000 fd:01 1234567    /usr/bin/r2sync
Size:                  4 kB
`
	got, err := cleanExeMappings([]byte(smaps), 1234567)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]uintptr{{0x400000, 0x996000}, {0x996000, 0xfba000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ranges %#x, want %#x (the RELRO pages, the data segment, another file and a mapping without Anonymous are kept)", got, want)
	}
}

// rssFile is this process's file-backed resident memory in KiB.
func rssFile(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// The test binary, like the daemon, has most of itself mapped after
// starting; dropping the startup pages gives most of it back while the
// program goes on running.
func TestDropStartupPagesShrinksRSS(t *testing.T) {
	before := rssFile(t)
	d, err := dropStartupPages()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	n := d.bytes
	if n <= 0 {
		t.Fatalf("advised %d bytes", n)
	}
	if after >= before || before-after < before/4 {
		t.Errorf("file-backed RSS %d → %d KiB: not a quarter less", before, after)
	}
	t.Logf("file-backed RSS %d → %d KiB (%d MiB of mappings advised)", before, after, n>>20)
}

// A PIE build (the default of several distributions' Go packaging) has
// RELRO pages the loader wrote; dropping them made the daemon crash with
// SIGSEGV right after its first poll. The demo is the real daemon and
// drops its startup pages once ready.
func TestPIEBuildRunsAfterDroppingStartupPages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds r2sync twice over")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "r2sync-pie")
	build := exec.Command("go", "build", "-buildmode=pie", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=pie: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "demo").CombinedOutput()
	if err != nil {
		t.Fatalf("demo of the PIE build: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "3 statuses, each exactly once") {
		t.Errorf("demo output:\n%s", out)
	}
}
