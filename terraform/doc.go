// Package terraform holds the offline tests of the Terraform module in this directory (HCL
// parsed and evaluated, blocks checked against the Google provider's schema). It is a Go module
// of its own so that the library's go.mod requires nothing only these tests use.
package terraform
