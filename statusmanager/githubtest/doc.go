// Package githubtest is an in-process, stateful fake of the GitHub REST API parts prreconciler uses
// (check runs, pull requests and GitHub App authentication), served by an httptest server with ready go-github v60 clients.
//
// The fake follows the behaviour described in the project's reference spec of the Checks API: it validates
// requests as GitHub does (422 bodies with GitHub's wording), enforces App ownership of check runs, verifies App
// JWTs and installation tokens, sends rate-limit headers with a per-installation primary limit, answers
// conditional GETs with per-token ETags, and lets tests inject failures, secondary rate limits and latency.
// It does not need a *testing.T, so it can also back a local demo run.
//
// Choices where GitHub's behaviour is undocumented are listed on the functions and handlers concerned; the
// main ones:
//   - A PATCH with an empty "name" is rejected with 422 (go-github v60 always sends "name"; an empty one is a
//     client bug, not a rename).
//   - A PATCH that tries to change the status or conclusion of a completed run is accepted and the change
//     silently ignored (other fields are applied and annotations appended), unless WithStrictCompleted is given.
//   - Commits are not modelled: any 40-hex head_sha is accepted; anything else gets 422 "No commit found for SHA".
//   - Check run ids start above 2^32 so that code truncating them to 32 bits fails loudly.
//   - List endpoints return check runs newest first (highest id first); GitHub does not document an order.
//   - Repositories are private: requests without credentials get 404 for reads and 401 for writes.
//   - An App JWT on a repository endpoint gets 403 "Resource not accessible by integration".
//
// Not modelled: webhooks (a rerequest answers 201 but emits nothing), check suite endpoints, commits and
// branches (a branch ref resolves only through pull request head refs), installation permissions other than
// checks:write, pull_requests:read and contents:read, the 1000-runs-per-name cap, the
// start_column/end_column same-line rule of annotations, and secondary rate limits other than injected ones.
package githubtest
