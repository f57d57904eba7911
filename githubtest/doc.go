// Package githubtest is an in-process, stateful fake of the GitHub REST API parts prreconciler uses (check
// runs, pull requests, GitHub App auth): an httptest server plus ready go-github v60 clients.
//
// It fakes GitHub, not any one package of this module: it serves the tests of every package, a
// reconciler's own tests and the local run (cmd/local). No production binary links it.
package githubtest
