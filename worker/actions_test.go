package worker_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/worker"
)

// pullRequestEvent is the relay message of a pull_request event with action at sha1 on PR 7.
func pullRequestEvent(t *testing.T, id, action string) *events.Message {
	t.Helper()
	body := map[string]any{
		"action": action, "number": 7,
		"pull_request": map[string]any{"number": 7, "html_url": prURL(7), "state": "open",
			"head": map[string]any{"sha": sha1}, "base": map[string]any{"sha": sha2}},
		"repository": map[string]any{"name": repo, "full_name": owner + "/" + repo, "owner": map[string]any{"login": owner},
			"html_url": "https://github.com/" + owner + "/" + repo},
		"installation": map[string]any{"id": 1},
	}
	data, err := json.Marshal(map[string]any{"headers": map[string]any{"event": "pull_request", "delivery_id": "gh-" + id}, "body": body})
	if err != nil {
		t.Fatal(err)
	}
	return &events.Message{ID: id, Data: data, Attributes: map[string]string{
		"ce-id": "gh-" + id, "ce-type": events.DefaultTypePrefix + ".pull_request", "ce-subject": owner + "/" + repo, "ce-action": action}}
}

// An edited pull request re-runs a reconciler that declared the action, as a fresh run of the
// head commit that knows why it runs, and is ignored by one that did not declare it.
func TestPullRequestActionsRerunTheHeadCommit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		actions  []string
		want     worker.Outcome
		runs     int
		triggers []string
	}{
		{"declared", []string{"edited"}, worker.OutcomeReconciled, 2, []string{"pull_request.synchronize", "pull_request.edited"}},
		{"not declared", nil, worker.OutcomeIgnored, 1, []string{"pull_request.synchronize"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gh := githubtest.NewTestServer(t)
			gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: sha1})
			var (
				mu       sync.Mutex
				triggers []string
			)
			rec := func(ctx context.Context, req *events.Request, c *github.Client) (*worker.Result[notes], error) {
				mu.Lock()
				triggers = append(triggers, req.Trigger)
				mu.Unlock()
				return succeed(ctx, req, c)
			}
			p, err := worker.Start(context.Background(), worker.App[notes]{Reconcile: rec, PullRequestActions: tc.actions}, appEnv(gh, nil))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			ctx := context.Background()
			if o, err := p.Worker.Handle(ctx, pullRequestEvent(t, "1", "synchronize")); o != worker.OutcomeReconciled {
				t.Fatalf("synchronize: %s, %v", o, err)
			}
			if o, err := p.Worker.Handle(ctx, pullRequestEvent(t, "2", "edited")); o != tc.want {
				t.Fatalf("edited: %s, %v; want %s", o, err, tc.want)
			}
			// A redelivery of the same edit makes no third run.
			if o, err := p.Worker.Handle(ctx, pullRequestEvent(t, "2", "edited")); tc.want == worker.OutcomeReconciled && o != worker.OutcomeSkipped {
				t.Errorf("edited, delivered again: %s, %v; want skipped", o, err)
			}
			runs := gh.CheckRuns(owner, repo, sha1)
			if len(runs) != tc.runs {
				t.Errorf("%d runs at the head commit, want %d", len(runs), tc.runs)
			}
			for _, r := range runs {
				if r.Status != "completed" {
					t.Errorf("run %d is %s, want completed (the previous run is kept, completed)", r.ID, r.Status)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(triggers) != len(tc.triggers) {
				t.Fatalf("reconciled with triggers %q, want %q", triggers, tc.triggers)
			}
			for i := range triggers {
				if triggers[i] != tc.triggers[i] {
					t.Errorf("reconcile %d: Trigger %q, want %q", i, triggers[i], tc.triggers[i])
				}
			}
		})
	}
}

// An action that is not a pull_request action, or one reconciled anyway, stops the start.
func TestStartRefusesBadPullRequestActions(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	for _, actions := range [][]string{{"synchronize"}, {"edit"}} {
		p, err := worker.Start(context.Background(), worker.App[notes]{Reconcile: succeed, PullRequestActions: actions}, appEnv(gh, nil))
		if err == nil {
			p.Close()
			t.Errorf("PullRequestActions %q: started", actions)
		}
	}
}
