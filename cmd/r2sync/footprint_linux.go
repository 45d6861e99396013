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
// around each fault and reads ahead more, so right after startup almost
// the whole file is resident: 11 of the 18 MiB of an idle mirror
// (smaps). MADV_PAGEOUT reclaims those pages; MADV_RANDOM then turns off
// read-ahead for the mapping, so that what the daemon still runs comes
// back a page at a time: 3.5 MiB of the file at idle. The cost is a few
// hundred page reads from the page cache or disk at the first poll and
// the first status after this, and on any rarely used path later. Only
// private read-only mappings of the executable itself are touched: its
// data segment (rw) holds the program's variables. It returns the bytes
// of the mappings advised.
func dropStartupPages() (int64, error) {
	exe, err := os.Stat("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("drop startup pages: %w", err)
	}
	st, ok := exe.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("drop startup pages: no inode for the executable")
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("drop startup pages: %w", err)
	}
	var total int64
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		lo, hi, ok := exeReadOnlyMapping(sc.Text(), st.Ino)
		if !ok {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, madvPageout); errno != 0 {
			return total, fmt.Errorf("drop startup pages: madvise: %w", errno)
		}
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, syscall.MADV_RANDOM)
		total += int64(hi - lo)
	}
	return total, sc.Err()
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

// madvPageout is MADV_PAGEOUT (Linux 5.4), missing from package syscall.
const madvPageout = 21
