package worker

import (
	"context"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/prreconciler/prreconciler/events"
)

// DefaultMaxAckExtension is the longest single lease extension Pull asks for.
const DefaultMaxAckExtension = 30 * time.Second

// PullOptions configures Pull.
type PullOptions struct {
	// MaxInFlight bounds the messages handled at once (ReceiveSettings.MaxOutstandingMessages);
	// 0 means 10.
	MaxInFlight int
	// MaxExtension is how long the client keeps extending a message's lease while it is
	// handled (ReceiveSettings.MaxExtension); 0 means the longest a message can take: Timeout,
	// four status reads and writes of GitHubTimeout, and a minute to spare. A shorter lease
	// would let Pub/Sub hand the message to another worker while this one still writes.
	MaxExtension time.Duration
	// MaxAckExtension caps one lease extension (ReceiveSettings.MaxDurationPerAckExtension):
	// it bounds how long messages a crashed or stopped worker had pulled stay invisible
	// before Pub/Sub delivers them again. 0 means DefaultMaxAckExtension.
	MaxAckExtension time.Duration
	// ShutdownGrace is how long in-flight messages may finish after ctx is cancelled; then
	// their work is cancelled and they are nacked. 0 means DefaultShutdownGrace.
	ShutdownGrace time.Duration
}

// Pull receives messages from sub until ctx is cancelled, handling each with Handle and
// acking or nacking it in the handler. GitHub work never runs under Receive's context, which
// is cancelled at shutdown: it runs under a context detached from it, cancelled only
// ShutdownGrace after ctx, so that in-flight work finishes (and is acked) within the grace
// and is nacked after it. Pull sets sub.ReceiveSettings' MaxOutstandingMessages,
// MaxExtension and ShutdownOptions, and returns when every handler has returned: nil after
// a shutdown, or Receive's error.
func (w *Worker[T]) Pull(ctx context.Context, sub *pubsub.Subscriber, opts PullOptions) error {
	n := opts.MaxInFlight
	if n <= 0 {
		n = 10
	}
	ext := opts.MaxExtension
	if ext <= 0 {
		ext = w.timeout() + 4*w.githubTimeout() + time.Minute
	}
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
		w.logger().Info("shutting down the pull subscriber", "subscription", sub.String(), "grace", grace)
		t := time.AfterFunc(grace, func() { cancelWork(errShutdown) })
		context.AfterFunc(work, func() { t.Stop() })
	})
	defer stop()

	var handlers sync.WaitGroup
	err := sub.Receive(ctx, func(_ context.Context, pm *pubsub.Message) {
		handlers.Add(1)
		defer handlers.Done()
		m := &events.Message{ID: pm.ID, Data: pm.Data, Attributes: pm.Attributes, PublishTime: pm.PublishTime}
		if pm.DeliveryAttempt != nil {
			m.DeliveryAttempt = *pm.DeliveryAttempt
		}
		if o, _ := w.Handle(work, m); o.Ack() {
			pm.Ack()
		} else {
			pm.Nack()
		}
	})
	// Receive may stop waiting for handlers after its shutdown timeout; this does not.
	handlers.Wait()
	return err
}
