# The two entry points of the README: `make local` runs the whole pipeline on embedded
# defaults, `make test` runs every check CI runs. The Dockerfile builds with `make build`.
GO      ?= go
TOOLS   := $(CURDIR)/.tools
TFLINT  := $(TOOLS)/tflint
# staticcheck v0.8.2: the release line built with Go 1.26 (its go.mod says go 1.26.0; v0.7 is Go 1.25),
# which this module needs (go 1.26.8).
STATICCHECK := $(TOOLS)/staticcheck

# MODULES are this repository's Go modules: the library and binary at the root, and modules of
# their own for the tests that need dependencies the library must not require (the Terraform
# module's tests, the container build's), and examples/prsize, a reconciler in a module of its own
# that requires this one (with a replace to this checkout) and is built, vetted and tested as an
# outside user's would be.
MODULES := . terraform deploytest examples/prsize

.PHONY: build local test vet staticcheck fmt-check terraform-check tools

# MAIN is the command built into bin/worker: ./cmd/worker (diff hygiene) unless given, e.g.
# `make build MAIN=./cmd/mine` for a command of this module; the Dockerfile passes its MAIN build
# argument. A reconciler in a module of its own builds with its own Dockerfile (examples/prsize).
# VERSION, COMMIT and BUILD_DATE name the build (`worker version`, the start-up log, the GitHub
# User-Agent): from git here, from the Dockerfile's build arguments in an image (the context has
# no .git). Empty ones fall back to the Go toolchain's build information.
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
BUILDINFO  := github.com/prreconciler/prreconciler/internal/buildinfo
LDFLAGS    := -s -w -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(BUILD_DATE)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="$(LDFLAGS)" -o bin/worker $(or $(MAIN),./cmd/worker)

local:
	$(GO) run ./cmd/local

$(TFLINT):
	GOBIN=$(TOOLS) $(GO) install github.com/terraform-linters/tflint@v0.64.0

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

tools: $(TFLINT) $(STATICCHECK)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	@set -e; for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet ./...); done

staticcheck: $(STATICCHECK)
	@set -e; for m in $(MODULES); do echo "staticcheck ($$m)"; (cd $$m && $(STATICCHECK) ./...); done

terraform-check: $(TFLINT)
	terraform fmt -check -recursive terraform
	cd terraform && $(TFLINT) --init >/dev/null 2>&1 || true
	cd terraform && $(TFLINT) --recursive --config "$(CURDIR)/terraform/.tflint.hcl"

test: fmt-check vet staticcheck terraform-check
	@set -e; for m in $(MODULES); do echo "go test ($$m)"; (cd $$m && $(GO) test -race -count=1 -timeout 15m ./...); done
