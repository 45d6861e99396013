//go:build !linux

package ejabberdtest

import (
	"os"
	"syscall"
)

var sigterm = os.Interrupt

func sysProcAttr() *syscall.SysProcAttr { return nil }
