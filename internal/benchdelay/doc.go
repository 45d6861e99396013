// Package benchdelay measures r2sync from the outside (issue 14): the
// real, release-built binary against a real Prosody and twittertest on
// 127.0.0.1, side by side with the Python peer daemon
// (../shared/bench/baseline_py.py) on the same servers in the same run.
//
// Two taps sit on the daemon's wires. HTTPTap is an HTTP proxy in front
// of twittertest that notes when each timeline response's last byte was
// flushed to the socket and which tweets it carried; XMPPTap is a TCP
// proxy in front of Prosody that notes when each client-to-server chunk
// (TLS records: it cannot read them) arrived. A delivered tweet's added
// delay is the time from the first response that carried it to the next
// chunk the daemon wrote to its XMPP server: its presence.
//
// The benchmark itself is TestDelayBench, run by `make bench` with
// R2SYNC_BENCH=1; without it the test is skipped.
package benchdelay
