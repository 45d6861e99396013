# r2sync developer and CI targets. CI runs .ci/run, which calls `make test`.

GO ?= go
FUZZTIME ?= 10s

.PHONY: test bench bench-go fuzz build demo image container

test:
	$(GO) vet ./... && $(GO) test -race -count=1 ./...

# The side-by-side benchmark of issue 14 (BENCHMARKS.md): the release-built
# binary and the Python peer (../shared/bench/baseline_py.py, or
# R2SYNC_BENCH_PY) against a real Prosody and twittertest, one after the
# other; about 12 minutes. Prints one table. R2SYNC_BENCH_TWEETS and
# R2SYNC_BENCH_IDLE_SECONDS shorten a trial run.
bench:
	@out=$$(mktemp) && trap 'rm -f "$$out"' EXIT && \
	R2SYNC_BENCH=1 R2SYNC_BENCH_TABLE="$$out" $(GO) test -count=1 -timeout 45m -run '^TestDelayBench$$' ./internal/benchdelay >&2 && \
	cat "$$out"

# Every Go benchmark of every package.
bench-go:
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
