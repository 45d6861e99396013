package main

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// Fault-around: on a read fault in a file mapping the kernel maps not
// just the page asked for but every page of the file's page cache in the
// 64 KiB around it (fault_around_bytes). For the executable that is most
// of what an idle mirror keeps resident: after dropStartupPages, the idle
// loop's code and tables come back 64 KiB at a time, about 8 MiB, while
// the pages it really reads (smaps Referenced after clear_refs) are about
// 3.5 MiB. The kernel skips fault-around in a mapping registered with a
// userfaultfd for write protection (uffd_disable_fault_around), and with
// UFFD_FEATURE_WP_ASYNC (Linux 6.7) such a registration needs no handler:
// nothing here is ever write-protected, and a write fault, which a
// read-only mapping cannot take anyway, would be resolved by the kernel
// itself. So registering the executable's read-only mappings costs one
// file descriptor, held until exit, and turns each later fault into a
// fault of one page.
//
// deploy/r2sync.service allows the system call (@system-service has it).
// Where it is filtered (the default seccomp profiles of Docker, Podman
// and Kubernetes' RuntimeDefault refuse it) or the kernel is older than
// 6.7, this fails and the mirror keeps the 64 KiB fault-around; nothing
// else changes.

// From linux/userfaultfd.h.
const (
	uffdUserModeOnly   = 1
	uffdAPI            = 0xAA
	uffdFeatureWPAsync = 1 << 15
	uffdRegisterModeWP = 1 << 1
	uffdioAPI          = 0xc018aa3f // _IOWR(0xAA, 0x3F, struct uffdio_api)
	uffdioRegister     = 0xc020aa00 // _IOWR(0xAA, 0x00, struct uffdio_register)
)

type uffdioAPIArg struct {
	API, Features, Ioctls uint64
}

type uffdioRegisterArg struct {
	Start, Len, Mode, Ioctls uint64
}

// errNoUserfaultfd says this architecture's system call number is not
// known here.
var errNoUserfaultfd = errors.New("userfaultfd: not on this architecture")

// pageByPage turns fault-around off for the given ranges of read-only
// file mappings, as described above. The userfaultfd it opens stays open
// for the life of the process: closing it would end the registration.
func pageByPage(ranges [][2]uintptr) error {
	nr := faultAroundSyscall()
	if nr == 0 {
		return errNoUserfaultfd
	}
	// User-mode-only is what an unprivileged process may open when
	// vm.unprivileged_userfaultfd is 0; it is all that is needed.
	fd, _, errno := syscall.Syscall(nr, syscall.O_CLOEXEC|syscall.O_NONBLOCK|uffdUserModeOnly, 0, 0)
	if errno != 0 {
		return fmt.Errorf("userfaultfd: %w", errno)
	}
	api := uffdioAPIArg{API: uffdAPI, Features: uffdFeatureWPAsync}
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, uffdioAPI, uintptr(unsafe.Pointer(&api))); errno != 0 {
		_ = syscall.Close(int(fd))
		return fmt.Errorf("userfaultfd: asynchronous write protection: %w", errno)
	}
	for _, r := range ranges {
		reg := uffdioRegisterArg{Start: uint64(r[0]), Len: uint64(r[1] - r[0]), Mode: uffdRegisterModeWP}
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, uffdioRegister, uintptr(unsafe.Pointer(&reg))); errno != 0 {
			_ = syscall.Close(int(fd)) // unregisters what was registered
			return fmt.Errorf("userfaultfd: register %#x-%#x: %w", r[0], r[1], errno)
		}
	}
	return nil
}

// faultAroundSyscall returns userfaultfd's system call number, or 0 where
// it is not known here.
func faultAroundSyscall() uintptr {
	switch runtime.GOARCH {
	case "amd64":
		return 323
	case "arm64", "riscv64":
		return 282
	}
	return 0
}
