package worker_test

// Tests of the safe defaults of issue 10: each trap a new user hit, and what the worker does
// about it now.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/logbuf"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// A worker that cannot work is refused before it takes a message, instead of answering
// retry to every message forever.
func TestMisconfiguredWorkerIsRefusedAtStart(t *testing.T) {
	e := newEnv(t, succeed)
	// with is a worker of e's parts changed by f.
	with := func(f func(w *worker.Worker[notes])) *worker.Worker[notes] {
		w := &worker.Worker[notes]{Manager: e.w.Manager, Clients: e.w.Clients, Reconcile: e.w.Reconcile, Logger: e.w.Logger}
		f(w)
		return w
	}
	tests := []struct {
		name string
		w    *worker.Worker[notes]
		want string
	}{
		{"nil worker", nil, "nil Worker"},
		{"zero worker", &worker.Worker[notes]{}, "the Manager is required"},
		{"no reconciler", with(func(w *worker.Worker[notes]) { w.Reconcile = nil }), "the Reconcile func is required"},
		{"decoder of another App", with(func(w *worker.Worker[notes]) { w.Decoder = &events.Decoder{AppID: e.gh.App().ID + 1} }), "is not the Manager's App"},
		{"decoder of another check", with(func(w *worker.Worker[notes]) { w.Decoder = &events.Decoder{Identity: "someone-else"} }), "is not the Manager's"},
		{"timeout beyond the ack deadline", with(func(w *worker.Worker[notes]) { w.Timeout, w.AckDeadline = 10*time.Minute, time.Minute }),
			"do not fit in AckDeadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.w.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.w.ServeListener(context.Background(), l, worker.PushOptions{}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ServeListener = %v, want %q", err, tt.want)
			}
			if err := tt.w.Pull(context.Background(), nil, worker.PullOptions{}); err == nil {
				t.Error("Pull started")
			}
			func() {
				defer func() {
					if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), tt.want) {
						t.Errorf("PushHandler panicked with %v, want %q", p, tt.want)
					}
				}()
				tt.w.PushHandler(worker.PushOptions{})
			}()
		})
	}
	// A good worker with an intake that does not know our App is refused too.
	func() {
		defer func() {
			if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "Intake.Decoder") {
				t.Errorf("PushHandler with a bare Intake panicked with %v", p)
			}
		}()
		e.w.PushHandler(worker.PushOptions{Intake: &worker.Intake{Publisher: nopPublisher{}}})
	}()
}

// nopPublisher is a Publisher for tests that never publish.
type nopPublisher struct{ worker.Publisher }

// checkRunRerequested is a relay CloudEvent of a "Re-run" click on a check run named name of
// App app on PR 7.
func checkRunRerequested(id string, app int64, name string) *events.Message {
	body := map[string]any{
		"action": "rerequested",
		"check_run": map[string]any{"id": 99, "name": name, "head_sha": sha1, "status": "completed",
			"app": map[string]any{"id": app}, "pull_requests": []any{map[string]any{"number": 7}}},
		"repository": map[string]any{"name": repo, "full_name": owner + "/" + repo, "owner": map[string]any{"login": owner},
			"html_url": "https://github.com/" + owner + "/" + repo},
		"installation": map[string]any{"id": 1},
	}
	data, _ := json.Marshal(map[string]any{"headers": map[string]any{"event": "check_run", "delivery_id": "gh-" + id}, "body": body})
	return &events.Message{ID: id, Data: data, Attributes: map[string]string{
		"ce-id": "gh-" + id, "ce-type": events.DefaultTypePrefix + ".check_run", "ce-subject": owner + "/" + repo, "ce-action": "rerequested"}}
}

// With no Decoder, the worker still knows its App and check run (the Manager's): Re-run
// clicks on another App's check, or on another check of ours, reconcile nothing.
func TestAnotherAppsRerunIsIgnoredByDefault(t *testing.T) {
	c := &counter{}
	e := newEnv(t, c.reconcile)
	ctx := context.Background()
	if o, err := e.w.Handle(ctx, request("1", 7, sha1, false)); o != worker.OutcomeReconciled {
		t.Fatalf("first reconcile: %s, %v", o, err)
	}
	ourApp := e.gh.App().ID
	tests := []struct {
		name string
		m    *events.Message
		want worker.Outcome
		runs int
	}{
		{"another App's check, three clicks", checkRunRerequested("2", ourApp+7, identity), worker.OutcomeIgnored, 1},
		{"", checkRunRerequested("3", ourApp+7, identity), worker.OutcomeIgnored, 1},
		{"", checkRunRerequested("4", ourApp+7, identity), worker.OutcomeIgnored, 1},
		{"another check of our App", checkRunRerequested("5", ourApp, "someone-else"), worker.OutcomeIgnored, 1},
		{"our check", checkRunRerequested("6", ourApp, identity), worker.OutcomeReconciled, 2},
	}
	for _, tt := range tests {
		if o, err := e.w.Handle(ctx, tt.m); o != tt.want {
			t.Errorf("%s: %s (%v), want %s", tt.name, o, err, tt.want)
		}
		if n := len(e.runs(sha1)); n != tt.runs {
			t.Errorf("%s: %d runs, want %d", tt.name, n, tt.runs)
		}
	}
	if c.n() != 2 {
		t.Errorf("%d reconciles, want 2 (the request and our own Re-run)", c.n())
	}
}

// fragile are details whose methods panic when told to, as buggy user code would.
type fragile struct {
	Panic string `json:"panic,omitempty"` // "Markdown" or "Annotations"
	Files int    `json:"files"`
}

func (f fragile) Markdown() string {
	if f.Panic == "Markdown" {
		var findings []string
		return findings[f.Files] // index out of range
	}
	return fmt.Sprintf("Looked at %d files.", f.Files)
}

func (f fragile) Annotations() []*github.CheckRunAnnotation {
	if f.Panic == "Annotations" {
		var a *github.CheckRunAnnotation
		return []*github.CheckRunAnnotation{{Path: github.String(*a.Path)}} // nil dereference
	}
	return nil
}

// fragileWorker is a worker of fragile details on a fake with PRs 7 and 8, and its log.
func fragileWorker(t *testing.T, rec worker.Reconciler[fragile]) (*worker.Worker[fragile], *githubtest.Server, *logbuf.Buffer) {
	t.Helper()
	gh := githubtest.NewTestServer(t)
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: sha1})
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 8, HeadSHA: sha2})
	sm, err := statusmanager.NewStatusManager[fragile](context.Background(), identity, statusmanager.WithAppID(gh.App().ID), statusmanager.WithoutDetailsURL())
	if err != nil {
		t.Fatal(err)
	}
	var buf logbuf.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", buf.String())
		}
	})
	return &worker.Worker[fragile]{Manager: sm, Clients: fakeClients{gh}, Reconcile: rec,
		Logger: slog.New(cloudlog.NewHandler(&buf, nil)), MaxDeliveryAttempts: 3}, gh, &buf
}

// A panic in any of the user's callbacks fails that message permanently (a completed
// failure run, acked), is logged with its stack, and the worker serves on: a message handled
// concurrently in another goroutine (where an escaped panic would end the process), and
// every later message, are reconciled.
func TestPanicsInUserCallbacksAreSurvived(t *testing.T) {
	for _, method := range []string{"Reconcile", "Markdown", "Annotations"} {
		t.Run(method, func(t *testing.T) {
			w, gh, log := fragileWorker(t, func(_ context.Context, req *events.Request, _ *github.Client) (*worker.Result[fragile], error) {
				if req.Resource.Number != 7 {
					return &worker.Result[fragile]{Details: fragile{Files: 1}}, nil
				}
				if method == "Reconcile" {
					var files []*github.CommitFile
					_ = files[0].GetFilename() // index out of range, as a real bug would
				}
				return &worker.Result[fragile]{Details: fragile{Panic: method, Files: 3}}, nil
			})
			ctx := context.Background()
			// PR 7 (panics) and PR 8, handled concurrently, as the transports do.
			other := make(chan worker.Outcome)
			go func() { o, _ := w.Handle(ctx, request("1", 8, sha2, false)); other <- o }()
			o, err := w.Handle(ctx, request("2", 7, sha1, false))
			if o != worker.OutcomeFailed || !o.Ack() || err == nil {
				t.Fatalf("Handle = %s, %v; want failed (acked)", o, err)
			}
			runs := gh.CheckRuns(owner, repo, sha1)
			want := "the reconciler panicked"
			if method != "Reconcile" {
				want = "the details' " + method + " method panicked"
			}
			if len(runs) != 1 || runs[0].Status != "completed" || runs[0].Conclusion != "failure" || !strings.Contains(runs[0].Title, want) {
				t.Fatalf("PR 7's runs %+v, want one completed failure saying %q", runs, want)
			}
			if o := <-other; o != worker.OutcomeReconciled {
				t.Errorf("PR 8, handled meanwhile: %s, want reconciled", o)
			}
			contains(t, "log", log.String(), "panicked")
			contains(t, "log", log.String(), "goroutine ") // the stack
			// The panic's record carries the request's labels, not the outcome: written
			// before the outcome is known, as the README says.
			var record string
			for _, line := range strings.Split(log.String(), "\n") {
				if strings.Contains(line, "panicked") && strings.Contains(line, "goroutine ") {
					record = line
				}
			}
			for _, l := range []string{`"pr_url":"` + prURL(7) + `"`, `"sha":"` + sha1 + `"`, `"delivery_id":"2"`} {
				contains(t, "the panic's record", record, l)
			}
			notContains(t, "the panic's record", record, `"outcome"`)
			// The process serves on.
			if o, err := w.Handle(ctx, request("3", 8, sha2, true)); o != worker.OutcomeReconciled {
				t.Errorf("a later message: %s, %v; want reconciled", o, err)
			}
		})
	}
}

// While a run is in progress its summary says so, never the Markdown of empty details; a
// run waiting for a retry says that; the Markdown appears once the run is completed.
func TestInProgressSummary(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	c := &counter{fn: func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
		if calls.Add(1) == 1 {
			<-release
			return nil, errors.New("the cache is down") // unmarked: retried
		}
		return succeed(ctx, req, gh)
	}}
	e := newEnv(t, c.reconcile)
	e.w.MaxDeliveryAttempts = 3
	e.w.InProgressAfter = time.Millisecond // the first reconcile blocks: it is written in_progress
	ctx := context.Background()
	done := make(chan worker.Outcome)
	m := request("1", 7, sha1, false)
	m.DeliveryAttempt = 1
	go func() { o, _ := e.w.Handle(ctx, m); done <- o }()

	summary := func() (string, string, string) {
		r := e.runs(sha1)
		if len(r) != 1 {
			return "", "", ""
		}
		return r[0].Status, r[0].Title, r[0].Summary
	}
	deadline := time.Now().Add(30 * time.Second)
	for st, _, _ := summary(); st != "in_progress"; st, _, _ = summary() {
		if time.Now().After(deadline) {
			t.Fatal("no run in progress")
		}
		time.Sleep(5 * time.Millisecond)
	}
	steps := []struct {
		name, status, title, summary, notSummary string
	}{
		{"reconciling", "in_progress", "Reconciling", "This check is in progress: Reconciling", "Looked at"},
		{"waiting for a retry", "in_progress", "Transient failure, will retry (attempt 1 of 3)",
			"This check is in progress: Transient failure, will retry (attempt 1 of 3)", "Looked at"},
		{"completed", "completed", "1 files", "Looked at 1 files.", "in progress"},
	}
	for i, s := range steps {
		switch i {
		case 1:
			close(release)
			if o := <-done; o != worker.OutcomeRetry {
				t.Fatalf("first attempt: %s, want retry", o)
			}
		case 2:
			m := request("1", 7, sha1, false)
			m.DeliveryAttempt = 2
			if o, err := e.w.Handle(ctx, m); o != worker.OutcomeReconciled {
				t.Fatalf("second attempt: %s, %v", o, err)
			}
		}
		status, title, sum := summary()
		if status != s.status || !strings.HasPrefix(title, s.title) || !strings.Contains(sum, s.summary) || strings.Contains(sum, s.notSummary) {
			t.Errorf("%s: %s %q, summary %q; want %s %q saying %q", s.name, status, title, sum, s.status, s.title, s.summary)
		}
	}
}

// An error the reconciler does not mark is retried, and the run is completed as failed at
// the last attempt; Permanent, the terminal error, fails it at once, as does a GitHub answer
// that retrying cannot change.
func TestReconcilerErrorsAreRetriedByDefault(t *testing.T) {
	notFound := &github.ErrorResponse{Message: "Not Found", Response: &http.Response{StatusCode: http.StatusNotFound,
		Request: &http.Request{Method: "GET"}}}
	tests := []struct {
		name  string
		err   error
		want  []worker.Outcome // at attempts 1, 2, 3 (the last)
		title string
	}{
		{"unmarked", errors.New("the license server is down"),
			[]worker.Outcome{worker.OutcomeRetry, worker.OutcomeRetry, worker.OutcomeGaveUp}, "gave up after 3 attempts"},
		{"unmarked, wrapped", fmt.Errorf("policy: %w", errors.New("timeout talking to OPA")),
			[]worker.Outcome{worker.OutcomeRetry, worker.OutcomeRetry, worker.OutcomeGaveUp}, "gave up after 3 attempts"},
		{"terminal", worker.Permanent(errors.New("the policy file is malformed")),
			[]worker.Outcome{worker.OutcomeFailed, worker.OutcomeSkipped, worker.OutcomeSkipped}, "Failed"},
		{"GitHub 404", fmt.Errorf("read the policy: %w", notFound),
			[]worker.Outcome{worker.OutcomeFailed, worker.OutcomeSkipped, worker.OutcomeSkipped}, "Failed: GitHub answered 404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &counter{fn: func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
				return nil, tt.err
			}}
			e := newEnv(t, c.reconcile)
			e.w.MaxDeliveryAttempts = 3
			for i, want := range tt.want {
				m := request("1", 7, sha1, false)
				m.DeliveryAttempt = i + 1
				if o, err := e.w.Handle(context.Background(), m); o != want {
					t.Fatalf("attempt %d: %s (%v), want %s", i+1, o, err, want)
				}
			}
			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "failure" || !strings.HasPrefix(rs[0].Title, tt.title) {
				t.Errorf("runs %+v, want one completed failure titled %q…", rs, tt.title)
			}
		})
	}
}
