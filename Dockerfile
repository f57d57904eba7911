# syntax=docker/dockerfile:1

# Build: the same `make build` CI and developers run (static, CGO_ENABLED=0, -trimpath).
# The tag matches go.mod's `go 1.26.8`; pin it by digest in your registry mirror
# (golang:1.26.8-bookworm@sha256:...) for reproducible builds. The Debian variant has make.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV GOTOOLCHAIN=local
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The command of this module to build, default ./cmd/worker (diff hygiene); another with
# --build-arg MAIN=./cmd/mine. `make build` reads it from the environment. A reconciler in a
# module of its own builds with its own Dockerfile (examples/prsize/Dockerfile).
ARG MAIN
# What `worker version` reports (the context has no .git): pass
# --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD).
# `make build` reads them from the environment; BUILD_DATE defaults to now.
ARG VERSION
ARG COMMIT
ARG BUILD_DATE
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build make build

# Run: no shell, no package manager, a non-root user; only the static binary.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/worker /worker
USER nonroot:nonroot
# Cloud Run sets PORT (8080 by default); the worker listens on it.
EXPOSE 8080
ENTRYPOINT ["/worker"]
