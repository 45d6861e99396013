//go:build linux

package ejabberdtest

import "syscall"

const sigterm = syscall.SIGTERM

// sysProcAttr makes the kernel kill the VM if the test binary dies without
// running its cleanups, so no orphan keeps its ports.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
