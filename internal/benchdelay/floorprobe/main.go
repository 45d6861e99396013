// Command floorprobe is the floor under r2sync's CPU per idle poll: a Go
// program that does nothing but one HTTP GET of URL per second, on a
// new connection each time as r2sync's transport does ("new") or on a
// kept-alive one ("keepalive"), and reads the answer. The benchmark measures it like a daemon.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "new" && os.Args[1] != "keepalive") {
		fmt.Fprintln(os.Stderr, "usage: floorprobe new|keepalive URL")
		os.Exit(2)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: os.Args[1] == "new"}}
	fmt.Fprintln(os.Stderr, "floorprobe ready")
	for range time.Tick(time.Second) {
		resp, err := client.Get(os.Args[2])
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
