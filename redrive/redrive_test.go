package redrive_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
	"github.com/prreconciler/prreconciler/redrive"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

func TestMain(m *testing.M) { os.Exit(pubsubemu.Run(m)) }

const (
	owner    = "octo-org"
	repo     = "hello-world"
	identity = "outage-test"
	attempts = 5
)

type notes struct{ Files int }

func (n notes) Markdown() string { return fmt.Sprintf("%d files", n.Files) }

// attemptLog counts the worker's outcomes per message.
type attemptLog struct {
	mu   sync.Mutex
	seen map[string][]worker.Outcome
}

func (a *attemptLog) record(m *events.Message, o worker.Outcome, _ error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen[m.ID] = append(a.seen[m.ID], o)
}

func (a *attemptLog) count(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen[id])
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutageThenRedrive: GitHub goes down in the middle of a reconcile and stays down longer
// than the subscription's retry window. Both messages are dead-lettered, one of them leaving
// its run saying "Reconciling". Once GitHub is back, Run brings every message back to the
// reconcile topic with its ordering key, and every commit ends with one completed run.
func TestOutageThenRedrive(t *testing.T) {
	ctx := context.Background()
	emu := pubsubemu.Shared(t)
	ps, err := emu.Client(ctx, emu.Project("outage"))
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
	// Not ordered, unlike the deployed reconcile subscription: the emulator breaks an ordered
	// subscription's streaming pull ("rpc error: code = Unknown") when it dead-letters a
	// message, which ends the worker's Pull. The ordering key is still published and checked.
	sub, err := pubsubemu.CreateSubscription(ctx, ps, pubsubemu.SubscriptionConfig{ID: "reconcile", Topic: topic,
		AckDeadline: 60 * time.Second, DeadLetterTopic: dlqTopic, MaxDeliveryAttempts: attempts, MinBackoff: time.Second, MaxBackoff: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	gh := githubtest.NewTestServer(t)
	shas := []string{strings.Repeat("a", 40), strings.Repeat("b", 40)}
	for i, sha := range shas {
		gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: i + 1, HeadSHA: sha,
			Files: []githubtest.File{{Filename: "README.md", Patch: "@@ -0,0 +1 @@\n+hello"}}})
	}
	factory, err := githubapp.New(gh.App().ID, gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: gh.URL() + "/",
		RetryBudget: 300 * time.Millisecond, ResetJitter: -1})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := statusmanager.NewStatusManager[notes](ctx, identity, statusmanager.WithAppID(gh.App().ID), statusmanager.WithoutDetailsURL())
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	log := &attemptLog{seen: map[string][]worker.Outcome{}}
	var logs bytes.Buffer
	var logMu sync.Mutex
	w := &worker.Worker[notes]{
		Manager: sm, Clients: factory, MaxDeliveryAttempts: attempts, GitHubTimeout: 2 * time.Second, Timeout: 5 * time.Second,
		// The run is written in_progress before the reconcile, so that the outage leaves one
		// open run for the redrive to complete (a fast reconcile would write nothing).
		InProgressAfter: -1,
		Reconcile: func(ctx context.Context, req *events.Request, c *github.Client) (*worker.Result[notes], error) {
			// GitHub goes down while the first commit is being reconciled: its run is in progress.
			once.Do(func() { gh.SetOutage(http.StatusServiceUnavailable) })
			files, _, err := c.PullRequests.ListFiles(ctx, req.Resource.Owner, req.Resource.Repo, req.Resource.Number, nil)
			if err != nil {
				return nil, err
			}
			return &worker.Result[notes]{Details: notes{Files: len(files)}}, nil
		},
		OnOutcome: log.record,
		Logger:    slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil)),
	}
	t.Cleanup(func() {
		if t.Failed() {
			logMu.Lock()
			t.Logf("worker log:\n%s", logs.String())
			logMu.Unlock()
		}
	})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Pull(wctx, ps.Subscriber(sub), worker.PullOptions{MaxInFlight: 4}) }()
	t.Cleanup(func() { stop(); <-done })

	// One message at a time: the emulator is known to hold back several nacked messages.
	pub := ps.Publisher(topic)
	pub.EnableMessageOrdering = true
	t.Cleanup(pub.Stop)
	for i, sha := range shas {
		req := events.Request{Resource: events.Resource{Owner: owner, Repo: repo, URL: fmt.Sprintf("https://github.com/%s/%s/pull/%d", owner, repo, i+1)}, SHA: sha}
		data, _ := req.MarshalJSON()
		id, err := pub.Publish(ctx, &pubsub.Message{Data: data, OrderingKey: req.OrderingKey()}).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("message %d's %d attempts", i+1, attempts), func() bool { return log.count(id) >= attempts })
	}
	runs := gh.CheckRuns(owner, repo, shas[0])
	if len(runs) != 1 || runs[0].Status != "in_progress" {
		t.Fatalf("during the outage, runs on the first commit: %+v; want one left in progress", runs)
	}
	stale := runs[0].ID
	if n := len(gh.CheckRuns(owner, repo, shas[1])); n != 0 {
		t.Fatalf("the second commit got %d runs during the outage", n)
	}

	gh.SetOutage(0)
	// The outage's 5xx answers pause the installation's admissions, for up to a minute. The
	// redriven messages must not spend their retry window inside that pause: this test's
	// window is seconds, production's an hour (MIN_RETRY_WINDOW).
	installation := gh.InstallationID(gh.App(), owner)
	waitFor(t, "the installation's pause to end", func() bool {
		rl, ok := factory.RateLimit(installation)
		return !ok || time.Now().After(rl.PauseUntil)
	})
	var dry bytes.Buffer
	// Both runs stop at the two messages (Limit): the long Idle only bounds how long the
	// emulator may take to deliver them again after the dry run's nacks, which is seconds
	// under load.
	rep, err := redrive.Run(ctx, ps, dlq, redrive.Options{DryRun: true, Limit: 2, Idle: 30 * time.Second, Progress: &dry})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dry run:\n%s", dry.String())
	if rep.Redriven != 2 || !strings.Contains(dry.String(), "would redrive") || !strings.Contains(dry.String(), "key octo-org/hello-world@") {
		t.Fatalf("dry run: %+v", rep)
	}
	if n := len(gh.CheckRuns(owner, repo, shas[1])); n != 0 {
		t.Fatal("a dry run redrove a message")
	}

	var progress bytes.Buffer
	rep, err = redrive.Run(ctx, ps, dlq, redrive.Options{Limit: 2, Idle: 30 * time.Second, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("redrive:\n%s", progress.String())
	if rep.Redriven != 2 || rep.Skipped != 0 {
		t.Fatalf("redrive: %+v, want both redriven", rep)
	}
	for _, e := range rep.Entries {
		if e.Source != sub || e.Topic != topic || e.Deliveries != attempts {
			t.Errorf("entry %+v: want source %s, topic %s, %d deliveries", e, sub, topic, attempts)
		}
	}
	waitFor(t, "both commits completed", func() bool {
		for _, sha := range shas {
			rs := gh.CheckRuns(owner, repo, sha)
			if len(rs) == 0 || rs[len(rs)-1].Status != "completed" {
				return false
			}
		}
		return true
	})
	for _, sha := range shas {
		rs := gh.CheckRuns(owner, repo, sha)
		if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "success" {
			t.Errorf("runs on %.7s: %+v; want one completed success", sha, rs)
		}
	}
	if rs := gh.CheckRuns(owner, repo, shas[0]); len(rs) == 1 && rs[0].ID != stale {
		t.Errorf("the stale run %d was left and run %d made; the redriven message must complete it", stale, rs[0].ID)
	}

	// The dead-letter subscription is empty now.
	rep, err = redrive.Run(ctx, ps, dlq, redrive.Options{DryRun: true, Idle: 2 * time.Second})
	if err != nil || len(rep.Entries) != 0 {
		t.Fatalf("after the redrive: %+v, %v; want nothing left", rep, err)
	}
}

// TestRedriveLeavesWhatItCannotRedrive: invalid messages and messages without their source
// stay on the dead-letter subscription, and Limit stops early.
func TestRedriveLeavesWhatItCannotRedrive(t *testing.T) {
	ctx := context.Background()
	emu := pubsubemu.Shared(t)
	ps, err := emu.Client(ctx, emu.Project("redrive"))
	if err != nil {
		t.Fatal(err)
	}
	dlqTopic, dlq, err := pubsubemu.DeadLetter(ctx, ps, "dead-letter")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		data  string
		attrs map[string]string
	}{
		{`{"owner":"octo-org"}`, map[string]string{redrive.AttrSourceSubscription: "gone", redrive.AttrSourceDeliveryCount: "5"}},
		{`{"owner":"octo-org","repo":"r","url":"https://github.com/octo-org/r/pull/1","sha":"` + strings.Repeat("c", 40) + `"}`, nil},
	} {
		if _, err := pubsubemu.Publish(ctx, ps, dlqTopic, []byte(m.data), m.attrs); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	rep, err := redrive.Run(ctx, ps, dlq, redrive.Options{Idle: 3 * time.Second, Progress: &out})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	t.Logf("%s", out.String())
	if rep.Redriven != 0 || rep.Skipped != 2 {
		t.Fatalf("report %+v, want both left", rep)
	}
	for _, want := range []string{"field repo: is missing", "not dead-lettered by Pub/Sub", "2 messages seen: 0 redriven, 2 left"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	// Limit stops at the first message. The two left were nacked many times over (each came
	// straight back during the idle wait), and the emulator may then hold them back for
	// minutes: a fresh message makes sure one is there to take.
	if _, err := pubsubemu.Publish(ctx, ps, dlqTopic, []byte(`{"owner":"octo-org"}`), nil); err != nil {
		t.Fatal(err)
	}
	rep, err = redrive.Run(ctx, ps, dlq, redrive.Options{DryRun: true, Limit: 1, Idle: 30 * time.Second})
	if err != nil || len(rep.Entries) != 1 {
		t.Fatalf("with Limit 1: %d entries, %v", len(rep.Entries), err)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
