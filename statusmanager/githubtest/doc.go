// Package githubtest is an in-process, stateful fake of the GitHub REST API parts prreconciler uses (check
// runs, pull requests, GitHub App auth): an httptest server plus ready go-github v60 clients.
//
// It is the fake of every package's tests (githubapp, statusmanager, worker, hygiene), of a reconciler's
// own tests (examples/prsize) and of the local run (cmd/local), and never of a production binary (cmd/worker
// links no test code). Its import path is under statusmanager for a historical reason, the first package it
// served: a top-level home (prreconciler/githubtest) would fit its use better, and is planned as a move of
// its own, with every importer changed at once and a forwarding note here; it is not moved piecemeal so that
// no two paths of one fake ever coexist.
package githubtest
