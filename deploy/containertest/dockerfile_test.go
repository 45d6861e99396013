package containertest

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileCopiesEveryPackage: the image's build stage copies the
// source directories one by one (a change to the tests or docs must not
// rebuild the image), so a new top-level package the binary imports must
// be listed there too, or the image no longer builds. This runs in `make
// test`, long before .ci/container would find out.
func TestDockerfileCopiesEveryPackage(t *testing.T) {
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	copied := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^COPY (\S+) \./(\S+)$`).FindAllStringSubmatch(string(df), -1) {
		copied[m[1]] = true
	}
	out, err := exec.Command("go", "list", "-deps", "../../cmd/r2sync").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/r2sync/r2sync/"
	for _, pkg := range strings.Fields(string(out)) {
		rest, ok := strings.CutPrefix(pkg, module)
		if !ok {
			continue
		}
		in := false
		for dir := range copied {
			if rest == dir || strings.HasPrefix(rest, dir+"/") {
				in = true
			}
		}
		if !in {
			t.Errorf("deploy/Dockerfile does not COPY %s, which r2sync imports (%s)", rest, pkg)
		}
	}
}
