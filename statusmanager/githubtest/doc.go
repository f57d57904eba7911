// Package githubtest is an in-process, stateful fake of the GitHub REST API parts prreconciler uses (check
// runs, pull requests, GitHub App auth): an httptest server plus ready go-github v60 clients.
package githubtest
