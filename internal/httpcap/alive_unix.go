//go:build unix

package httpcap

import (
	"net"
	"syscall"
)

// alive reports whether an idle TCP connection can carry another
// request: nothing to read yet (EAGAIN). A peer's close (0 bytes), an
// error, or any byte the server sent unasked all mean no. It peeks
// without blocking and without consuming.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true // never wait for the socket to become readable
	})
	return err == nil && ok
}
