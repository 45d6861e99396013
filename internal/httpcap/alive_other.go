//go:build !unix

package httpcap

import "net"

// alive reports whether an idle connection can carry another request.
// Without a non-blocking peek there is no telling a connection the
// server closed from a live one, so none is reused.
func alive(net.Conn) bool { return false }
