package worker

import (
	"context"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/events"
)

// Result is what a reconcile concluded: the check run's conclusion (one of statusmanager's
// Conclusion constants; ConclusionSuccess when empty), its title (the identity when empty)
// and the reconciler's details, rendered by the details' Markdown method and annotated by
// its Annotations method when it has them, once the run is completed.
type Result[T any] struct {
	Conclusion string
	Title      string
	Details    T
}

// Reconciler reconciles one pull request at one SHA, with gh, a client of the request's
// installation. It must be idempotent: it may run any number of times for the same request.
//
// An error is retried: the message is delivered again, and at the last delivery attempt the
// run is completed as failed. Wrap an error with Permanent to fail the run at once. Errors
// that a retry cannot change, such as a GitHub 4xx other than 408 and 429, are permanent
// already. When a Result comes with a permanent error, its Details are written with the
// failure.
//
// A panic, in the reconciler or in its details' Markdown or Annotations, fails only that
// request. It is logged with its stack.
//
// ctx ends at the reconciler's timeout, the message's deadline or a shutdown. A result
// returned after that is still written, and the message is delivered again.
type Reconciler[T any] func(ctx context.Context, req *events.Request, gh *github.Client) (*Result[T], error)

// ClientFactory hands out GitHub clients authenticated as an installation; installationID 0
// means look it up from the repository. *githubapp.Factory implements it.
type ClientFactory interface {
	Client(ctx context.Context, owner, repo string, installationID int64) (*github.Client, error)
}

// Admitter admits a reconcile by its installation's GitHub budget before anything is sent.
// *githubapp.Factory implements it.
//
// When a Worker's Clients implements Admitter, a commit is started only when the budget
// covers finishing it. Otherwise the message is nacked before any request, with a transient
// error that says when the budget returns. A reconcile that outlasts InProgressAfter asks
// again for its in_progress write (1 point), and skips that write when refused.
type Admitter interface {
	Admit(ctx context.Context, owner, repo string, installationID int64, cost int) (release func(), err error)
}

// Outcome is what became of one message (or one request of it).
type Outcome string

// The outcomes of one message: what became of its check run, and whether the message is
// acked. Ack tells which are. A nacked message is delivered again or, after its last
// attempt, moved to the dead-letter topic.
const (
	// OutcomeReconciled: the check run was completed with the reconciler's conclusion. Ack.
	OutcomeReconciled Outcome = "reconciled"
	// OutcomeSkipped: a completed run at this SHA exists, or this re-run was already done.
	// Nothing is written. Ack.
	OutcomeSkipped Outcome = "skipped"
	// OutcomeIgnored: a valid message that asks for no reconcile. Ack.
	OutcomeIgnored Outcome = "ignored"
	// OutcomeFailed: a permanent failure, written as a completed "failure" run. Ack.
	OutcomeFailed Outcome = "failed"
	// OutcomeRetry: a transient failure; the run is left in progress. Nack.
	OutcomeRetry Outcome = "retry"
	// OutcomeGaveUp: a transient failure at the last delivery attempt, written as a
	// completed "failure" run. Ack.
	OutcomeGaveUp Outcome = "gave_up"
	// OutcomeInvalid: the message can never be decoded; no run. Nack, so that the
	// subscription's dead-letter policy moves it after its attempts.
	OutcomeInvalid Outcome = "invalid"
	// OutcomeForwarded: the intake stage published every request of the message to the
	// reconcile topic. Ack.
	OutcomeForwarded Outcome = "forwarded"
)

// Ack reports whether a message with this outcome is acknowledged (true) or nacked.
func (o Outcome) Ack() bool {
	switch o {
	case OutcomeReconciled, OutcomeSkipped, OutcomeIgnored, OutcomeFailed, OutcomeGaveUp, OutcomeForwarded:
		return true
	}
	return false
}

// Defaults of the Worker's optional fields.
const (
	// DefaultTimeout bounds one run of the reconciler.
	DefaultTimeout = 5 * time.Minute
	// DefaultGitHubTimeout bounds one status read or write (retries included): the two final
	// writes fit in config.FinalWritesReserve.
	DefaultGitHubTimeout = config.FinalWritesReserve / 2
	// DefaultMemory is the number of entries of each in-memory map.
	DefaultMemory = 10000
	// DefaultMaxDeliveryAttempts is the dead-letter policy's max_delivery_attempts of the
	// deployment (terraform/, config's MAX_DELIVERY_ATTEMPTS): a Worker that is not told
	// otherwise gives up at this attempt, completing the run as failed.
	DefaultMaxDeliveryAttempts = 15
	// StatusCost is the rate-limit points of the status reads and writes of a reconcile
	// whose check run is written in_progress first: the read of the commit's runs, the
	// in_progress write and the completed write (annotations beyond the first 50 cost one
	// more point per 50).
	StatusCost = 3
	// DirectStatusCost is the rate-limit points of the status of a reconcile that ends
	// within InProgressAfter: the read of the commit's runs and the create of its run,
	// completed (annotations beyond the first 50 cost one more point per 50).
	DirectStatusCost = 2
	// DefaultInProgressAfter is how long a reconcile runs before its check run is written
	// in_progress, when Worker.InProgressAfter is 0.
	DefaultInProgressAfter = 3 * time.Second
	// DefaultReconcilerCost is what a reconciler is assumed to spend when Worker.Cost is nil.
	DefaultReconcilerCost = 5
	// DefaultAckDeadline is Pub/Sub's largest ack deadline, which a push subscription to
	// Cloud Run should have.
	DefaultAckDeadline = config.MaxAckDeadline
	// MaxDeadlineMargin is how long before the ack deadline a message's work must end, so
	// that its answer reaches Pub/Sub in time (a fifth of the deadline when that is shorter).
	MaxDeadlineMargin = config.DeadlineMargin
)
