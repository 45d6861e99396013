// Command floorprobe is the floor under r2sync's CPU per idle poll: a Go
// program that does nothing but one HTTP GET of URL per second with
// net/http, on a new connection each time ("new") or on a kept-alive one
// ("keepalive"), and reads the answer; or that only wakes once a second
// and does nothing ("tick"), the cost of a Go process's wakeup itself.
// The benchmark measures it like a daemon.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "new" && os.Args[1] != "keepalive" && os.Args[1] != "tick") {
		fmt.Fprintln(os.Stderr, "usage: floorprobe new|keepalive|tick URL")
		os.Exit(2)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: os.Args[1] == "new"}}
	fmt.Fprintln(os.Stderr, "floorprobe ready")
	for range time.Tick(time.Second) {
		if os.Args[1] == "tick" {
			continue
		}
		resp, err := client.Get(os.Args[2])
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
