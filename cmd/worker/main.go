// Command worker is prreconciler's deployable worker: the diff hygiene reconciler (package
// hygiene) served by worker.Main. It runs the intake stage (relay events and requests in,
// reconcile requests out to RECONCILE_TOPIC, ordered by commit) and the reconcile stage, by
// push on PORT (POST /intake, POST /reconcile) or by pull (INTAKE_SUBSCRIPTION,
// PUBSUB_SUBSCRIPTION), configured by the environment README "Configuration" documents.
//
// The local run (`make local`) is the separate command ./cmd/local, so that this binary
// links neither the GitHub fake nor an in-process Pub/Sub. Subcommands of this binary go in
// the App's Commands.
package main

import (
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/worker"
)

func main() { worker.Main(hygiene.App()) }
