# r2sync developer and CI targets. CI runs .ci/run, which calls `make test`.

GO ?= go
FUZZTIME ?= 10s

.PHONY: test bench fuzz build demo image container

test:
	$(GO) vet ./... && $(GO) test -race -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Runs every Fuzz target of every package for $(FUZZTIME) each.
fuzz:
	@set -e; \
	for pkg in $$($(GO) list ./...); do \
		list=$$($(GO) test -list '^Fuzz' "$$pkg") || { echo "$$list"; exit 1; }; \
		for target in $$(printf '%s\n' "$$list" | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done

build:
	$(GO) build -o bin/r2sync ./cmd/r2sync

demo:
	$(GO) run ./cmd/r2sync demo

# The container image from deploy/Dockerfile (pulls the Go builder image;
# offline machines pass GO_IMAGE=..., see .ci/container).
GO_IMAGE ?= docker.io/library/golang:1.26-bookworm
image:
	podman build --format docker --build-arg GO_IMAGE=$(GO_IMAGE) -f deploy/Dockerfile -t r2sync .

# The CI stage for the service packaging: systemd-analyze checks, the image
# built offline with podman and run against Prosody and twittertest.
container:
	.ci/container
