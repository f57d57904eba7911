// Package worker runs a reconciler on the reconcile requests that Pub/Sub delivers. It acks
// a message only once the request's check run is written.
//
// A reconciler binary's whole main is
//
//	func main() { worker.Main(worker.App[Details]{Reconcile: reconcile}) }
//
// Main reads the environment that config.Worker documents. It serves two stages, by push
// (PushHandler) or by pull (Pull):
//
//   - The intake stage (Intake) turns webhook events into reconcile requests and publishes
//     them to the reconcile topic, ordered by commit.
//   - The reconcile stage (Worker) runs the reconciler, one commit at a time.
//
// With MODE=ingress the same binary serves the webhook ingress instead (IngressHandler).
//
// A Reconciler is a function of one request. Its errors are retried unless marked
// Permanent. A panic fails only its own request. What it logs through Logger(ctx) is behind
// the check run's details link.
//
// A Reconciler gets a go-github v60 *github.Client, so that major version is part of this
// package's API.
package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/statusmanager"
)

// messageDeadline is when the work on a message received at start must end: ackDeadline
// after it, less a margin for the answer to travel.
func messageDeadline(start time.Time, ackDeadline time.Duration) time.Time {
	return start.Add(ackDeadline - deadlineMargin(ackDeadline))
}

// deadlineMargin is MaxDeadlineMargin, or a fifth of ackDeadline when that is shorter.
func deadlineMargin(ackDeadline time.Duration) time.Duration {
	return min(MaxDeadlineMargin, ackDeadline/5)
}

// Worker is the reconcile stage. For each request of a message it opens a session of
// Manager, skips a SHA that is already completed, runs Reconcile under Timeout and writes
// the completed check run. Only then does it report that the message may be acked. A
// reconcile that outlasts InProgressAfter has its run written in_progress meanwhile.
//
// Set the exported fields before the first call and do not change them afterwards. A
// Worker is then safe for concurrent use.
type Worker[T any] struct {
	// Manager writes and reads the check runs (required).
	Manager *statusmanager.StatusManager[T]
	// Clients gives the GitHub client of a request's installation (required).
	Clients ClientFactory
	// Reconcile is the reconciler (required).
	Reconcile Reconciler[T]
	// Decoder turns messages into requests. When it is nil, or its AppID or Identity is
	// zero, the Manager's are used. So a Re-run of another App's check run, or of another
	// check, is ignored and never reconciled as ours. Validate refuses a Decoder that names
	// another App or identity than the Manager.
	Decoder *events.Decoder
	// Logger receives one record per request and outcome. nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds one run of Reconcile. 0 means DefaultTimeout.
	Timeout time.Duration
	// GitHubTimeout bounds each status read or write. 0 means DefaultGitHubTimeout. Twice
	// this is kept from the reconciler's time for the final writes.
	GitHubTimeout time.Duration
	// AckDeadline is the reconcile subscription's ack deadline with push, or how long Pull
	// keeps a message's lease. Less a margin, it is the one deadline of a message's work:
	// every GitHub call, the reconciler and the final writes draw from it, so that the
	// message is answered before Pub/Sub delivers it again. 0 means DefaultAckDeadline.
	AckDeadline time.Duration
	// MaxDeliveryAttempts is the max_delivery_attempts of the subscription's dead-letter
	// policy. At this attempt a transient failure completes the run as failed, and the
	// message is acked. 0 means DefaultMaxDeliveryAttempts.
	MaxDeliveryAttempts int
	// InProgressAfter is how long a reconcile may run before its check run is written
	// in_progress. A reconcile that ends sooner creates its run completed in one write,
	// because the in_progress state is only worth a rate-limit point when someone can see
	// it. 0 means DefaultInProgressAfter. A negative value writes in_progress before every
	// reconcile.
	InProgressAfter time.Duration
	// Cost estimates the rate-limit points the reconciler spends on req, for the admission by
	// budget (see Admitter). nil means DefaultReconcilerCost. The worker adds the cost of its
	// own status calls: DirectStatusCost, or StatusCost when InProgressAfter is negative.
	Cost func(req *events.Request) int
	// Memory bounds the entries of each in-memory map. One map counts the delivery attempts
	// of messages that do not carry their attempt. The other holds the commits this process
	// saw completed. 0 means DefaultMemory entries.
	Memory int
	// OnOutcome, when set, is called once per handled message with its outcome, before the
	// transport acks or nacks it, for metrics or tests.
	OnOutcome func(m *events.Message, o Outcome, err error)

	once     sync.Once
	invalid  error           // Validate's, once
	decoder  *events.Decoder // Decoder, with the Manager's App and identity where it has none
	attempts *lru            // message key → deliveries seen, when the message does not say
	// done holds the commits (ordering keys) this process completed or saw completed. A
	// completed run is never reopened, so a later request for such a commit, unless it is
	// a rerun, is skipped without asking GitHub. A redelivery or a twin on this instance
	// then costs no request. Another instance still reads (one conditional request).
	done    *lru
	flights flights
}

func (w *Worker[T]) init() {
	w.once.Do(func() {
		n := w.Memory
		if n <= 0 {
			n = DefaultMemory
		}
		w.attempts = newLRU(n)
		w.done = newLRU(n)
		w.invalid = w.Validate()
		w.decoder = w.effectiveDecoder()
	})
}

// effectiveDecoder is Decoder with the Manager's App and identity where it leaves them zero.
func (w *Worker[T]) effectiveDecoder() *events.Decoder {
	var d events.Decoder
	if w.Decoder != nil {
		d = *w.Decoder
	}
	if w.Manager != nil {
		if d.AppID == 0 {
			d.AppID = w.Manager.AppID()
		}
		if d.Identity == "" {
			d.Identity = w.Manager.Identity()
		}
	}
	return &d
}

// maxAttempts is MaxDeliveryAttempts, or its default.
func (w *Worker[T]) maxAttempts() int {
	if w.MaxDeliveryAttempts > 0 {
		return w.MaxDeliveryAttempts
	}
	return DefaultMaxDeliveryAttempts
}

func (w *Worker[T]) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}

func (w *Worker[T]) timeout() time.Duration {
	if w.Timeout > 0 {
		return w.Timeout
	}
	return DefaultTimeout
}

func (w *Worker[T]) ackDeadline() time.Duration {
	if w.AckDeadline > 0 {
		return w.AckDeadline
	}
	return DefaultAckDeadline
}

// finalReserve is what the reconciler leaves of a message's deadline for the writes after
// it: the completed write and a re-read of the run, or a failure write.
func (w *Worker[T]) finalReserve() time.Duration { return 2 * w.githubTimeout() }

// Validate reports what makes the configuration unusable:
//
//   - a nil Worker, or a missing Manager, Clients or Reconcile;
//   - a Decoder that names another App or identity than the Manager;
//   - a negative Timeout, GitHubTimeout, AckDeadline or MaxDeliveryAttempts;
//   - a Timeout that does not fit in AckDeadline together with the final writes (twice
//     GitHubTimeout) and the margin.
//
// Serve, Pull and Start refuse to start when it fails, and PushHandler panics. A worker
// that would answer every message with a retry must not start.
func (w *Worker[T]) Validate() error {
	if w == nil {
		return errors.New("worker: nil Worker")
	}
	var errs []error
	if w.Manager == nil {
		errs = append(errs, errors.New("the Manager is required"))
	}
	if w.Clients == nil {
		errs = append(errs, errors.New("the Clients are required"))
	}
	if w.Reconcile == nil {
		errs = append(errs, errors.New("the Reconcile func is required"))
	}
	if d := w.Decoder; d != nil && w.Manager != nil {
		if d.AppID != 0 && d.AppID != w.Manager.AppID() {
			errs = append(errs, fmt.Errorf("the Decoder's AppID %d is not the Manager's App %d: Re-runs of our check runs would be ignored", d.AppID, w.Manager.AppID()))
		}
		if d.Identity != "" && d.Identity != w.Manager.Identity() {
			errs = append(errs, fmt.Errorf("the Decoder's Identity %q is not the Manager's %q: Re-runs of our check runs would be ignored", d.Identity, w.Manager.Identity()))
		}
	}
	if w.Timeout < 0 || w.GitHubTimeout < 0 || w.AckDeadline < 0 || w.MaxDeliveryAttempts < 0 {
		errs = append(errs, errors.New("the Timeout, GitHubTimeout, AckDeadline and MaxDeliveryAttempts must not be negative"))
	}
	ack := w.ackDeadline()
	if need := w.timeout() + w.finalReserve() + deadlineMargin(ack); need > ack {
		errs = append(errs, fmt.Errorf("the Timeout %s and the final writes (2 × GitHubTimeout %s) do not fit in AckDeadline %s with its margin: shorten them or raise the ack deadline",
			w.timeout(), w.githubTimeout(), ack))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

// cost is the rate-limit points a reconcile of req is admitted for.
func (w *Worker[T]) cost(req *events.Request) int {
	c := DefaultReconcilerCost
	if w.Cost != nil {
		c = max(w.Cost(req), 0)
	}
	if w.inProgressAfter() < 0 {
		return StatusCost + c
	}
	return DirectStatusCost + c
}

// inProgressAfter is InProgressAfter or its default. Negative means in_progress first.
func (w *Worker[T]) inProgressAfter() time.Duration {
	if w.InProgressAfter == 0 {
		return DefaultInProgressAfter
	}
	return w.InProgressAfter
}

func (w *Worker[T]) githubTimeout() time.Duration {
	if w.GitHubTimeout > 0 {
		return w.GitHubTimeout
	}
	return DefaultGitHubTimeout
}
