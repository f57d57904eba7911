// Package relaytest builds the Pub/Sub messages a webhook relay publishes for GitHub events,
// for tests: the events of one push to a pull request on the GitHub fake (githubtest).
package relaytest

import (
	"encoding/json"
	"fmt"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
)

// Push is a push to pull request number of owner/repo on gh.
type Push struct {
	Owner, Repo string
	Number      int
	// Head is the commit pushed, Base the base branch's commit.
	Head, Base string
	// ChangedFiles is the pull request's number of changed files at Head.
	ChangedFiles int
}

// Events are the two relay messages GitHub's deliveries for p become, in the order GitHub
// sends them: pull_request synchronize (with base.sha and changed_files), then check_suite
// requested listing the pull request. Their delivery ids are "sync-<n>" and "suite-<n>",
// their message ids those with "m-" before.
func Events(gh *githubtest.Server, p Push) []*events.Message {
	repoJSON := map[string]any{"id": 1, "name": p.Repo, "full_name": p.Owner + "/" + p.Repo,
		"html_url": gh.WebURL() + "/" + p.Owner + "/" + p.Repo, "owner": map[string]any{"login": p.Owner}}
	install := map[string]any{"id": gh.InstallationID(gh.App(), p.Owner)}
	prURL := fmt.Sprintf("%s/%s/%s/pull/%d", gh.WebURL(), p.Owner, p.Repo, p.Number)
	msg := func(event, action, delivery string, body map[string]any) *events.Message {
		body["action"], body["repository"], body["installation"] = action, repoJSON, install
		data, err := json.Marshal(map[string]any{"when": "2026-12-01T00:00:00Z",
			"headers": map[string]any{"event": event, "delivery_id": delivery}, "body": body})
		if err != nil {
			panic(err) // maps of strings and numbers always encode
		}
		attrs := map[string]string{"ce-id": delivery, "ce-type": events.DefaultTypePrefix + "." + event,
			"ce-subject": p.Owner + "/" + p.Repo, "ce-action": action}
		if event == "pull_request" {
			attrs["ce-pullrequesturl"] = prURL
		}
		return &events.Message{ID: "m-" + delivery, Data: data, Attributes: attrs}
	}
	return []*events.Message{
		msg("pull_request", "synchronize", fmt.Sprintf("sync-%d", p.Number), map[string]any{"number": p.Number, "after": p.Head,
			"pull_request": map[string]any{"number": p.Number, "html_url": prURL, "state": "open", "changed_files": p.ChangedFiles,
				"head": map[string]any{"sha": p.Head}, "base": map[string]any{"sha": p.Base, "ref": "main"}}}),
		msg("check_suite", "requested", fmt.Sprintf("suite-%d", p.Number), map[string]any{
			"check_suite": map[string]any{"head_sha": p.Head, "head_branch": fmt.Sprintf("pr-%d", p.Number), "app": map[string]any{"id": gh.App().ID},
				"pull_requests": []any{map[string]any{"number": p.Number, "head": map[string]any{"sha": p.Head},
					"base": map[string]any{"sha": p.Base, "repo": map[string]any{"id": 1}}}}}}),
	}
}

// CleanFiles are n changed files in which diff hygiene finds nothing.
func CleanFiles(n int) []githubtest.File {
	fs := make([]githubtest.File, n)
	for i := range fs {
		fs[i] = githubtest.File{Filename: fmt.Sprintf("src/f%04d.go", i), Patch: "@@ -0,0 +1 @@\n+package src"}
	}
	return fs
}
