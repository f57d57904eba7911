package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// newWorker wires the worker of cfg: the App's client factory, the status manager of the
// identity, and the diff hygiene reconciler. project and service feed the details link.
func newWorker(ctx context.Context, cfg *config.Worker, project, service string, logger *slog.Logger) (*worker.Worker[hygiene.Details], error) {
	key, err := cfg.Key()
	if err != nil {
		return nil, err
	}
	// The configuration's 0 means none; githubapp's zero value means its default.
	reserve, jitter := cfg.BudgetReserve, cfg.ResetJitter
	if reserve == 0 {
		reserve = -1
	}
	if jitter == 0 {
		jitter = -1
	}
	clients, err := githubapp.New(cfg.AppID, key, githubapp.Options{BaseURL: cfg.APIURL, RetryBudget: cfg.RetryBudget, Logger: logger,
		BudgetReserve: reserve, ResetJitter: jitter})
	if err != nil {
		return nil, fmt.Errorf("github app: %w", err)
	}
	sm, err := statusmanager.NewStatusManager[hygiene.Details](ctx, cfg.Identity,
		statusmanager.WithAppID(cfg.AppID), statusmanager.WithProject(project, service))
	if err != nil {
		return nil, err
	}
	return &worker.Worker[hygiene.Details]{
		Manager:     sm,
		Clients:     clients,
		Reconcile:   hygieneReconciler(hygiene.Options{MaxFileBytes: cfg.MaxFileBytes, MaxFileLines: cfg.MaxFileLines}),
		Decoder:     &events.Decoder{TypePrefix: cfg.RelayTypePrefix, AppID: cfg.AppID, Identity: cfg.Identity},
		Logger:      logger,
		Timeout:     cfg.ReconcileTimeout,
		AckDeadline: cfg.AckDeadline,
		// Diff hygiene reads the PR's head twice and its files, 100 a page: 3 points for up
		// to 100 files (each further 100 is one more, which the budget reserve absorbs).
		Cost:                func(*events.Request) int { return 3 },
		MaxDeliveryAttempts: cfg.MaxDeliveryAttempts,
	}, nil
}

// hygieneReconciler adapts hygiene.Reconcile to the worker: the details carry their own
// conclusion and title. GitHub errors are classified by the worker (5xx and rate limits
// are transient, a missing PR is permanent).
//
// GitHub lists a pull request's files as of its current head, so the reconcile is only
// about req.SHA while that is the head: the head is read before and after the files, and a
// request for a commit the PR has moved past is completed as skipped ("superseded"); the
// new head gets its own event.
func hygieneReconciler(opts hygiene.Options) worker.Reconciler[hygiene.Details] {
	return func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[hygiene.Details], error) {
		res := req.Resource
		head := func() (string, error) {
			pr, _, err := gh.PullRequests.Get(ctx, res.Owner, res.Repo, res.Number)
			if err != nil {
				return "", fmt.Errorf("hygiene: read %s: %w", res.String(), err)
			}
			return strings.ToLower(pr.GetHead().GetSHA()), nil
		}
		superseded := func(h string) *worker.Result[hygiene.Details] {
			return &worker.Result[hygiene.Details]{Conclusion: "skipped",
				Title: fmt.Sprintf("Superseded: the pull request's head is now %.12s", h)}
		}
		h, err := head()
		if err != nil {
			return nil, err
		}
		if h != req.SHA {
			return superseded(h), nil
		}
		d, err := hygiene.Reconcile(ctx, gh, res.Owner, res.Repo, res.Number, opts)
		if err != nil {
			return nil, err
		}
		if h, err = head(); err != nil {
			return nil, err
		} else if h != req.SHA {
			return superseded(h), nil
		}
		return &worker.Result[hygiene.Details]{Conclusion: d.Conclusion(), Title: d.Title(), Details: d}, nil
	}
}
