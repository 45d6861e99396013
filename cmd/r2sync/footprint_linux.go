package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// dropStartupPages gives back the executable's read-only pages (code,
// constants, pclntab) that starting needed and idling does not. Starting
// touches code and tables all over a 13 MB binary (config parsing, TLS,
// the XMPP login, package inits), and the kernel maps up to 64 KiB
// around each fault, so right after startup almost the whole file is
// resident: 11 of the 18 MiB of an idle mirror (smaps). MADV_DONTNEED
// unmaps them; they stay in the page cache, and what the daemon still
// runs comes back as minor faults, again 64 KiB around each: about 8 MiB
// of the file at idle. (MADV_PAGEOUT gets that to 3.5 MiB, but it evicts
// the binary from the page cache too, and the next start, a restart
// after a crash, then reads it from disk: on a busy machine slower than
// TestKill9LosesNothing allows.) Only private read-only mappings of the
// executable itself are touched, and only those without a page of their
// own: its data segment (rw) holds the program's variables, and in a PIE
// build the loader has written relocations into read-only-again pages
// (RELRO), which MADV_DONTNEED would turn back into the file's
// unrelocated bytes. Before dropping, it turns the kernel's fault-around
// off for those mappings where it can (pageByPage), so that what comes
// back is the pages the daemon reads and not the 64 KiB around each.
func dropStartupPages() (dropped, error) {
	exe, err := os.Stat("/proc/self/exe")
	if err != nil {
		return dropped{}, fmt.Errorf("drop startup pages: %w", err)
	}
	st, ok := exe.Sys().(*syscall.Stat_t)
	if !ok {
		return dropped{}, fmt.Errorf("drop startup pages: no inode for the executable")
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return dropped{}, fmt.Errorf("drop startup pages: %w", err)
	}
	ranges, err := cleanExeMappings(smaps, st.Ino)
	if err != nil {
		return dropped{}, fmt.Errorf("drop startup pages: %w", err)
	}
	d := dropped{faultAround: pageByPage(ranges)}
	for _, r := range ranges {
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, r[0], r[1]-r[0], syscall.MADV_DONTNEED); errno != 0 {
			return d, fmt.Errorf("drop startup pages: madvise: %w", errno)
		}
		d.bytes += int64(r[1] - r[0])
	}
	return d, nil
}

// cleanExeMappings returns the ranges of the private read-only mappings of
// the file with inode ino, in /proc/self/smaps text, that hold no
// anonymous (written, copied-on-write) page: dropping those loses nothing
// but what the file holds.
func cleanExeMappings(smaps []byte, ino uint64) ([][2]uintptr, error) {
	var out [][2]uintptr
	var cur *[2]uintptr // the exe mapping whose fields are being read
	clean := false
	flush := func() {
		if cur != nil && clean {
			out = append(out, *cur)
		}
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.ContainsAny(k, " -") {
			// A field of the mapping above ("Anonymous:   0 kB").
			if cur != nil && k == "Anonymous" {
				n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				clean = err == nil && n == 0
			}
			continue
		}
		flush()
		if lo, hi, ok := exeReadOnlyMapping(line, ino); ok {
			cur, clean = &[2]uintptr{lo, hi}, false // no Anonymous field: not known clean
		}
	}
	flush()
	return out, sc.Err()
}

// exeReadOnlyMapping parses one line of /proc/self/maps and reports the
// range of a private read-only mapping of the file with inode ino.
func exeReadOnlyMapping(line string, ino uint64) (lo, hi uintptr, ok bool) {
	f := strings.Fields(line)
	if len(f) < 6 || (f[1] != "r-xp" && f[1] != "r--p") {
		return 0, 0, false
	}
	if n, err := strconv.ParseUint(f[4], 10, 64); err != nil || n != ino || n == 0 {
		return 0, 0, false
	}
	a, b, found := strings.Cut(f[0], "-")
	if !found {
		return 0, 0, false
	}
	l, err1 := strconv.ParseUint(a, 16, 64)
	h, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil || h <= l {
		return 0, 0, false
	}
	return uintptr(l), uintptr(h), true
}
