// Package deploytest holds the offline checks of the container build (the Dockerfile parsed
// with BuildKit's parser, `make build` run and its binary checked). It is a module of its own so
// that the library's go.mod requires nothing only these tests use.
package deploytest
