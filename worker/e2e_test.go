package worker_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/logbuf"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// TestMain stops the emulator the end-to-end tests share.
func TestMain(m *testing.M) { os.Exit(pubsubemu.Run(m)) }

// waitTimeout bounds every wait of the end-to-end tests; they assert no durations.
const waitTimeout = 90 * time.Second

// answers records, per Pub/Sub message id, the outcomes Handle gave and the acks the
// transport sent.
type answers struct {
	mu       sync.Mutex
	outcomes map[string][]worker.Outcome
	acks     map[string]int
}

func newAnswers() *answers {
	return &answers{outcomes: map[string][]worker.Outcome{}, acks: map[string]int{}}
}

func (a *answers) outcome(m *events.Message, o worker.Outcome, _ error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.outcomes[m.ID] = append(a.outcomes[m.ID], o)
}

func (a *answers) ack(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.acks[id]++
}

func (a *answers) get(id string) ([]worker.Outcome, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.outcomes[id]), a.acks[id]
}

// waitAcked waits until message id was acked, and returns its outcomes.
func (a *answers) waitAcked(t *testing.T, id string) []worker.Outcome {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		os, acks := a.get(id)
		if acks > 0 {
			return os
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s never acked; outcomes so far %v", id, os)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// e2e is one end-to-end setup: an emulator project, the GitHub fake, a worker.
type e2e struct {
	*env
	ps      *pubsub.Client
	topic   string
	dead    string
	answers *answers
	calls   *counter
}

func newE2E(t *testing.T, project string) *e2e {
	emu := pubsubemu.Shared(t)
	ctx := context.Background()
	ps, err := emu.Client(ctx, emu.Project(project))
	if err != nil {
		t.Fatal(err)
	}
	gh := githubtest.NewTestServer(t)
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: sha1,
		Files: []githubtest.File{{Filename: "README.md", Patch: "@@ -0,0 +1 @@\n+hello"}}})
	factory, err := githubapp.New(gh.App().ID, gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: gh.URL() + "/", RetryBudget: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := statusmanager.NewStatusManager[notes](ctx, identity, statusmanager.WithAppID(gh.App().ID), statusmanager.WithDetailsURL(details))
	if err != nil {
		t.Fatal(err)
	}
	buf := &logbuf.Buffer{}
	a := newAnswers()
	c := &counter{}
	w := &worker.Worker[notes]{
		Manager: sm, Clients: factory, Reconcile: c.reconcile,
		Logger:              slog.New(cloudlog.NewHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Timeout:             30 * time.Second,
		MaxDeliveryAttempts: 5,
		OnOutcome:           a.outcome,
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", buf.String())
		}
	})
	e := &e2e{env: &env{t: t, gh: gh, w: w, log: buf}, ps: ps, answers: a, calls: c}
	if e.topic, err = pubsubemu.CreateTopic(ctx, ps, "requests"); err != nil {
		t.Fatal(err)
	}
	if e.dead, err = pubsubemu.CreateTopic(ctx, ps, "dead-letters"); err != nil {
		t.Fatal(err)
	}
	if _, err := pubsubemu.CreateSubscription(ctx, ps, pubsubemu.SubscriptionConfig{ID: "dead-letters-sub", Topic: e.dead}); err != nil {
		t.Fatal(err)
	}
	return e
}

// sub is the worker's subscription config: dead-letter after 5 attempts, short backoff.
func (e *e2e) sub(push string) pubsubemu.SubscriptionConfig {
	return pubsubemu.SubscriptionConfig{ID: "requests-sub", Topic: e.topic, PushEndpoint: push, AckDeadline: 60 * time.Second,
		DeadLetterTopic: e.dead, MaxDeliveryAttempts: 5, MinBackoff: time.Second, MaxBackoff: 2 * time.Second}
}

func (e *e2e) publish(data []byte) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	id, err := pubsubemu.Publish(ctx, e.ps, e.topic, data, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// scenario is what both transports must do, in order.
func (e *e2e) scenario(t *testing.T) {
	gh := e.gh
	// One request → one completed run with annotations and the details link.
	first := request("", 7, sha1, false).Data
	id := e.publish(first)
	if os := e.answers.waitAcked(t, id); !slices.Equal(os, []worker.Outcome{worker.OutcomeReconciled}) {
		t.Errorf("first request: outcomes %v, want [reconciled]", os)
	}
	rs := e.runs(sha1)
	if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "success" || rs[0].DetailsURL != details || len(rs[0].Annotations) != 1 {
		t.Fatalf("runs on sha1 = %+v, want one completed success with one annotation and the details URL", rs)
	}

	// A duplicate publish: skipped, no write.
	creates, updates := gh.Count(githubtest.RouteCreateCheckRun), gh.Count(githubtest.RouteUpdateCheckRun)
	id = e.publish(first)
	if os := e.answers.waitAcked(t, id); !slices.Equal(os, []worker.Outcome{worker.OutcomeSkipped}) {
		t.Errorf("duplicate: outcomes %v, want [skipped]", os)
	}
	if c, u := gh.Count(githubtest.RouteCreateCheckRun), gh.Count(githubtest.RouteUpdateCheckRun); c != creates || u != updates {
		t.Errorf("duplicate wrote: creates %d→%d, updates %d→%d", creates, c, updates, u)
	}

	// A new SHA → a new run.
	gh.PushHead(owner, repo, 7, sha2, nil)
	e.answers.waitAcked(t, e.publish(request("", 7, sha2, false).Data))
	if rs := e.runs(sha2); len(rs) != 1 || rs[0].Conclusion != "success" {
		t.Errorf("runs on sha2 = %+v, want one completed success", rs)
	}

	// A rerun → a second run on sha1, the newest completed.
	e.answers.waitAcked(t, e.publish(request("", 7, sha1, true).Data))
	if rs := e.runs(sha1); len(rs) != 2 || rs[1].ID <= rs[0].ID || rs[1].Status != "completed" || rs[1].Conclusion != "success" {
		t.Errorf("runs on sha1 after the rerun = %+v, want two, the newest completed", rs)
	}
	if n := e.calls.n(); n != 3 {
		t.Errorf("reconciler called %d times, want 3", n)
	}

	// GitHub 502s on every try of the first write, and a secondary rate limit on the last
	// one: nacked once, then acked once, after the completed write.
	gh.PushHead(owner, repo, 7, sha3, nil)
	gh.FailNext(githubtest.RouteCreateCheckRun, 4, 502)
	gh.FailNextSecondaryRateLimit(githubtest.RouteUpdateCheckRun, 1, 403, time.Second)
	id = e.publish(request("", 7, sha3, false).Data)
	os := e.answers.waitAcked(t, id)
	if len(os) < 2 || os[0] != worker.OutcomeRetry || os[len(os)-1] != worker.OutcomeReconciled {
		t.Errorf("faults: outcomes %v, want retry first and reconciled last", os)
	}
	if rs := e.runs(sha3); len(rs) != 1 || rs[0].Conclusion != "success" {
		t.Errorf("runs on sha3 = %+v, want one completed success", rs)
	}

	// A malformed message: nacked until the dead-letter policy moves it (5 attempts).
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	dead := make(chan *pubsub.Message, 1)
	go func() {
		_ = e.ps.Subscriber("dead-letters-sub").Receive(ctx, func(_ context.Context, m *pubsub.Message) {
			m.Ack()
			select {
			case dead <- m:
				cancel()
			default:
			}
		})
	}()
	id = e.publish([]byte(`{"owner": "octo-org", "sha": 42`))
	select {
	case m := <-dead:
		if string(m.Data) != `{"owner": "octo-org", "sha": 42` {
			t.Errorf("dead-lettered data %q", m.Data)
		}
		if n := m.Attributes["CloudPubSubDeadLetterSourceDeliveryCount"]; n != "" && n != "5" {
			t.Errorf("dead-lettered after %s attempts, want 5", n)
		}
	case <-ctx.Done():
		t.Fatalf("malformed message never reached the dead-letter topic")
	}
	os, acks := e.answers.get(id)
	if len(os) < 5 || acks != 0 || slices.ContainsFunc(os, func(o worker.Outcome) bool { return o != worker.OutcomeInvalid }) {
		t.Errorf("malformed: outcomes %v, acks %d; want 5 invalid, never acked", os, acks)
	}
	// Every acked message was acked exactly once.
	e.answers.mu.Lock()
	for id, n := range e.answers.acks {
		if n != 1 {
			t.Errorf("message %s acked %d times", id, n)
		}
	}
	e.answers.mu.Unlock()
}

func TestEndToEndPush(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "e2e-push")
	h := e.w.PushHandler(worker.PushOptions{})
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: rw}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusAccepted {
			t.Errorf("answered 202")
		}
		if rec.status == http.StatusNoContent {
			m, _ := worker.ParsePush(r.Header, body)
			e.answers.ack(m.ID)
		}
	}))
	t.Cleanup(srv.Close)
	if _, err := pubsubemu.CreateSubscription(context.Background(), e.ps, e.sub(srv.URL+"/reconcile")); err != nil {
		t.Fatal(err)
	}
	e.scenario(t)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func TestEndToEndPull(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "e2e-pull")
	name, err := pubsubemu.CreateSubscription(context.Background(), e.ps, e.sub(""))
	if err != nil {
		t.Fatal(err)
	}
	// Acks are counted from the outcomes: Pull acks exactly the messages whose outcome acks.
	outcome := e.w.OnOutcome
	e.w.OnOutcome = func(m *events.Message, o worker.Outcome, err error) {
		outcome(m, o, err)
		if o.Ack() {
			e.answers.ack(m.ID)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	pulled := make(chan error, 1)
	go func() {
		pulled <- e.w.Pull(ctx, e.ps.Subscriber(name), worker.PullOptions{MaxInFlight: 4, ShutdownGrace: 2 * time.Second})
	}()
	e.scenario(t)
	cancel()
	if err := <-pulled; err != nil {
		t.Errorf("Pull: %v", err)
	}
}

// TestPullShutdown: at shutdown, work that outlives the grace is cancelled and nacked (the
// run is left in progress), and Pull returns nil once its handlers have returned.
func TestPullShutdown(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "e2e-shutdown")
	started := make(chan struct{})
	var once sync.Once
	e.calls.fn = func(ctx context.Context, _ *events.Request, _ *github.Client) (*worker.Result[notes], error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return nil, ctx.Err()
	}
	name, err := pubsubemu.CreateSubscription(context.Background(), e.ps, e.sub(""))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pulled := make(chan error, 1)
	go func() {
		pulled <- e.w.Pull(ctx, e.ps.Subscriber(name), worker.PullOptions{ShutdownGrace: 100 * time.Millisecond})
	}()
	id := e.publish(request("", 7, sha1, false).Data)
	<-started
	cancel()
	if err := <-pulled; err != nil {
		t.Errorf("Pull: %v", err)
	}
	if os, _ := e.answers.get(id); !slices.Equal(os, []worker.Outcome{worker.OutcomeRetry}) {
		t.Errorf("outcomes %v, want [retry] (nacked at shutdown)", os)
	}
	if rs := e.runs(sha1); len(rs) != 1 || rs[0].Status != "in_progress" {
		t.Errorf("runs = %+v, want one left in progress", rs)
	}
}
