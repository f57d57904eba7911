// Package worker consumes reconcile requests from Pub/Sub (push or pull) and drives a
// reconciler through the statusmanager, acking a message only once its check run is written.
//
// A reconciler binary's whole main is
//
//	func main() { worker.Main(worker.App[Details]{Reconcile: reconcile}) }
//
// Main (and Run, and Start, which tests and other commands use) reads the environment that
// config.Worker documents, validates it at start-up and serves both stages: the intake stage
// (Intake) and the ordered reconcile stage (Worker), by push (PushHandler) or pull. A
// Reconciler is a function of one request: its errors are retried unless Permanent, its
// panics fail only its own request, and what it logs through Logger(ctx) is behind the check
// run's details link.
//
// The API is built on go-github v60 (github.com/google/go-github/v60): a Reconciler gets a
// *github.Client, so go-github's major version is part of this package's API and stays at v60.
package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/statusmanager"
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

// Reconciler reconciles one pull request at one SHA. It is a function of the request:
// level-triggered and idempotent, it may run any number of times for the same request. gh is
// a client of the request's installation.
//
// An error is retried by default, as controller-runtime does: the message is nacked and comes
// again, and at the last delivery attempt the run is completed as failed. Return
// Permanent(err), the terminal error, to fail the run at once; errors known to be final
// already are (a GitHub answer that retrying cannot change, a 4xx other than 408 and 429; a
// status GitHub would refuse). When a Result comes with a permanent error, its Details are
// written with the failure. A panic, in the reconciler or in its details' Markdown or
// Annotations, fails that request permanently and is logged with its stack; the process
// serves on. ctx ends at the reconciler's timeout, the message's deadline or a shutdown: a
// result returned once the message's context has ended is written, but the message is
// nacked (see Worker.Handle).
type Reconciler[T any] func(ctx context.Context, req *events.Request, gh *github.Client) (*Result[T], error)

// ClientFactory hands out GitHub clients authenticated as an installation; installationID 0
// means look it up from the repository. *githubapp.Factory implements it.
type ClientFactory interface {
	Client(ctx context.Context, owner, repo string, installationID int64) (*github.Client, error)
}

// Admitter admits a reconcile by its installation's GitHub budget before anything is sent;
// *githubapp.Factory implements it. When a Worker's Clients implements it, a commit is
// started (its runs listed) only when the budget covers finishing it: otherwise the message
// is nacked before any request, and the refusal, transient, says when the budget returns. A
// reconcile that outlasts InProgressAfter is admitted again for its in_progress write (1
// point), which is left out when refused.
type Admitter interface {
	Admit(ctx context.Context, owner, repo string, installationID int64, cost int) (release func(), err error)
}

// Outcome is what became of one message (or one request of it).
type Outcome string

// The outcomes of one message: what became of its check run and whether it is acked (Ack
// tells which ack it; the others nack it, so that Pub/Sub delivers it again or, after its
// last attempt, moves it to the dead-letter topic).
const (
	// OutcomeReconciled: the check run was completed with the reconciler's conclusion. Ack.
	OutcomeReconciled Outcome = "reconciled"
	// OutcomeSkipped: a completed run at this SHA exists (or this rerun delivery was already
	// done); nothing written. Ack.
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
	// DefaultGitHubTimeout bounds one status read or write (retries included).
	DefaultGitHubTimeout = time.Minute
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
	DefaultAckDeadline = 10 * time.Minute
	// MaxDeadlineMargin is how long before the ack deadline a message's work must end, so
	// that its answer reaches Pub/Sub in time (a fifth of the deadline when that is shorter).
	MaxDeadlineMargin = 10 * time.Second
)

// messageDeadline is when the work on a message received at start must end: ackDeadline
// after it, less a margin for the answer to travel.
func messageDeadline(start time.Time, ackDeadline time.Duration) time.Time {
	return start.Add(ackDeadline - deadlineMargin(ackDeadline))
}

func deadlineMargin(ackDeadline time.Duration) time.Duration {
	return min(MaxDeadlineMargin, ackDeadline/5)
}

// Worker handles reconcile messages: it decodes them, and for each request opens a session
// of Manager, skips SHAs already completed, runs Reconcile under Timeout (writing the run
// in_progress if it outlasts InProgressAfter) and writes the completed run, and only then
// says the message may be acked. Set the
// exported fields before the first call and do not change them afterwards; a Worker is safe
// for concurrent use.
type Worker[T any] struct {
	// Manager writes and reads the check runs (required).
	Manager *statusmanager.StatusManager[T]
	// Clients gives the GitHub client of a request's installation (required).
	Clients ClientFactory
	// Reconcile is the reconciler (required).
	Reconcile Reconciler[T]
	// Decoder turns messages into requests. Its AppID and Identity, when zero (or when it is
	// nil), are the Manager's: a Re-run of another App's check run, or of another check, is
	// ignored, never reconciled as ours. Validate refuses a Decoder naming another App or
	// identity than the Manager.
	Decoder *events.Decoder
	// Logger receives one record per request and outcome; nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds one run of Reconcile; 0 means DefaultTimeout.
	Timeout time.Duration
	// GitHubTimeout bounds each status read or write; 0 means DefaultGitHubTimeout. Twice
	// this is kept from the reconciler for the final writes.
	GitHubTimeout time.Duration
	// AckDeadline is the reconcile subscription's ack deadline (push), or how long Pull
	// keeps a message's lease: the one deadline of a message's work, less a margin, from
	// which every GitHub call, the reconciler and the final writes draw, so that a message
	// is answered before Pub/Sub would deliver it again. 0 means DefaultAckDeadline.
	AckDeadline time.Duration
	// MaxDeliveryAttempts is the subscription's dead-letter max_delivery_attempts: at this
	// attempt a transient failure completes the run as failed and the message is acked. 0
	// means DefaultMaxDeliveryAttempts.
	MaxDeliveryAttempts int
	// InProgressAfter is how long a reconcile may run before its check run is written
	// in_progress. A reconcile that ends sooner creates its run completed in one write: the
	// in_progress state is only worth a rate-limit point when someone can see it. 0 means
	// DefaultInProgressAfter; a negative value writes in_progress before every reconcile.
	InProgressAfter time.Duration
	// Cost, when set, estimates the rate-limit points the reconciler spends on req (its reads
	// and writes of GitHub), for the admission by budget (see Admitter); nil means
	// DefaultReconcilerCost. DirectStatusCost is added to it (StatusCost when in_progress is
	// always written first); a reconcile that outlasts InProgressAfter reserves one point
	// more before its in_progress write.
	Cost func(req *events.Request) int
	// Memory bounds each in-memory map: the delivery attempts per message id (kept when the
	// message carries none) and the commits this process saw completed; 0 means
	// DefaultMemory entries.
	Memory int
	// OnOutcome, when set, is called once per handled message with its outcome, before the
	// transport acks or nacks it (metrics, tests).
	OnOutcome func(m *events.Message, o Outcome, err error)

	once     sync.Once
	invalid  error           // Validate's, once
	decoder  *events.Decoder // Decoder, with the Manager's App and identity where it has none
	attempts *lru            // message key → deliveries seen, when the message does not say
	// done holds the commits (ordering keys) this process completed or saw completed. A
	// completed run is never reopened, so a later request for such a commit that is not a
	// rerun is a skip without asking GitHub: a redelivery, or a twin on this instance, costs
	// no request. Another instance still reads (one conditional request).
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

// Validate reports a configuration the worker cannot work with: a nil Worker, a missing
// Manager, Clients or Reconcile, a Decoder naming another App or identity than the Manager,
// or timeouts that do not fit in the ack deadline (Timeout, the final writes' reserve of
// twice GitHubTimeout and the margin must fit in AckDeadline). Serve, Pull and Start refuse
// to start with it, and PushHandler panics: a worker that would answer every message with a
// retry must not start.
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

// inProgressAfter is IN_PROGRESS_AFTER as Worker.InProgressAfter: there 0 is the default,
// and in_progress first is negative.
func inProgressAfter(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// inProgressAfter is InProgressAfter or its default; negative means in_progress first.
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

// messageKey identifies a message for attempt counting: its id, or a digest of its data and
// attributes when it has none (an unwrapped push without metadata).
func messageKey(m *events.Message) string {
	if m.ID != "" {
		return "id:" + m.ID
	}
	h := sha256.New()
	h.Write(m.Data)
	keys := make([]string, 0, len(m.Attributes))
	for k := range m.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "\x00%s\x00%s", k, m.Attributes[k])
	}
	return "sum:" + hex.EncodeToString(h.Sum(nil))
}

// Handle processes one message and returns its outcome; the message may be acked exactly when
// the outcome's Ack is true. It is the one place where the outcome of a message is decided
// (the Outcome constants say what each does to the check run and the message); both
// transports call it. The error explains a failed, retried, abandoned or invalid message.
//
// A message that decodes into several requests is acked only when every request was: the
// outcome is the first of retry, gave_up, failed, reconciled, skipped that any request had.
// ctx bounds the whole: when it is cancelled the work stops (unless a concurrent delivery of
// the same request still waits for it) and the message is nacked. A result the reconciler
// returns after that, ignoring the cancellation, is still written (it is the reconciler's
// answer), and the message is nacked all the same: its redelivery finds the commit completed
// and is acked without another reconcile. The work also ends by
// AckDeadline (less a margin) from now, or ctx's deadline when earlier: the reconciler is
// stopped early enough for the final writes to fit.
func (w *Worker[T]) Handle(ctx context.Context, m *events.Message) (o Outcome, err error) {
	w.init()
	ctx, cancel := context.WithDeadline(ctx, messageDeadline(time.Now(), w.ackDeadline()))
	defer cancel()
	if w.OnOutcome != nil {
		defer func() { w.OnOutcome(m, o, err) }()
	}
	log := w.logger()
	if w.invalid != nil {
		return OutcomeRetry, w.invalid
	}
	res, o, err := decode(ctx, log, w.decoder, m, StageReconcile)
	if o != "" {
		return o, err
	}

	for i := range res.Requests {
		if k := res.Requests[i].OrderingKey(); m.OrderingKey != "" && m.OrderingKey != k {
			// Ordering serializes by key: a wrong key lets another instance run this
			// commit at the same time, and only the in-process dedupe is left.
			log.LogAttrs(ctx, slog.LevelWarn, "message published with another ordering key than its commit's",
				label(statusmanager.LogLabelDeliveryID, m.ID), slog.String("ordering_key", m.OrderingKey), slog.String("want", k))
		}
	}
	key := messageKey(m)
	attempt := m.DeliveryAttempt
	if attempt <= 0 {
		attempt = w.attempts.add(key, 1)
	}
	outcomes := make([]Outcome, len(res.Requests))
	errs := make([]error, len(res.Requests))
	if len(res.Requests) == 1 {
		outcomes[0], errs[0] = w.handleRequest(ctx, m, &res.Requests[0], attempt)
	} else {
		var wg sync.WaitGroup
		for i := range res.Requests {
			wg.Go(func() { outcomes[i], errs[i] = w.handleRequest(ctx, m, &res.Requests[i], attempt) })
		}
		wg.Wait()
	}
	o = combine(outcomes)
	err = errors.Join(errs...)
	if o.Ack() {
		w.attempts.remove(key)
	}
	if len(res.Requests) > 1 {
		level := slog.LevelInfo
		if !o.Ack() {
			level = slog.LevelWarn
		}
		log.LogAttrs(ctx, level, fmt.Sprintf("message of %d requests: %s", len(res.Requests), o),
			label(statusmanager.LogLabelDeliveryID, m.ID), label(statusmanager.LogLabelOutcome, string(o)),
			slog.String("message_id", m.ID))
	}
	return o, err
}

// decode decodes m for a stage (StageIntake or StageReconcile). When the message asks for
// no request it logs why and returns the outcome: invalid (nack, so that the dead-letter
// policy moves it) or ignored (ack); otherwise the outcome is "".
func decode(ctx context.Context, log *slog.Logger, d *events.Decoder, m *events.Message, stage string) (events.Result, Outcome, error) {
	prefix := ""
	if stage == StageIntake {
		prefix = "intake: "
	}
	res, err := d.Decode(m)
	if err != nil {
		log.LogAttrs(ctx, slog.LevelError, prefix+"invalid message: nacked so that the dead-letter policy moves it",
			label(statusmanager.LogLabelDeliveryID, m.ID), label(statusmanager.LogLabelOutcome, string(OutcomeInvalid)),
			slog.String(LogFieldStage, stage), slog.String("message_id", m.ID), slog.String("reason", err.Error()),
			slog.Int("delivery_attempt", m.DeliveryAttempt))
		return res, OutcomeInvalid, err
	}
	if len(res.Requests) == 0 {
		log.LogAttrs(ctx, slog.LevelInfo, prefix+"message ignored: "+res.Ignored,
			label(statusmanager.LogLabelDeliveryID, m.ID), label(statusmanager.LogLabelOutcome, string(OutcomeIgnored)),
			slog.String(LogFieldStage, stage), slog.String("message_id", m.ID), slog.String("reason", res.Ignored))
		return res, OutcomeIgnored, nil
	}
	return res, "", nil
}

// combine is the outcome of a message from those of its requests.
func combine(os []Outcome) Outcome {
	for _, want := range []Outcome{OutcomeRetry, OutcomeGaveUp, OutcomeFailed, OutcomeReconciled} {
		for _, o := range os {
			if o == want {
				return want
			}
		}
	}
	return OutcomeSkipped
}

// handleRequest runs one request, deduplicated with concurrent deliveries of the same one,
// and logs its outcome.
func (w *Worker[T]) handleRequest(ctx context.Context, m *events.Message, req *events.Request, attempt int) (Outcome, error) {
	start := time.Now()
	log := w.logger().With(
		label(statusmanager.LogLabelPRURL, req.Resource.URL),
		label(statusmanager.LogLabelSHA, req.SHA),
		label(statusmanager.LogLabelDeliveryID, req.DeliveryID),
		slog.String("message_id", m.ID),
		slog.Bool("rerun", req.Rerun),
		slog.Int("delivery_attempt", attempt),
	)
	if req.Trigger != "" {
		log = log.With(slog.String("trigger", req.Trigger))
	}
	// One flight per check run: a delivery joins the reconcile already running for its
	// commit, except a rerun, which waits for a plain reconcile to end and then runs its own.
	var (
		o      Outcome
		err    error
		shared bool
		// What this delivery's own runs spend of GitHub; a delivery that joins another's
		// flight spends nothing, and says so.
		usage githubapp.Usage
	)
	if !req.Rerun && w.done.has(req.OrderingKey()) {
		o = OutcomeSkipped
		log.LogAttrs(ctx, slog.LevelInfo, fmt.Sprintf("%s outcome: %s", req.String(), o),
			label(statusmanager.LogLabelOutcome, string(o)), slog.String(LogFieldStage, StageReconcile),
			slog.String("reason", "this process saw the commit completed"),
			slog.Float64(LogFieldDuration, time.Since(start).Seconds()),
			slog.Int(LogFieldGitHubRequests, 0), slog.Int(LogFieldGitHubPoints, 0))
		return o, nil
	}
	for {
		var joinedRerun bool
		o, shared, joinedRerun, err = w.flights.do(ctx, req.OrderingKey(), req.Rerun, func(ctx context.Context) (Outcome, error) {
			r := &run[T]{w: w, ctx: githubapp.WithUsage(ctx, &usage), log: log, req: req, attempt: attempt}
			return r.safely(r.do)
		})
		if !req.Rerun || !shared || joinedRerun || ctx.Err() != nil {
			break
		}
	}
	if shared && o == OutcomeRetry && attempt >= w.maxAttempts() && ctx.Err() == nil {
		// The flight this delivery joined belongs to an earlier attempt of another delivery,
		// but this one is at its last attempt: it gives up for itself rather than go to the
		// dead-letter topic with nothing written.
		cause := err
		o, _, _, err = w.flights.do(ctx, req.OrderingKey(), req.Rerun, func(ctx context.Context) (Outcome, error) {
			r := &run[T]{w: w, ctx: githubapp.WithUsage(ctx, &usage), log: log, req: req, attempt: attempt}
			return r.safely(func() (Outcome, error) { return r.giveUp(cause) })
		})
	}
	level := slog.LevelInfo
	switch o {
	case OutcomeRetry, OutcomeFailed, OutcomeGaveUp:
		level = slog.LevelWarn
	case OutcomeReconciled, OutcomeSkipped:
		// Both mean a completed run at this commit (failed and gave_up may have written none).
		w.done.add(req.OrderingKey(), 1)
	}
	attrs := []slog.Attr{label(statusmanager.LogLabelOutcome, string(o)), slog.String(LogFieldStage, StageReconcile),
		slog.Bool("shared", shared), slog.Float64(LogFieldDuration, time.Since(start).Seconds()),
		slog.Int(LogFieldGitHubRequests, usage.Requests()), slog.Int(LogFieldGitHubPoints, usage.Points())}
	if id, rem, ok := usage.Remaining(); ok {
		attrs = append(attrs, slog.Int(LogFieldGitHubRemaining, rem), slog.Int64(LogFieldInstallationID, id))
	} else if req.InstallationID != 0 {
		attrs = append(attrs, slog.Int64(LogFieldInstallationID, req.InstallationID))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	log.LogAttrs(ctx, level, fmt.Sprintf("%s %s: %s", req.String(), "outcome", o), attrs...)
	return o, err
}

// rerunID is the external_id of the run a rerun delivery makes: a redelivery of the same
// rerun (after a crash, on another instance) finds it and does not make another.
func rerunID(req *events.Request) string { return "rerun:" + req.DeliveryID }

// run is one attempt at one request.
type run[T any] struct {
	w       *Worker[T]
	ctx     context.Context
	log     *slog.Logger
	req     *events.Request
	attempt int
	session *statusmanager.Session[T]
	// admitter admitted this attempt (nil: no admission by budget).
	admitter Admitter
	// deferred: the run was not written in_progress before the reconcile ended (it ended
	// within InProgressAfter), so a transient failure has no open run to note it on yet.
	deferred bool
}

// github bounds one status read or write; writes after the work was cancelled still get a
// short chance, so that a run is not left saying nothing.
func (r *run[T]) github() (context.Context, context.CancelFunc) {
	ctx := r.ctx
	d := r.w.githubTimeout()
	if ctx.Err() != nil {
		// Past the grace of a shutdown little time is left (Cloud Run kills 10 s after
		// SIGTERM): one short chance to leave the run saying something.
		ctx = context.WithoutCancel(ctx)
		d = min(d, 2*time.Second)
	}
	return context.WithTimeout(ctx, d)
}

func (r *run[T]) write(title string, st *statusmanager.Status[T]) error {
	ctx, cancel := r.github()
	defer cancel()
	return r.session.SetActualState(ctx, cutTitle(title), st)
}

func (r *run[T]) do() (Outcome, error) {
	req := r.req
	gh, err := r.w.Clients.Client(r.ctx, req.Resource.Owner, req.Resource.Repo, req.InstallationID)
	if err != nil {
		err = fmt.Errorf("github client for %s/%s: %w", req.Resource.Owner, req.Resource.Repo, err)
		if IsTransient(err) {
			return OutcomeRetry, err // no client: nothing can be written, not even a failure
		}
		return OutcomeFailed, err
	}
	if a, ok := r.w.Clients.(Admitter); ok {
		release, err := a.Admit(r.ctx, req.Resource.Owner, req.Resource.Repo, req.InstallationID, r.w.cost(req))
		if err != nil {
			// Nothing sent, nothing written: the message comes back after the backoff.
			r.log.Warn("not started, GitHub's budget does not allow it: " + err.Error())
			return OutcomeRetry, Transient(fmt.Errorf("admission: %w", err))
		}
		defer release()
		r.admitter = a
	}
	r.session = r.w.Manager.NewSession(gh, &req.Resource, req.SHA)
	r.session.SetRetry(IsTransient)

	ctx, cancel := r.github()
	st, err := r.session.ObservedState(ctx)
	cancel()
	if err != nil {
		return r.failed(fmt.Errorf("read status: %w", err), nil)
	}
	if r.completed(st) {
		r.log.Debug("already completed at this SHA", "conclusion", st.Conclusion)
		return OutcomeSkipped, nil
	}
	if req.Rerun {
		// The newest run is completed: the next write starts a new run, marked as this
		// rerun's. Or it is this rerun's own unfinished run (a crashed attempt), or another
		// unfinished one: the rerun finishes it rather than leave it open forever.
		r.session.SetExternalID(rerunID(req))
	}
	title := "Reconciling"
	if r.attempt > 1 {
		title = fmt.Sprintf("Reconciling (attempt %d)", r.attempt)
	}
	var slow *progress
	if after := r.w.inProgressAfter(); after < 0 {
		if err := r.write(title, &statusmanager.Status[T]{Status: statusmanager.StatusInProgress}); err != nil {
			return r.failed(fmt.Errorf("write in_progress status: %w", err), nil)
		}
	} else {
		// The run is created completed by one write, unless the reconcile outlasts after.
		slow = r.progressAfter(after, title)
		// Also when a panic unwinds past here: the failure write must come after it.
		defer slow.wait()
	}

	res, err := r.reconcile(gh)
	if slow != nil {
		// Never let the in_progress write land after the completed one: that would open a
		// new run.
		r.deferred = !slow.wait()
		defer slow.release()
	}
	if err != nil {
		return r.failed(err, res)
	}
	if res == nil {
		return r.failed(Permanent(errors.New("reconciler returned no result and no error")), nil)
	}
	conclusion := res.Conclusion
	if conclusion == "" {
		conclusion = statusmanager.ConclusionSuccess
	}
	if err := r.write(res.Title, &statusmanager.Status[T]{Status: statusmanager.StatusCompleted, Conclusion: conclusion, Details: res.Details}); err != nil {
		// The write may have taken effect though its answer was lost.
		if !r.landed() {
			return r.failed(fmt.Errorf("write completed status: %w", err), res)
		}
	}
	if r.ctx.Err() != nil {
		// The reconciler ignored the cancellation: its answer is written, but the message
		// is nacked as every cancelled one is (a push whose caller has gone, a shutdown past
		// its grace: an ack would not count). Its redelivery finds the commit completed.
		return OutcomeRetry, Transient(fmt.Errorf("result written after the message's context ended: %w", context.Cause(r.ctx)))
	}
	return OutcomeReconciled, nil
}

// progress is the in_progress write of a reconcile that outlasts InProgressAfter.
type progress struct {
	timer   *time.Timer
	done    chan struct{}
	wrote   bool
	release func() // of the budget point the write was admitted for
	waited  bool
}

// progressAfter writes the run in_progress, titled title, if the reconcile has not ended
// after d. The write costs a point the admission did not reserve: it is admitted on its own,
// and left out when the budget does not allow it, since only the completed write matters.
func (r *run[T]) progressAfter(d time.Duration, title string) *progress {
	p := &progress{done: make(chan struct{}), release: func() {}}
	p.timer = time.AfterFunc(d, func() {
		defer close(p.done)
		defer func() {
			// A bug here must not take the process: the completed write follows anyway.
			if v := recover(); v != nil {
				r.log.Error("panic while writing the in_progress status", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
		}()
		if r.ctx.Err() != nil {
			return // the reconcile is being cut short: what follows writes the run
		}
		if r.admitter != nil {
			req := r.req
			release, err := r.admitter.Admit(r.ctx, req.Resource.Owner, req.Resource.Repo, req.InstallationID, 1)
			if err != nil {
				r.log.Info("in_progress status not written, GitHub's budget does not allow it: " + err.Error())
				return
			}
			p.release = release
		}
		if err := r.write(title, &statusmanager.Status[T]{Status: statusmanager.StatusInProgress}); err != nil {
			// The completed write still follows; a lost answer only makes it re-read first.
			r.log.Warn("could not write the in_progress status", "error", err.Error())
			return
		}
		p.wrote = true
	})
	return p
}

// wait stops the timer, or waits for the write it started to end; it reports whether the
// run was written in_progress. Only the goroutine of the reconcile calls it, once or more.
func (p *progress) wait() bool {
	if !p.waited {
		p.waited = true
		if !p.timer.Stop() {
			<-p.done
		}
	}
	return p.wrote
}

// completed reports whether st says this request is done: completed at its SHA, and for a
// rerun, by a run this rerun made.
func (r *run[T]) completed(st *statusmanager.Status[T]) bool {
	if st == nil || st.Status != statusmanager.StatusCompleted || st.ObservedGeneration != r.req.SHA {
		return false
	}
	return !r.req.Rerun || events.ParseRunRef(r.session.CheckRun().GetExternalID()).Ref == rerunID(r.req)
}

// landed re-reads the status after a completed write that failed, whose outcome may be
// unknown (no answer): it reports whether the run is completed as this request wanted.
func (r *run[T]) landed() bool {
	ctx, cancel := r.github()
	defer cancel()
	st, err := r.session.ObservedState(ctx)
	return err == nil && r.completed(st)
}

// safely runs f (do or giveUp), turning a panic that escapes it into a permanent failure of
// the request, logged with its stack, so that one bad request never takes the process and
// every message in flight with it. The reconciler and its details' methods are guarded
// where they are called; this catches the rest of the caller's code the worker runs (the
// ClientFactory, the details' JSON decoding) and the worker's own bugs.
func (r *run[T]) safely(f func() (Outcome, error)) (o Outcome, err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		r.log.Error("panic while handling the request", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		o, err = OutcomeFailed, Permanent(Public(fmt.Errorf("panic: %v", p), "the worker panicked"))
		if r.session == nil {
			return
		}
		defer func() {
			if recover() != nil {
				o = OutcomeFailed // the failure write panicked too: acked, logged above
			}
		}()
		o, err = r.failed(err, nil)
	}()
	return f()
}

// giveUp completes the run as failed at the last delivery attempt, unless it is done.
func (r *run[T]) giveUp(cause error) (Outcome, error) {
	req := r.req
	gh, err := r.w.Clients.Client(r.ctx, req.Resource.Owner, req.Resource.Repo, req.InstallationID)
	if err != nil {
		return OutcomeRetry, errors.Join(cause, err)
	}
	r.session = r.w.Manager.NewSession(gh, &req.Resource, req.SHA)
	r.session.SetRetry(IsTransient)
	ctx, cancel := r.github()
	st, err := r.session.ObservedState(ctx)
	cancel()
	if err != nil {
		return OutcomeRetry, errors.Join(cause, err)
	}
	if r.completed(st) {
		return OutcomeSkipped, nil
	}
	if req.Rerun {
		r.session.SetExternalID(rerunID(req))
	}
	if cause == nil {
		cause = errors.New("transient failure")
	}
	return r.failed(Transient(cause), nil)
}

// reconcile runs the reconciler under the timeout, and under the message's deadline less
// the final writes' reserve, turning a panic into a permanent error.
func (r *run[T]) reconcile(gh *github.Client) (res *Result[T], err error) {
	deadline := time.Now().Add(r.w.timeout())
	if dl, ok := r.ctx.Deadline(); ok {
		deadline = earliest(deadline, dl.Add(-r.w.finalReserve()))
	}
	ctx, cancel := context.WithDeadline(withLogger(r.ctx, r.log), deadline)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("reconciler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res, err = nil, Permanent(Public(fmt.Errorf("panic: %v", p), "the reconciler panicked"))
		}
	}()
	res, err = r.w.Reconcile(ctx, r.req, gh)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// Cut short by the timeout or the shutdown: a timeout is transient by definition.
		err = Transient(fmt.Errorf("reconcile cut short (%v, timeout %s, message deadline less %s for the final writes): %w",
			context.Cause(ctx), r.w.timeout(), r.w.finalReserve(), err))
	default:
		err = reconcileError(err)
	}
	return res, err
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// failed handles an error of the attempt: transient → left in progress saying it will retry
// (nack), or completed as failed at the last attempt (ack); permanent → completed as failed
// (ack). res, when not nil, gives the details to write with the failure.
func (r *run[T]) failed(cause error, res *Result[T]) (Outcome, error) {
	var details T
	if res != nil {
		details = res.Details
	}
	var pe *statusmanager.PanicError
	if errors.As(cause, &pe) {
		r.log.Error("the details' "+pe.Method+" method panicked", "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	}
	max := r.w.maxAttempts()
	if IsTransient(cause) {
		if r.attempt < max {
			left := fmt.Sprintf("will retry (attempt %d of %d)", r.attempt, max)
			if run := r.session.CheckRun(); r.deferred || run != nil && run.GetStatus() != statusmanager.StatusCompleted {
				// Only on an open run we know of, or where the in_progress write was put off
				// (it would be open): never a new run just to say so. No details: their
				// annotations belong with the completed write.
				if err := r.write(publicTitle("Transient failure, "+left, cause), &statusmanager.Status[T]{Status: statusmanager.StatusInProgress}); err != nil {
					r.log.Warn("could not record the transient failure on the check run", "error", err.Error())
				}
			}
			return OutcomeRetry, cause
		}
		cause = fmt.Errorf("gave up after %d attempts: %w", r.attempt, cause)
		if err := r.writeFailure(publicTitle(fmt.Sprintf("gave up after %d attempts", r.attempt), cause), cause, true, details); err != nil {
			return OutcomeRetry, errors.Join(cause, fmt.Errorf("write failure status: %w", err))
		}
		return OutcomeGaveUp, cause
	}
	err := r.writeFailure(publicTitle("Failed", cause), cause, false, details)
	if err != nil && res != nil {
		// The details themselves may be what GitHub refuses (too large, bad annotations).
		var zero T
		err = r.writeFailure(publicTitle("Failed", cause), cause, false, zero)
	}
	if err != nil {
		if IsTransient(err) && r.attempt < max {
			return OutcomeRetry, errors.Join(cause, fmt.Errorf("write failure status: %w", err))
		}
		r.log.Error("could not record the permanent failure on the check run; acking anyway", "error", err.Error())
		return OutcomeFailed, errors.Join(cause, fmt.Errorf("write failure status: %w", err))
	}
	return OutcomeFailed, cause
}

// cutTitle keeps a check run title readable: one line, at most 200 runes.
func cutTitle(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 200
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
