package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/statusmanager"
)

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

// Handle processes one message and returns its outcome. The message may be acked exactly
// when the outcome's Ack is true. The error explains a failed, retried, abandoned or invalid
// message. Both transports call Handle.
//
// A message that decodes into several requests is acked only when every request was. Its
// outcome is the first of these that any request had: retry, gave_up, failed, reconciled,
// skipped.
//
// The work ends at AckDeadline, less a margin, or at ctx's deadline when that is earlier. The
// reconciler is stopped early enough for the final writes to fit. When ctx is cancelled, the
// message is nacked. A result the reconciler still returns is written, so that the
// redelivery finds the commit completed.
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
// no request, it logs why and returns the outcome: invalid (nacked, so that the dead-letter
// policy moves it) or ignored (acked). Otherwise the outcome is "".
func decode(ctx context.Context, log *slog.Logger, d *events.Decoder, m *events.Message, stage string) (events.Result, Outcome, error) {
	prefix := ""
	if stage == StageIntake {
		prefix = "intake: "
	}
	res, err := d.Decode(m)
	if err != nil {
		logInvalid(ctx, log, m, err, stage)
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

// logInvalid logs that m is invalid, and why (err), for a stage.
func logInvalid(ctx context.Context, log *slog.Logger, m *events.Message, err error, stage string) {
	prefix := ""
	if stage == StageIntake {
		prefix = "intake: "
	}
	log.LogAttrs(ctx, slog.LevelError, prefix+"invalid message: nacked so that the dead-letter policy moves it",
		label(statusmanager.LogLabelDeliveryID, m.ID), label(statusmanager.LogLabelOutcome, string(OutcomeInvalid)),
		slog.String(LogFieldStage, stage), slog.String("message_id", m.ID), slog.String("reason", err.Error()),
		slog.Int("delivery_attempt", m.DeliveryAttempt))
}

// refuse records a message its transport could not unwrap (err) as invalid.
func (w *Worker[T]) refuse(ctx context.Context, m *events.Message, err error) (o Outcome, _ error) {
	w.init()
	if w.OnOutcome != nil {
		defer func() { w.OnOutcome(m, o, err) }()
	}
	logInvalid(ctx, w.logger(), m, err, StageReconcile)
	return OutcomeInvalid, err
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
		// usage is what this delivery's own runs spend of GitHub. A delivery that joins
		// another's flight spends nothing, and logs so.
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

// rerunID is the external_id of the run a rerun delivery makes. A redelivery of the same
// rerun, after a crash or on another instance, finds that run and does not make another.
func rerunID(req *events.Request) string { return "rerun:" + req.DeliveryID }
