// Command r2sync mirrors your tweets to your Renren (XMPP) status.
package main

import "os"

func main() {
	cmd := ""
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	tuneRuntime(os.Getenv)
	sigs := notifySignals(cmd, os.Stderr)
	code := run(sigs.ctx, os.Args[1:], os.Stdout, os.Stderr, sigs.reload)
	sigs.stop()
	os.Exit(code)
}
