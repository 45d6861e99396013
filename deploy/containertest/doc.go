// Package containertest runs the r2sync container image the way a user
// does (read-only root, non-root user, config and secrets mounted, state
// in /data) against a real Prosody and the Twitter test API on the host
// network. It holds only a test, behind the build tag containertest so
// that `go test ./...` does not need podman; .ci/container runs it:
//
//	R2SYNC_IMAGE=localhost/r2sync:ci go test -tags containertest ./deploy/containertest
package containertest
