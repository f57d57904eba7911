// Command prsize is a reconciler built only on the public API: it sizes a pull request (lines
// added and removed) and flags it, with a neutral check, above 400 changed lines. It is a module
// of its own, as in a repository of its own, with its own Dockerfile (docs/your-own-reconciler.md).
package main

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

const maxLines = 400

// Size is the check's status: the lines the pull request changes.
type Size struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
}

// Markdown is the check run's summary, shown once the run is completed.
func (s Size) Markdown() string {
	return fmt.Sprintf("%d lines added, %d removed. Above %d changed lines a pull request is flagged.", s.Added, s.Removed, maxLines)
}

func reconcile(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[Size], error) {
	pr, _, err := gh.PullRequests.Get(ctx, req.Resource.Owner, req.Resource.Repo, req.Resource.Number)
	if err != nil {
		return nil, err // retried, unless GitHub's answer is final (404, ...); worker.Permanent fails at once
	}
	if pr.GetHead().GetSHA() != req.SHA { // GitHub sizes the head; that commit gets its own event
		return &worker.Result[Size]{Conclusion: statusmanager.ConclusionSkipped, Title: "Superseded by a newer commit"}, nil
	}
	s := Size{Added: pr.GetAdditions(), Removed: pr.GetDeletions()}
	worker.Logger(ctx).Info("sized", "added", s.Added, "removed", s.Removed) // behind the check's details link
	if n := s.Added + s.Removed; n > maxLines {
		return &worker.Result[Size]{Conclusion: statusmanager.ConclusionNeutral, Title: fmt.Sprintf("Large: %d changed lines", n), Details: s}, nil
	}
	return &worker.Result[Size]{Conclusion: statusmanager.ConclusionSuccess, Title: fmt.Sprintf("%d changed lines", s.Added+s.Removed), Details: s}, nil
}

func main() { worker.Main(worker.App[Size]{Reconcile: reconcile}) }
