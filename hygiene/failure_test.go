package hygiene_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

type oneClient struct{ s *githubtest.Server }

func (c oneClient) Client(context.Context, string, string, int64) (*github.Client, error) {
	return c.s.Client(), nil
}

// TestFailureAfter404: diff hygiene on a pull request GitHub answers 404 for completes as failed
// with a summary saying so, not the zero-value Details' "No findings. Checked 0 changed files.",
// which would read as a pass.
func TestFailureAfter404(t *testing.T) {
	ctx := context.Background()
	s := githubtest.NewTestServer(t)
	s.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: sha})
	const link = "https://logs.example.com/run"
	sm, err := statusmanager.NewStatusManager[hygiene.Details](ctx, "diff-hygiene", statusmanager.WithAppID(s.App().ID), statusmanager.WithDetailsURL(link))
	if err != nil {
		t.Fatal(err)
	}
	w := &worker.Worker[hygiene.Details]{Manager: sm, Clients: oneClient{s}, Reconcile: hygiene.Reconciler(hygiene.Options{})}
	// PR 99 does not exist: listing its files is a 404.
	data, _ := json.Marshal(map[string]any{"owner": owner, "repo": repo, "url": "https://github.com/" + owner + "/" + repo + "/pull/99", "sha": sha})
	o, _ := w.Handle(ctx, &events.Message{ID: "1", Data: data, Attributes: map[string]string{}})
	if o != worker.OutcomeFailed {
		t.Fatalf("outcome %s, want failed", o)
	}
	rs := s.CheckRuns(owner, repo, sha)
	if len(rs) != 1 || rs[0].Conclusion != "failure" {
		t.Fatalf("runs %+v, want one failure", rs)
	}
	sum := rs[0].Summary
	for _, want := range []string{"GitHub answered 404 Not Found", "Re-run", "(" + link + ")"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if md := (hygiene.Details{}).Markdown(); strings.Contains(sum, md) || strings.Contains(sum, "No findings") {
		t.Errorf("summary shows the zero-value Markdown %q:\n%s", md, sum)
	}
}
