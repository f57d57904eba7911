package worker

import (
	"context"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/events"
)

// Result is what a reconciler concluded about one pull request at one SHA. The worker
// writes it as the completed check run.
type Result[T any] struct {
	// Conclusion is one of statusmanager's Conclusion constants. Empty means
	// statusmanager.ConclusionSuccess.
	Conclusion string
	// Title is the check run's title, cut to one line of at most 200 characters. Empty
	// means the check run's name.
	Title string
	// Details is the reconciler's own result, stored with the check run. When T has a
	// Markdown method, its text is the run's summary. When T implements
	// statusmanager.Annotated, its annotations are written with the run.
	Details T
}

// Reconciler checks one pull request at one SHA and returns its Result. gh is a client of
// the request's installation. A Reconciler should log through Logger(ctx), so that its
// records are behind the check run's details link.
//
// A Reconciler must be idempotent: the worker may run it any number of times for the same
// request.
//
// A returned error is retried: the message is delivered again, and at the last delivery
// attempt the run is completed as failed. Wrap an error with Permanent to fail the run at
// once. Errors that a retry cannot change, such as a GitHub 4xx other than 408 and 429, are
// permanent already. When a Result comes with an error that completes the run as failed,
// its Details are written with the failure.
//
// A panic in the reconciler, or in its details' Markdown or Annotations method, fails only
// that request. It is logged with its stack.
//
// ctx ends at the reconciler's timeout, at the message's deadline (less the time kept for
// the final writes) or at shutdown. A result returned after that without an error is still
// written. When the message itself was cancelled by then, it is also nacked, and its
// redelivery finds the run completed.
type Reconciler[T any] func(ctx context.Context, req *events.Request, gh *github.Client) (*Result[T], error)

// ClientFactory hands out GitHub clients authenticated as an installation of the App. An
// installationID of 0 means the installation is looked up from the repository.
// *githubapp.Factory implements it.
type ClientFactory interface {
	Client(ctx context.Context, owner, repo string, installationID int64) (*github.Client, error)
}

// Admitter admits a reconcile against its installation's GitHub rate-limit budget before
// anything is sent. cost is in rate-limit points. The worker calls release when the work
// it was admitted for has ended. *githubapp.Factory implements it.
//
// When a Worker's Clients also implements Admitter, a commit is started only when the
// budget covers finishing it. Otherwise the message is nacked before any request, with a
// transient error that says when the budget returns. A refusal for a pause of at most 5
// seconds that ends within the message's deadline is waited out once instead.
//
// A reconcile that outlasts InProgressAfter asks again for its in_progress write (1 point).
// When that is refused, the write is skipped.
type Admitter interface {
	Admit(ctx context.Context, owner, repo string, installationID int64, cost int) (release func(), err error)
}

// Outcome is what became of one message, or of one request of it.
type Outcome string

// The outcomes of a message. Each says what became of the check run and whether the
// message is acked, which Outcome.Ack reports. A nacked message is delivered again or,
// after its last attempt, moved to the dead-letter topic.
const (
	// OutcomeReconciled means the check run was completed with the reconciler's conclusion.
	// The message is acked.
	OutcomeReconciled Outcome = "reconciled"
	// OutcomeSkipped means nothing was written: a completed run exists at this SHA, or this
	// re-run was already done. The message is acked.
	OutcomeSkipped Outcome = "skipped"
	// OutcomeIgnored means the message is valid but asks for no reconcile. It is acked.
	OutcomeIgnored Outcome = "ignored"
	// OutcomeFailed means a permanent failure, written as a completed "failure" run. The
	// message is acked.
	OutcomeFailed Outcome = "failed"
	// OutcomeRetry means a transient failure. The run is left in progress and the message
	// is nacked.
	OutcomeRetry Outcome = "retry"
	// OutcomeGaveUp means a transient failure at the last delivery attempt, written as a
	// completed "failure" run. The message is acked.
	OutcomeGaveUp Outcome = "gave_up"
	// OutcomeInvalid means the message can never be decoded, and no run is written. The
	// message is nacked, so that the subscription's dead-letter policy moves it after its
	// attempts.
	OutcomeInvalid Outcome = "invalid"
	// OutcomeForwarded means the intake stage published every request of the message to
	// the reconcile topic. The message is acked.
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

// Defaults of the Worker's optional fields, and the rate-limit costs the worker counts.
const (
	// DefaultTimeout bounds one run of the reconciler.
	DefaultTimeout = 5 * time.Minute
	// DefaultGitHubTimeout bounds one status read or write, retries included. The two
	// final writes fit in config.FinalWritesReserve.
	DefaultGitHubTimeout = config.FinalWritesReserve / 2
	// DefaultMemory is the number of entries of each in-memory map.
	DefaultMemory = 10000
	// DefaultMaxDeliveryAttempts is the max_delivery_attempts of the deployment's
	// dead-letter policy (terraform/, and config's MAX_DELIVERY_ATTEMPTS). A Worker that is
	// not told otherwise gives up at this attempt and completes the run as failed.
	DefaultMaxDeliveryAttempts = 15
	// StatusCost is the rate-limit points of the worker's own status calls when the check
	// run is written in_progress first: the read of the commit's runs, the in_progress
	// write and the completed write. Annotations beyond the first 50 cost one more point
	// per 50.
	StatusCost = 3
	// DirectStatusCost is the rate-limit points of the worker's own status calls when the
	// reconcile ends within InProgressAfter: the read of the commit's runs and one write
	// that creates the run completed. Annotations beyond the first 50 cost one more point
	// per 50.
	DirectStatusCost = 2
	// DefaultInProgressAfter is how long a reconcile runs before its check run is written
	// in_progress, when Worker.InProgressAfter is 0.
	DefaultInProgressAfter = 3 * time.Second
	// DefaultReconcilerCost is the rate-limit points a reconciler is assumed to spend when
	// Worker.Cost is nil.
	DefaultReconcilerCost = 5
	// DefaultAckDeadline is Pub/Sub's largest ack deadline. A push subscription to Cloud
	// Run should have it.
	DefaultAckDeadline = config.MaxAckDeadline
	// MaxDeadlineMargin is how long before the ack deadline a message's work must end, so
	// that its answer reaches Pub/Sub in time. When a fifth of the deadline is shorter, the
	// margin is that fifth.
	MaxDeadlineMargin = config.DeadlineMargin
)
