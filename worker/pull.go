package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/prreconciler/prreconciler/events"
)

// DefaultMaxAckExtension is the longest single lease extension Pull asks for.
const DefaultMaxAckExtension = 30 * time.Second

// PullOptions configures Pull.
type PullOptions struct {
	// MaxInFlight bounds the messages handled at once (ReceiveSettings.MaxOutstandingMessages).
	// 0 means 10.
	MaxInFlight int
	// MaxExtension is how long the client keeps extending a message's lease while it is
	// handled (ReceiveSettings.MaxExtension). Less a margin, it is also the deadline of the
	// message's work, because past it Pub/Sub may hand the message to another subscriber.
	// 0 means the worker's AckDeadline, or two minutes for the intake.
	MaxExtension time.Duration
	// MaxAckExtension caps one lease extension (ReceiveSettings.MaxDurationPerAckExtension).
	// It bounds how long the messages that a crashed or stopped worker had pulled stay
	// invisible before Pub/Sub delivers them again. 0 means DefaultMaxAckExtension.
	MaxAckExtension time.Duration
	// ShutdownGrace is how long in-flight messages may finish after ctx is cancelled. Then
	// their work is cancelled and they are nacked. 0 means DefaultShutdownGrace.
	ShutdownGrace time.Duration
}

// Pull receives messages from sub until ctx is cancelled, and acks or nacks each as Handle
// decides. It returns when every handler has returned: nil after a shutdown, or Receive's
// error. It refuses to start when the worker is misconfigured.
//
// At shutdown, work in flight may finish within ShutdownGrace, and is nacked after it. Each
// message's work ends at MaxExtension, less a margin, from its receipt, while the client
// still holds its lease. Pull sets sub.ReceiveSettings' MaxOutstandingMessages, MaxExtension,
// MaxDurationPerAckExtension and ShutdownOptions.
//
// On an ordered subscription, Pub/Sub hands out the next message of a commit only after
// this one is answered. So across every instance, one reconcile per commit runs at a time.
func (w *Worker[T]) Pull(ctx context.Context, sub *pubsub.Subscriber, opts PullOptions) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if opts.MaxExtension <= 0 {
		opts.MaxExtension = w.ackDeadline()
	}
	return pull(ctx, sub, opts, w.logger(), w.Handle)
}

// pull is Pull for any stage's handler.
func pull(ctx context.Context, sub *pubsub.Subscriber, opts PullOptions, log *slog.Logger, handle func(context.Context, *events.Message) (Outcome, error)) error {
	n := opts.MaxInFlight
	if n <= 0 {
		n = 10
	}
	ext := opts.MaxExtension
	grace := opts.ShutdownGrace
	if grace <= 0 {
		grace = DefaultShutdownGrace
	}
	ackExt := opts.MaxAckExtension
	if ackExt <= 0 {
		ackExt = DefaultMaxAckExtension
	}
	sub.ReceiveSettings.MaxOutstandingMessages = n
	sub.ReceiveSettings.MaxExtension = ext
	// Without a cap the client extends leases by the 99th percentile of its ack times, up to
	// 10 minutes: after a crash its messages would wait that long.
	sub.ReceiveSettings.MaxDurationPerAckExtension = ackExt
	sub.ReceiveSettings.ShutdownOptions = &pubsub.ShutdownOptions{
		Behavior: pubsub.ShutdownBehaviorWaitForProcessing,
		Timeout:  grace + 5*time.Second, // handlers stop at grace; this leaves time to flush their nacks
	}

	// work is the context of every handler's work: not cancelled with ctx, but grace after it.
	work, cancelWork := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelWork(nil)
	stop := context.AfterFunc(ctx, func() {
		log.Info("shutting down the pull subscriber", "subscription", sub.String(), "grace", grace)
		t := time.AfterFunc(grace, func() { cancelWork(errShutdown) })
		context.AfterFunc(work, func() { t.Stop() })
	})
	defer stop()

	var handlers sync.WaitGroup
	err := sub.Receive(ctx, func(_ context.Context, pm *pubsub.Message) {
		handlers.Add(1)
		defer handlers.Done()
		mctx, cancel := context.WithDeadline(work, messageDeadline(time.Now(), ext))
		defer cancel()
		m := &events.Message{ID: pm.ID, Data: pm.Data, Attributes: pm.Attributes, PublishTime: pm.PublishTime, OrderingKey: pm.OrderingKey}
		if pm.DeliveryAttempt != nil {
			m.DeliveryAttempt = *pm.DeliveryAttempt
		}
		if o, _ := handle(mctx, m); o.Ack() {
			pm.Ack()
		} else {
			pm.Nack()
		}
	})
	// Receive may stop waiting for handlers after its shutdown timeout. This wait does not.
	handlers.Wait()
	return err
}
