// Package loadtest holds prreconciler's load, reliability and hostile-input tests and benchmarks.
// It has no code of its own: scripts/benchmarks runs its tests to write BENCHMARKS.md.
package loadtest
