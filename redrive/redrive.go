// Package redrive moves messages from a dead-letter subscription back to the topics they
// came from, so that the worker handles them again once the cause (an outage) is gone.
//
// Pub/Sub gives a dead-lettered message CloudPubSubDeadLetterSource* attributes naming the
// subscription it was delivered on; that subscription's topic is where the message goes
// back. A reconcile request (the reconcile topic's messages) is published again with its
// commit as ordering key, so it is serialized with every other delivery for the commit; a
// relay event (an intake subscription's) goes back as it was, attributes included. A
// message is acknowledged on the dead-letter subscription only after its publish succeeded.
package redrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/prreconciler/prreconciler/events"
)

// The attributes Pub/Sub adds to a message it dead-letters.
const (
	AttrSourceSubscription        = "CloudPubSubDeadLetterSourceSubscription"
	AttrSourceSubscriptionProject = "CloudPubSubDeadLetterSourceSubscriptionProject"
	AttrSourceDeliveryCount       = "CloudPubSubDeadLetterSourceDeliveryCount"
	attrPrefix                    = "CloudPubSubDeadLetter"
)

// DefaultIdle is how long Run waits for another message before it decides the
// subscription is drained.
const DefaultIdle = 10 * time.Second

// Options configures Run. The zero value redrives every message that decodes.
type Options struct {
	// DryRun lists what would be redriven and publishes and acknowledges nothing.
	DryRun bool
	// Limit stops after this many messages were seen; 0 means no limit.
	Limit int
	// IncludeInvalid also redrives messages the decoder refuses; by default they stay on
	// the dead-letter subscription (they would only be refused again), and are listed.
	IncludeInvalid bool
	// Decoder reads the messages to describe them and to find a request's ordering key; nil
	// means the zero Decoder. Give it the worker's relay type prefix.
	Decoder *events.Decoder
	// Idle is how long to wait for another message before stopping; 0 means DefaultIdle.
	Idle time.Duration
	// Progress, when set, receives a line per message and a last summary line.
	Progress io.Writer
}

// Entry is what Run did with one dead-lettered message.
type Entry struct {
	// MessageID is the message's id on the dead-letter subscription.
	MessageID string
	// Source is the subscription it was dead-lettered from, and Topic that subscription's topic.
	Source, Topic string
	// Deliveries is how many times it had been delivered before it was dead-lettered.
	Deliveries int
	// What describes the message: its requests, or why the decoder refuses it.
	What string
	// Reason is why it was left, when it was (invalid, no source, a failed publish).
	Reason string
	// OrderingKey is the key it was (or would be) published with, "" for none.
	OrderingKey string
	// Redriven is true when it was published to Topic and acknowledged.
	Redriven bool
}

// Report is the outcome of a Run.
type Report struct {
	Entries           []Entry
	Redriven, Skipped int
}

// Run drains the dead-letter subscription deadLetterSub (a full name) with c, redriving each
// message to its source subscription's topic, until no message arrived for opts.Idle, or
// opts.Limit messages were seen, or ctx ends. Messages that are not redriven are nacked, so
// they stay on the dead-letter subscription. It returns what it did with each message.
func Run(ctx context.Context, c *pubsub.Client, deadLetterSub string, opts Options) (*Report, error) {
	idle := opts.Idle
	if idle <= 0 {
		idle = DefaultIdle
	}
	r := &runner{c: c, opts: opts, topics: map[string]*source{}, publishers: map[string]*pubsub.Publisher{}, seen: map[string]bool{}}
	defer r.stop()

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	activity := make(chan struct{}, 1)
	go func() {
		t := time.NewTimer(idle)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-activity:
				t.Reset(idle)
			case <-t.C:
				cancel()
				return
			}
		}
	}()
	sub := c.Subscriber(deadLetterSub)
	sub.ReceiveSettings.MaxOutstandingMessages = 10
	err := sub.Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		// A message taken in is finished: its lookups and publish use the caller's ctx, not
		// the receive's, which the idle timer or the limit reached by another message cancels
		// (Receive waits for this callback before it returns).
		e, first, done := r.handle(ctx, m)
		if !first {
			// Seen already in this run (a nacked message comes straight back): left alone,
			// and not activity, or a dry run would never find the subscription drained.
			m.Nack()
			return
		}
		select {
		case activity <- struct{}{}:
		default:
		}
		if e.Redriven {
			m.Ack()
		} else {
			m.Nack()
		}
		r.progress(e)
		if done {
			cancel()
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return r.report(), fmt.Errorf("redrive: receive from %s: %w", deadLetterSub, err)
	}
	rep := r.report()
	if w := opts.Progress; w != nil {
		verb := "redriven"
		if opts.DryRun {
			verb = "would be redriven"
		}
		fmt.Fprintf(w, "%d messages seen: %d %s, %d left on %s\n", len(rep.Entries), rep.Redriven, verb, rep.Skipped, deadLetterSub)
	}
	return rep, ctx.Err()
}

// source is a subscription messages were dead-lettered from.
type source struct {
	topic string
	err   error
}

type runner struct {
	c    *pubsub.Client
	opts Options

	mu         sync.Mutex
	topics     map[string]*source // subscription → its topic
	publishers map[string]*pubsub.Publisher
	seen       map[string]bool
	entries    []Entry
}

// handle decides and (unless a dry run) redrives one message. first is false for a message
// this run saw already; done is true once the limit is reached.
func (r *runner) handle(ctx context.Context, m *pubsub.Message) (e Entry, first, done bool) {
	r.mu.Lock()
	if r.seen[m.ID] || (r.opts.Limit > 0 && len(r.seen) >= r.opts.Limit) {
		r.mu.Unlock()
		return Entry{}, false, r.opts.Limit > 0 && len(r.seen) >= r.opts.Limit
	}
	r.seen[m.ID] = true
	done = r.opts.Limit > 0 && len(r.seen) >= r.opts.Limit
	r.mu.Unlock()

	e = Entry{MessageID: m.ID}
	e.Deliveries, _ = strconv.Atoi(m.Attributes[AttrSourceDeliveryCount])
	defer func() {
		r.mu.Lock()
		r.entries = append(r.entries, e)
		r.mu.Unlock()
	}()

	attrs := maps.Clone(m.Attributes)
	for k := range attrs {
		if strings.HasPrefix(k, attrPrefix) {
			delete(attrs, k)
		}
	}
	res, derr := r.opts.Decoder.Decode(&events.Message{ID: m.ID, Data: m.Data, Attributes: attrs})
	switch {
	case derr != nil:
		e.What = "invalid: " + derr.Error()
	case len(res.Requests) == 0:
		e.What = "ignored: " + res.Ignored
	default:
		var names []string
		for _, q := range res.Requests {
			names = append(names, q.String())
		}
		e.What = strings.Join(names, ", ")
	}

	sub := m.Attributes[AttrSourceSubscription]
	if sub == "" {
		e.Reason = "no " + AttrSourceSubscription + " attribute: not dead-lettered by Pub/Sub"
		return e, true, done
	}
	if !strings.HasPrefix(sub, "projects/") {
		project := m.Attributes[AttrSourceSubscriptionProject]
		if project == "" {
			project = r.c.Project()
		}
		sub = "projects/" + project + "/subscriptions/" + sub
	}
	e.Source = sub
	src := r.source(ctx, sub)
	if src.err != nil {
		e.Reason = src.err.Error()
		return e, true, done
	}
	e.Topic = src.topic
	if derr != nil && !r.opts.IncludeInvalid {
		e.Reason = "invalid: it would only be refused again (IncludeInvalid redrives it)"
		return e, true, done
	}
	if _, event := attrs["ce-type"]; derr == nil && !event && len(res.Requests) == 1 {
		// A reconcile request: serialized with its commit's other deliveries.
		e.OrderingKey = res.Requests[0].OrderingKey()
	}
	if r.opts.DryRun {
		return e, true, done
	}
	id, err := r.publisher(src.topic).Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: attrs, OrderingKey: e.OrderingKey}).Get(ctx)
	if err != nil {
		if e.OrderingKey != "" {
			r.publisher(src.topic).ResumePublish(e.OrderingKey)
		}
		e.Reason = fmt.Sprintf("publish to %s: %v", src.topic, err)
		return e, true, done
	}
	e.Redriven = true
	e.Reason = "published as " + id
	return e, true, done
}

// source looks up a subscription's topic and ordering, once per subscription.
func (r *runner) source(ctx context.Context, sub string) *source {
	r.mu.Lock()
	s, ok := r.topics[sub]
	r.mu.Unlock()
	if ok {
		return s
	}
	s = &source{}
	got, err := r.c.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: sub})
	switch {
	case err != nil:
		s.err = fmt.Errorf("look up the source subscription %s: %w", sub, err)
	case got.GetTopic() == "_deleted-topic_" || got.GetTopic() == "":
		s.err = fmt.Errorf("the source subscription %s has no topic any more", sub)
	default:
		s.topic = got.GetTopic()
	}
	r.mu.Lock()
	r.topics[sub] = s
	r.mu.Unlock()
	return s
}

func (r *runner) publisher(topic string) *pubsub.Publisher {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.publishers[topic]
	if !ok {
		p = r.c.Publisher(topic)
		p.EnableMessageOrdering = true // messages without a key are not ordered by it
		r.publishers[topic] = p
	}
	return p
}

func (r *runner) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.publishers {
		p.Stop()
	}
}

func (r *runner) progress(e Entry) {
	w := r.opts.Progress
	if w == nil {
		return
	}
	// Callbacks run concurrently: one line at a time, numbered in order.
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.entries)
	state := "left"
	switch {
	case e.Redriven:
		state = "redriven"
	case r.opts.DryRun && e.Reason == "":
		state = "would redrive"
	}
	line := fmt.Sprintf("[%d] %s message %s (%s, %d deliveries): %s", n, state, e.MessageID, e.Source, e.Deliveries, e.What)
	if e.Topic != "" {
		line += " → " + e.Topic
	}
	if e.OrderingKey != "" {
		line += " key " + e.OrderingKey
	}
	if e.Reason != "" && !e.Redriven {
		line += "; " + e.Reason
	}
	fmt.Fprintln(w, line)
}

func (r *runner) report() *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{Entries: append([]Entry(nil), r.entries...)}
	for _, e := range rep.Entries {
		if e.Redriven || (r.opts.DryRun && e.Reason == "") {
			rep.Redriven++
		} else {
			rep.Skipped++
		}
	}
	return rep
}
