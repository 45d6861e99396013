package main

import (
	byteorder "encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"
)

// mapFile maps the first size bytes of f read-only and private, as the
// loader maps an executable.
func mapFile(t *testing.T, f *os.File, size int) []byte {
	t.Helper()
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Munmap(b) })
	return b
}

// mappedPages counts the pages of b that are in this process's page
// table (/proc/self/pagemap bit 63), whatever the cache holds.
func mappedPages(t *testing.T, b []byte) int {
	t.Helper()
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	page := os.Getpagesize()
	first := uintptr(unsafe.Pointer(&b[0])) / uintptr(page)
	entries := make([]byte, 8*(len(b)/page))
	if _, err := pm.ReadAt(entries, int64(first)*8); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; i < len(entries); i += 8 {
		if byteorder.LittleEndian.Uint64(entries[i:])>>63 == 1 {
			n++
		}
	}
	return n
}

// With fault-around on, reading one byte of a cached file maps the
// pages around it; after pageByPage, one read maps one page.
func TestPageByPageTurnsFaultAroundOff(t *testing.T) {
	const size = 1 << 20
	path := filepath.Join(t.TempDir(), "exe")
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(make([]byte, size), 0); err != nil { // into the page cache
		t.Fatal(err)
	}
	page := os.Getpagesize()

	control := mapFile(t, f, size)
	if touch(control, 8*page) != 0 {
		t.Fatal("the file reads other than 0")
	}
	if n := mappedPages(t, control); n <= 1 {
		t.Skipf("one read mapped %d page without r2sync doing anything: this kernel does no fault-around", n)
	}

	b := mapFile(t, f, size)
	err = pageByPage([][2]uintptr{{uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[0])) + size}})
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL) {
		// The daemon carries on with fault-around in this case; the
		// test cannot show anything more here.
		t.Skipf("no userfaultfd write protection here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	sum := touch(b, 8*page) + touch(b, 100*page)
	if n := mappedPages(t, b); n != 2 {
		t.Errorf("two reads mapped %d pages after pageByPage, want 2 (the control mapped %d for one)", n, mappedPages(t, control))
	}
	if sum != 0 {
		t.Errorf("the mapping reads %d, want the file's 0", sum)
	}
}

// touch reads b[i], so that the read is not optimized away.
//
//go:noinline
func touch(b []byte, i int) byte { return b[i] }
