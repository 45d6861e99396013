//go:build linux

package prosodytest

import "syscall"

// sysProcAttr makes the kernel kill Prosody if the test binary dies without
// running its cleanups (panic, test timeout, SIGKILL), so no orphan keeps
// running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
