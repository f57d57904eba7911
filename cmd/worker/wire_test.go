package main

import (
	"context"
	"strings"
	"testing"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/statusmanager/githubtest"
)

// The diff GitHub lists is the head's: a request for a commit the PR has moved past is not
// reconciled with another commit's findings.
func TestHygieneReconcilerOnlyReconcilesTheHead(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	gh.AddRepo("octo-org", "hello-world")
	old, head := strings.Repeat("a", 40), strings.Repeat("b", 40)
	files := []githubtest.File{{Filename: "a.go", Status: "added", Patch: "@@ -0,0 +1 @@\n+<<<<<<< HEAD"}}
	gh.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7, HeadSHA: old, Files: files})
	gh.PushHead("octo-org", "hello-world", 7, head, files)
	rec := hygieneReconciler(hygiene.Options{})
	res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	tests := []struct {
		sha, conclusion, title string
		findings               int
	}{
		{old, "skipped", "Superseded: the pull request's head is now bbbbbbbbbbbb", 0},
		{head, "failure", "1 problem in 1 file", 1},
	}
	for _, tt := range tests {
		r, err := rec(context.Background(), &events.Request{Resource: *res, SHA: tt.sha}, gh.Client())
		if err != nil {
			t.Fatal(err)
		}
		if r.Conclusion != tt.conclusion || r.Title != tt.title || len(r.Details.Findings) != tt.findings {
			t.Errorf("at %.7s: %s %q with %d findings, want %s %q with %d", tt.sha, r.Conclusion, r.Title, len(r.Details.Findings), tt.conclusion, tt.title, tt.findings)
		}
	}
}
