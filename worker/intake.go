package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/statusmanager"
)

// DefaultPublishTimeout bounds the publishing of one intake message's requests.
const DefaultPublishTimeout = time.Minute

// Publisher publishes to the reconcile topic. *pubsub.Publisher implements it. It must have
// EnableMessageOrdering set, or messages with an ordering key are refused.
type Publisher interface {
	Publish(ctx context.Context, msg *pubsub.Message) *pubsub.PublishResult
	// ResumePublish lets publishing on key go on after a failure. Until then the Go client
	// refuses every later message of that key, to keep the key's order.
	ResumePublish(key string)
}

// Intake is the intake stage, the first of the two. It decodes relay events and reconcile
// requests, and publishes each request to the reconcile topic with its commit as the
// ordering key. The ordered subscription then hands out one message per commit at a time
// across every instance.
//
// Invalid messages are nacked, and events that ask for no reconcile are acked as ignored. A
// message is acked only after every publish succeeded. Set the fields before the first
// call. An Intake is then safe for concurrent use.
type Intake struct {
	// Publisher publishes to the reconcile topic (required).
	Publisher Publisher
	// Decoder turns messages into requests (required). It must name our App and check run
	// (AppID, Identity). Without them, a Re-run of another App's check run would be
	// forwarded as a rerun of ours. Worker.Intake makes an Intake with the worker's decoder.
	Decoder *events.Decoder
	// Logger receives one record per message. nil means slog.Default().
	Logger *slog.Logger
	// PublishTimeout bounds publishing one message's requests. 0 means
	// DefaultPublishTimeout.
	PublishTimeout time.Duration
	// OnOutcome, when set, is called once per handled message with its outcome, before the
	// transport acks or nacks it.
	OnOutcome func(m *events.Message, o Outcome, err error)
}

// Validate reports a configuration Handle cannot work with: no Publisher, or a Decoder that
// does not name our App and check run.
func (in *Intake) Validate() error {
	if in == nil {
		return errors.New("worker: nil Intake")
	}
	var errs []error
	if in.Publisher == nil {
		errs = append(errs, errors.New("Intake.Publisher is required"))
	}
	if in.Decoder == nil || in.Decoder.AppID == 0 || in.Decoder.Identity == "" {
		errs = append(errs, errors.New("Intake.Decoder must name our App and check run (AppID, Identity): without them a Re-run of another App's check would be forwarded as ours"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

// Intake returns the intake stage of this worker. It publishes to pub, with the worker's
// decoder (its App and check run name) and logger.
func (w *Worker[T]) Intake(pub Publisher) *Intake {
	w.init()
	return &Intake{Publisher: pub, Decoder: w.decoder, Logger: w.Logger}
}

func (in *Intake) logger() *slog.Logger {
	if in.Logger != nil {
		return in.Logger
	}
	return slog.Default()
}

// Handle decodes m and publishes its requests. The outcome is forwarded, ignored, invalid or
// retry. Retry means a publish failed, and the message comes again. The requests that were
// published are then published twice, and the reconcile stage skips the second.
func (in *Intake) Handle(ctx context.Context, m *events.Message) (o Outcome, err error) {
	if in.OnOutcome != nil {
		defer func() { in.OnOutcome(m, o, err) }()
	}
	log := in.logger()
	if err := in.Validate(); err != nil {
		return OutcomeRetry, err
	}
	res, o, err := decode(ctx, log, in.Decoder, m, StageIntake)
	if o != "" {
		return o, err
	}
	timeout := in.PublishTimeout
	if timeout <= 0 {
		timeout = DefaultPublishTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	results := make([]*pubsub.PublishResult, len(res.Requests))
	for i := range res.Requests {
		req := &res.Requests[i]
		data, err := req.MarshalJSON()
		if err != nil {
			return OutcomeRetry, fmt.Errorf("intake: encode %s: %w", req, err)
		}
		results[i] = in.Publisher.Publish(pctx, &pubsub.Message{Data: data, OrderingKey: req.OrderingKey()})
	}
	ids := make([]string, len(results))
	errs := make([]error, len(results))
	var wg sync.WaitGroup
	for i, r := range results {
		wg.Go(func() { ids[i], errs[i] = r.Get(pctx) })
	}
	wg.Wait()
	for i, e := range errs {
		if e == nil {
			continue
		}
		key := res.Requests[i].OrderingKey()
		// The client holds every later message of the key until this is called. The failed
		// one is published again when the intake message comes back.
		in.Publisher.ResumePublish(key)
		errs[i] = fmt.Errorf("intake: publish %s (ordering key %s): %w", res.Requests[i].String(), key, e)
	}
	if err := errors.Join(errs...); err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "intake: publish failed: nacked, the message comes again",
			label(statusmanager.LogLabelDeliveryID, m.ID), label(statusmanager.LogLabelOutcome, string(OutcomeRetry)),
			slog.String(LogFieldStage, StageIntake), slog.String("message_id", m.ID), slog.String("error", err.Error()))
		return OutcomeRetry, err
	}
	for i := range res.Requests {
		req := &res.Requests[i]
		log.LogAttrs(ctx, slog.LevelInfo, req.String()+" forwarded to the reconcile topic",
			label(statusmanager.LogLabelPRURL, req.Resource.URL), label(statusmanager.LogLabelSHA, req.SHA),
			label(statusmanager.LogLabelDeliveryID, req.DeliveryID), label(statusmanager.LogLabelOutcome, string(OutcomeForwarded)),
			slog.String(LogFieldStage, StageIntake), slog.String("message_id", m.ID), slog.String("ordering_key", req.OrderingKey()),
			slog.String("reconcile_message_id", ids[i]), slog.Bool("rerun", req.Rerun))
	}
	return OutcomeForwarded, nil
}

// refuse records a message its transport could not unwrap (err) as invalid.
func (in *Intake) refuse(ctx context.Context, m *events.Message, err error) (o Outcome, _ error) {
	if in.OnOutcome != nil {
		defer func() { in.OnOutcome(m, o, err) }()
	}
	logInvalid(ctx, in.logger(), m, err, StageIntake)
	return OutcomeInvalid, err
}

// PushHandler returns the intake's push endpoint alone. A POST on any path handles one
// pushed message, as Worker.PushHandler's POST /intake does. PushHandler panics when the
// Intake is misconfigured (see Validate).
func (in *Intake) PushHandler(opts PushOptions) http.Handler {
	if err := in.Validate(); err != nil {
		panic(err)
	}
	return newPushEndpoint(in.logger(), opts, 0, in.Handle, in.refuse)
}

// Pull receives messages from an intake subscription until ctx is cancelled. It handles each
// with Handle and acks or nacks it, with the shutdown behaviour of Worker.Pull.
func (in *Intake) Pull(ctx context.Context, sub *pubsub.Subscriber, opts PullOptions) error {
	if err := in.Validate(); err != nil {
		return err
	}
	if opts.MaxExtension <= 0 {
		opts.MaxExtension = DefaultPublishTimeout + time.Minute
	}
	return pull(ctx, sub, opts, in.logger(), in.Handle)
}

// ServeListener serves the intake's push endpoint alone on l until ctx is cancelled, with
// the shutdown behaviour of Worker.ServeListener. It closes l.
func (in *Intake) ServeListener(ctx context.Context, l net.Listener, opts PushOptions) error {
	if err := in.Validate(); err != nil {
		l.Close()
		return err
	}
	return serve(ctx, l, in.PushHandler(opts), opts.ShutdownGrace, in.logger())
}
