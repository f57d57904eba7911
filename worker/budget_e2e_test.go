package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/logbuf"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
	"github.com/prreconciler/prreconciler/redrive"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// TestBudgetRunsOutThenResets: an installation's GitHub budget runs out in the middle of a
// stream of commits and comes back at its reset. The worker admits a commit only when the
// budget covers finishing it, so: GitHub never refuses a request for the primary limit, no
// run is left in progress, nothing is dead-lettered (the reset is inside the retry window),
// and every commit ends with one completed run.
func TestBudgetRunsOutThenResets(t *testing.T) {
	t.Parallel()
	const (
		commits = 10
		limit   = 30 // points a window; a reconcile here costs 4
		window  = 15 * time.Second
	)
	ctx := context.Background()
	emu := pubsubemu.Shared(t)
	ps, err := emu.Client(ctx, emu.Project("budget"))
	if err != nil {
		t.Fatal(err)
	}
	topic, err := pubsubemu.CreateTopic(ctx, ps, "reconcile")
	if err != nil {
		t.Fatal(err)
	}
	dlqTopic, dlq, err := pubsubemu.DeadLetter(ctx, ps, "dead-letter")
	if err != nil {
		t.Fatal(err)
	}
	// 30 attempts 1 s to 2 s apart: a retry window of about a minute, longer than the reset.
	// Not ordered: on an ordered subscription the emulator ignores the retry policy of pull
	// nacks (30 attempts in under 15 s, seen here) and breaks the stream when it dead-letters.
	sub, err := pubsubemu.CreateSubscription(ctx, ps, pubsubemu.SubscriptionConfig{ID: "reconcile", Topic: topic,
		AckDeadline: 60 * time.Second, DeadLetterTopic: dlqTopic, MaxDeliveryAttempts: 30, MinBackoff: time.Second, MaxBackoff: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	gh := githubtest.NewTestServer(t, githubtest.WithRateLimit(limit), githubtest.WithRateLimitWindow(window))
	sha := func(i int) string { return fmt.Sprintf("%040x", 0xb0d6e7000+i) }
	for i := 1; i <= commits; i++ {
		gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: i, HeadSHA: sha(i),
			Files: []githubtest.File{{Filename: "README.md", Patch: "@@ -0,0 +1 @@\n+hello"}}})
	}
	factory, err := githubapp.New(gh.App().ID, gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: gh.URL() + "/",
		RetryBudget: 2 * time.Second, BudgetReserve: 4, ResetJitter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := statusmanager.NewStatusManager[notes](ctx, identity, statusmanager.WithAppID(gh.App().ID), statusmanager.WithoutDetailsURL())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	refused := 0
	logs := &logbuf.Buffer{}
	w := &worker.Worker[notes]{
		Manager: sm, Clients: factory, Reconcile: succeed, MaxDeliveryAttempts: 30,
		Cost:   func(*events.Request) int { return 1 }, // succeed lists the files: one request
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		OnOutcome: func(_ *events.Message, o worker.Outcome, err error) {
			var be *githubapp.BudgetError
			if o == worker.OutcomeRetry && errors.As(err, &be) {
				mu.Lock()
				refused++
				mu.Unlock()
			}
		},
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Pull(wctx, ps.Subscriber(sub), worker.PullOptions{MaxInFlight: 10}) }()
	t.Cleanup(func() { stop(); <-done })

	pub := ps.Publisher(topic)
	pub.EnableMessageOrdering = true
	t.Cleanup(pub.Stop)
	start := time.Now()
	var results []*pubsub.PublishResult
	for i := 1; i <= commits; i++ {
		req := events.Request{Resource: events.Resource{Owner: owner, Repo: repo, URL: prURL(i)}, SHA: sha(i)}
		data, _ := req.MarshalJSON()
		results = append(results, pub.Publish(ctx, &pubsub.Message{Data: data, OrderingKey: req.OrderingKey()}))
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		completed := 0
		for i := 1; i <= commits; i++ {
			if rs := gh.CheckRuns(owner, repo, sha(i)); len(rs) > 0 && rs[len(rs)-1].Status == "completed" {
				completed++
			}
		}
		if completed == commits {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d commits completed after 3 minutes", completed, commits)
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)

	mu.Lock()
	t.Logf("%d commits in %s with %d points a %s window: %d deliveries refused by the admission, %d requests, %d points",
		commits, took.Round(time.Millisecond), limit, window, refused, len(gh.Requests()), gh.RateLimitUsed())
	if refused == 0 {
		t.Error("no delivery was refused: the budget never ran out, the test proves nothing")
	}
	mu.Unlock()
	for i := 1; i <= commits; i++ {
		rs := gh.CheckRuns(owner, repo, sha(i))
		if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "success" {
			t.Errorf("commit %d: runs %+v; want one completed success", i, rs)
		}
	}
	for _, q := range gh.Requests() {
		if q.Status == http.StatusForbidden || q.Status == http.StatusTooManyRequests {
			t.Errorf("GitHub refused %s %s (%d): a request was sent while the budget was known to be spent", q.Method, q.Path, q.Status)
		}
	}
	rep, err := redrive.Run(ctx, ps, dlq, redrive.Options{DryRun: true, Idle: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Entries) != 0 {
		t.Errorf("%d messages were dead-lettered while the reset was inside the retry window", len(rep.Entries))
	}
	if !strings.Contains(logs.String(), "rate limit budget spent") {
		t.Error("the worker did not log that the budget was spent and when it returns")
	}
}
