# The two entry points of the README: `make local` runs the whole pipeline on embedded
# defaults, `make test` runs every check CI runs. The Dockerfile builds with `make build`.
GO      ?= go
TOOLS   := $(CURDIR)/.tools
TFLINT  := $(TOOLS)/tflint

.PHONY: build local test vet fmt-check terraform-check tools

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o bin/worker ./cmd/worker

local:
	$(GO) run ./cmd/worker local

$(TFLINT):
	GOBIN=$(TOOLS) $(GO) install github.com/terraform-linters/tflint@v0.64.0

tools: $(TFLINT)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

terraform-check: $(TFLINT)
	terraform fmt -check -recursive terraform
	cd terraform && $(TFLINT) --init >/dev/null 2>&1 || true
	cd terraform && $(TFLINT) --recursive --config "$(CURDIR)/terraform/.tflint.hcl"

test: fmt-check vet terraform-check
	$(GO) test -race -count=1 -timeout 15m ./...
