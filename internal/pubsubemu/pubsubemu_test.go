package pubsubemu

import (
	"context"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

// TestDeadLetter publishes one message to a pull subscription with a dead-letter policy,
// nacks every delivery, and sees it arrive on the dead-letter topic after 5 attempts.
func TestDeadLetter(t *testing.T) {
	e := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := e.Client(ctx, e.Project("emu-proj"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"in-topic", "dead-topic"} {
		if _, err := CreateTopic(ctx, c, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CreateSubscription(ctx, c, SubscriptionConfig{ID: "dead-sub", Topic: "dead-topic"}); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateSubscription(ctx, c, SubscriptionConfig{ID: "in-sub", Topic: "in-topic", DeadLetterTopic: "dead-topic",
		MaxDeliveryAttempts: 5, MinBackoff: 0, MaxBackoff: time.Second}); err != nil {
		t.Fatal(err)
	}
	id, err := Publish(ctx, c, "in-topic", []byte("bad"), map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}

	rctx, rcancel := context.WithCancel(ctx)
	attempts := make(chan int, 100)
	go func() {
		_ = c.Subscriber("in-sub").Receive(rctx, func(_ context.Context, m *pubsub.Message) {
			if m.DeliveryAttempt != nil {
				attempts <- *m.DeliveryAttempt
			}
			m.Nack()
		})
	}()
	got := make(chan *pubsub.Message, 1)
	dctx, dcancel := context.WithCancel(ctx)
	go func() {
		_ = c.Subscriber("dead-sub").Receive(dctx, func(_ context.Context, m *pubsub.Message) {
			m.Ack()
			select {
			case got <- m:
			default:
			}
		})
	}()
	var m *pubsub.Message
	select {
	case m = <-got:
	case <-ctx.Done():
		t.Fatal("message never reached the dead-letter topic")
	}
	rcancel()
	dcancel()
	if string(m.Data) != "bad" || m.Attributes["k"] != "v" {
		t.Errorf("dead-lettered message = %q %v, want the original data and attributes", m.Data, m.Attributes)
	}
	max := 0
	for len(attempts) > 0 {
		if a := <-attempts; a > max {
			max = a
		}
	}
	if max != 5 {
		t.Errorf("highest delivery attempt seen = %d, want 5 (message %s)", max, id)
	}
}
