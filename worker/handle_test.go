package worker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

type step struct {
	m    *events.Message
	want worker.Outcome
}

type reconcileFunc = func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error)

func TestHandleOutcomes(t *testing.T) {
	permanent := func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
		return nil, worker.Permanent(errors.New("the config file is malformed"))
	}
	transient := func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
		return nil, worker.Transient(errors.New("backend unavailable"))
	}
	withAttempt := func(m *events.Message, n int) *events.Message { m.DeliveryAttempt = n; return m }

	tests := []struct {
		name      string
		fn        reconcileFunc
		setup     func(e *env)
		steps     []step
		wantCalls int
		check     func(t *testing.T, e *env)
	}{{
		name:      "reconciled",
		steps:     []step{{request("1", 7, sha1, false), worker.OutcomeReconciled}},
		wantCalls: 1,
		check: func(t *testing.T, e *env) {
			rs := e.runs(sha1)
			if len(rs) != 1 {
				t.Fatalf("%d runs, want 1", len(rs))
			}
			r := rs[0]
			if r.Status != "completed" || r.Conclusion != "success" || r.Title != "1 files" || r.DetailsURL != details || r.AppID != e.gh.App().ID {
				t.Errorf("run = %s/%s %q %q app %d", r.Status, r.Conclusion, r.Title, r.DetailsURL, r.AppID)
			}
			if len(r.Annotations) != 1 || r.Annotations[0].GetMessage() != "looked at README.md" {
				t.Errorf("annotations = %v, want one about README.md", r.Annotations)
			}
			contains(t, "summary", r.Summary, "Looked at 1 files.")
			for _, l := range []string{`"pr_url":"` + prURL(7) + `"`, `"sha":"` + sha1 + `"`, `"delivery_id":"1"`, `"outcome":"reconciled"`} {
				contains(t, "log", e.log.String(), l)
			}
		},
	}, {
		name: "skipped when completed at this SHA, with no write",
		steps: []step{
			{request("1", 7, sha1, false), worker.OutcomeReconciled},
			{request("1", 7, sha1, false), worker.OutcomeSkipped},                  // redelivery
			{request("2", 7, strings.ToUpper(sha1), false), worker.OutcomeSkipped}, // duplicate publish
		},
		wantCalls: 1,
		check: func(t *testing.T, e *env) {
			if n := len(e.runs(sha1)); n != 1 {
				t.Errorf("%d runs, want 1", n)
			}
			// The reconcile created its run completed in one write; the skips write nothing.
			if c, u := e.gh.Count(githubtest.RouteCreateCheckRun), e.gh.Count(githubtest.RouteUpdateCheckRun); c != 1 || u != 0 {
				t.Errorf("creates %d, updates %d; want 1 and 0 (the skips write nothing)", c, u)
			}
		},
	}, {
		name:      "new SHA makes a new run",
		steps:     []step{{request("1", 7, sha1, false), worker.OutcomeReconciled}, {request("2", 7, sha2, false), worker.OutcomeReconciled}},
		wantCalls: 2,
		check: func(t *testing.T, e *env) {
			if len(e.runs(sha1)) != 1 || len(e.runs(sha2)) != 1 {
				t.Errorf("runs: %d on sha1, %d on sha2; want 1 and 1", len(e.runs(sha1)), len(e.runs(sha2)))
			}
		},
	}, {
		name:      "permanent failure completes as failure and acks",
		fn:        permanent,
		steps:     []step{{request("1", 7, sha1, false), worker.OutcomeFailed}, {request("1", 7, sha1, false), worker.OutcomeSkipped}},
		wantCalls: 1,
		check: func(t *testing.T, e *env) {
			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "failure" {
				t.Fatalf("runs = %+v, want one completed failure", rs)
			}
			contains(t, "title", rs[0].Title, "Failed: an internal error (the full error is in the logs)")
			notContains(t, "title", rs[0].Title, "malformed") // error text is never published
		},
	}, {
		name:      "transient failure stays in progress and nacks",
		fn:        transient,
		steps:     []step{{withAttempt(request("1", 7, sha1, false), 1), worker.OutcomeRetry}},
		wantCalls: 1,
		check: func(t *testing.T, e *env) {
			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Status != "in_progress" {
				t.Fatalf("runs = %+v, want one in progress", rs)
			}
			contains(t, "title", rs[0].Title, "will retry")
			notContains(t, "title", rs[0].Title, "backend unavailable")
		},
	}, {
		name: "GitHub 502 in the reconciler is transient, then recovers",
		setup: func(e *env) {
			e.gh.FailNext(githubtest.RouteListPullRequestFiles, 1, 502)
		},
		steps: []step{
			{withAttempt(request("1", 7, sha1, false), 1), worker.OutcomeRetry},
			{withAttempt(request("1", 7, sha1, false), 2), worker.OutcomeReconciled},
		},
		wantCalls: 2,
		check: func(t *testing.T, e *env) {
			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Conclusion != "success" {
				t.Fatalf("runs = %+v, want the one run completed successfully", rs)
			}
		},
	}, {
		name: "GitHub 502 on the status write is transient, then recovers",
		setup: func(e *env) {
			e.gh.FailNext(githubtest.RouteCreateCheckRun, 4, 502) // the statusmanager tries a write 4 times
		},
		steps: []step{
			{request("1", 7, sha1, false), worker.OutcomeRetry},
			{request("1", 7, sha1, false), worker.OutcomeReconciled},
		},
		// The create is the completed write, after the reconciler: the first attempt
		// reconciled, failed to write, and left a run saying it will retry.
		wantCalls: 2,
		check: func(t *testing.T, e *env) {
			if rs := e.runs(sha1); len(rs) != 1 || rs[0].Conclusion != "success" {
				t.Fatalf("runs = %+v, want one completed success", rs)
			}
		},
	}, {
		name: "GitHub 502 on the in_progress write (IN_PROGRESS_AFTER=0) is transient, then recovers",
		setup: func(e *env) {
			e.w.InProgressAfter = -1
			e.gh.FailNext(githubtest.RouteCreateCheckRun, 4, 502) // the statusmanager tries a write 4 times
		},
		steps: []step{
			{request("1", 7, sha1, false), worker.OutcomeRetry},
			{request("1", 7, sha1, false), worker.OutcomeReconciled},
		},
		wantCalls: 1, // the first attempt never got to the reconciler
		check: func(t *testing.T, e *env) {
			if rs := e.runs(sha1); len(rs) != 1 || rs[0].Conclusion != "success" {
				t.Fatalf("runs = %+v, want one completed success", rs)
			}
		},
	}, {
		name: "secondary rate limit is waited out by the client",
		setup: func(e *env) {
			e.gh.FailNextSecondaryRateLimit(githubtest.RouteUpdateCheckRun, 1, 403, time.Second)
		},
		steps:     []step{{request("1", 7, sha1, false), worker.OutcomeReconciled}},
		wantCalls: 1,
		check: func(t *testing.T, e *env) {
			if rs := e.runs(sha1); len(rs) != 1 || rs[0].Conclusion != "success" {
				t.Fatalf("runs = %+v, want one completed success", rs)
			}
		},
	}, {
		name:      "gave up at the last delivery attempt (from the message)",
		fn:        transient,
		steps:     []step{{withAttempt(request("1", 7, sha1, false), 4), worker.OutcomeRetry}, {withAttempt(request("1", 7, sha1, false), 5), worker.OutcomeGaveUp}},
		wantCalls: 2,
		check: func(t *testing.T, e *env) {
			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "failure" {
				t.Fatalf("runs = %+v, want one completed failure", rs)
			}
			contains(t, "title", rs[0].Title, "gave up after 5 attempts: ")
			notContains(t, "title", rs[0].Title, "backend unavailable")
		},
	}, {
		name: "gave up at the last delivery attempt (counted in memory)",
		fn:   transient,
		steps: []step{
			{request("1", 7, sha1, false), worker.OutcomeRetry},
			{request("1", 7, sha1, false), worker.OutcomeRetry},
			{request("1", 7, sha1, false), worker.OutcomeRetry},
			{request("1", 7, sha1, false), worker.OutcomeRetry},
			{request("1", 7, sha1, false), worker.OutcomeGaveUp},
			{request("1", 7, sha1, false), worker.OutcomeSkipped},
		},
		wantCalls: 5,
		check: func(t *testing.T, e *env) {
			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Conclusion != "failure" {
				t.Fatalf("runs = %+v, want one completed failure", rs)
			}
			contains(t, "title", rs[0].Title, "gave up after 5 attempts")
		},
	}, {
		name: "reconcile timeout is transient",
		fn: func(ctx context.Context, _ *events.Request, _ *github.Client) (*worker.Result[notes], error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
		setup:     func(e *env) { e.w.Timeout = time.Millisecond },
		steps:     []step{{request("1", 7, sha1, false), worker.OutcomeRetry}},
		wantCalls: 1,
		check: func(t *testing.T, e *env) {
			if rs := e.runs(sha1); len(rs) != 1 || rs[0].Status != "in_progress" {
				t.Fatalf("runs = %+v, want one in progress", rs)
			}
		},
	}, {
		name: "panic is a permanent failure",
		fn: func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
			panic("boom")
		},
		steps:     []step{{request("1", 7, sha1, false), worker.OutcomeFailed}},
		wantCalls: 1,
		check: func(t *testing.T, e *env) {
			if rs := e.runs(sha1); len(rs) != 1 || rs[0].Conclusion != "failure" || !strings.Contains(rs[0].Title, "reconciler panicked") || strings.Contains(rs[0].Title, "boom") {
				t.Fatalf("runs = %+v, want one failure about the panic", rs)
			}
		},
	}, {
		name: "invalid conclusion from the reconciler is a permanent failure",
		fn: func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
			return &worker.Result[notes]{Conclusion: "great"}, nil
		},
		steps:     []step{{request("1", 7, sha1, false), worker.OutcomeFailed}},
		wantCalls: 1,
		check: func(t *testing.T, e *env) {
			if rs := e.runs(sha1); len(rs) != 1 || rs[0].Conclusion != "failure" {
				t.Fatalf("runs = %+v, want one failure", rs)
			}
		},
	}, {
		name: "invalid message: no run, nack",
		steps: []step{
			{&events.Message{ID: "1", Data: []byte("{not json")}, worker.OutcomeInvalid},
			{request("2", 7, "abc", false), worker.OutcomeInvalid},
		},
		check: func(t *testing.T, e *env) {
			if n := e.gh.Count(githubtest.RouteCreateCheckRun); n != 0 {
				t.Errorf("%d check runs created, want 0", n)
			}
			contains(t, "log", e.log.String(), `"outcome":"invalid"`)
			contains(t, "log", e.log.String(), "not valid JSON")
		},
	}, {
		name: "ignored event: no run, ack",
		steps: []step{{&events.Message{ID: "1", Data: []byte(`{}`), Attributes: map[string]string{
			"ce-type": events.DefaultTypePrefix + ".push"}}, worker.OutcomeIgnored}},
		check: func(t *testing.T, e *env) {
			if n := e.gh.Count(githubtest.RouteCreateCheckRun); n != 0 {
				t.Errorf("%d check runs created, want 0", n)
			}
			contains(t, "log", e.log.String(), `"outcome":"ignored"`)
		},
	}, {
		name: "rerun makes a new run; its redelivery does not",
		steps: []step{
			{request("1", 7, sha1, false), worker.OutcomeReconciled},
			{request("2", 7, sha1, true), worker.OutcomeReconciled},
			{request("2", 7, sha1, true), worker.OutcomeSkipped}, // redelivered rerun
			{request("1", 7, sha1, false), worker.OutcomeSkipped},
		},
		wantCalls: 2,
		check: func(t *testing.T, e *env) {
			rs := e.runs(sha1)
			if len(rs) != 2 {
				t.Fatalf("%d runs, want 2", len(rs))
			}
			if rs[1].ID <= rs[0].ID || rs[1].Status != "completed" || rs[0].Status != "completed" {
				t.Errorf("runs = %+v, want two completed, the rerun newest", rs)
			}
		},
	}, {
		name: "check_suite requested: ignored (the push's pull_request event reconciles it)",
		steps: []step{
			{checkSuite("1", "requested", sha1), worker.OutcomeIgnored},
		},
		wantCalls: 0,
		check: func(t *testing.T, e *env) {
			if n := len(e.runs(sha1)); n != 0 {
				t.Errorf("%d runs, want none", n)
			}
			if n := len(e.gh.Requests()); n != 0 {
				t.Errorf("%d requests to GitHub, want none", n)
			}
		},
	}, {
		name: "one message, two PRs, transient failure: nack, then done",
		fn: func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
			if !flaked.Swap(true) {
				return nil, worker.Transient(errors.New("flake"))
			}
			return succeed(ctx, req, gh)
		},
		steps: []step{
			{checkSuite("1", "rerequested", sha1), worker.OutcomeRetry},
			{checkSuite("1", "rerequested", sha1), worker.OutcomeReconciled},
			{checkSuite("1", "rerequested", sha1), worker.OutcomeSkipped}, // the rerun delivery is done
		},
		wantCalls: 2,
		check: func(t *testing.T, e *env) {
			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Conclusion != "success" {
				t.Errorf("runs = %+v, want one success", rs)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flaked.Store(false)
			c := &counter{fn: tt.fn}
			e := newEnv(t, c.reconcile)
			if tt.setup != nil {
				tt.setup(e)
			}
			for i, s := range tt.steps {
				o, err := e.w.Handle(context.Background(), s.m)
				if o != s.want {
					t.Fatalf("step %d: outcome %q (%v), want %q", i, o, err, s.want)
				}
				if wantErr := !o.Ack() || o == worker.OutcomeFailed || o == worker.OutcomeGaveUp; (err != nil) != wantErr {
					t.Errorf("step %d: error %v with outcome %s", i, err, o)
				}
			}
			if got := c.n(); got != tt.wantCalls {
				t.Errorf("reconciler called %d times, want %d", got, tt.wantCalls)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

var flaked atomic.Bool

func TestOutcomeAck(t *testing.T) {
	for o, want := range map[worker.Outcome]bool{
		worker.OutcomeReconciled: true, worker.OutcomeSkipped: true, worker.OutcomeIgnored: true,
		worker.OutcomeFailed: true, worker.OutcomeGaveUp: true, worker.OutcomeRetry: false, worker.OutcomeInvalid: false,
	} {
		if o.Ack() != want {
			t.Errorf("%s.Ack() = %v, want %v", o, o.Ack(), want)
		}
	}
}

func TestIsTransient(t *testing.T) {
	resp := func(code int) error {
		return &github.ErrorResponse{Message: "x", Response: &http.Response{StatusCode: code,
			Request: &http.Request{Method: "GET", URL: &url.URL{Path: "/x"}}}}
	}
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("plain"), true}, // not known to be final: retried, as a reconciler's plain error is
		{fmt.Errorf("read status: %w", statusmanager.ErrStatusTooLarge), false},
		{worker.Transient(errors.New("x")), true},
		{worker.Permanent(context.DeadlineExceeded), false},
		{fmt.Errorf("wrapped: %w", worker.Transient(errors.New("x"))), true},
		{context.DeadlineExceeded, true},
		{resp(502), true},
		{resp(404), false},
		{&github.AbuseRateLimitError{Message: "secondary"}, true},
	} {
		if got := worker.IsTransient(tt.err); got != tt.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestConcurrentDuplicates delivers one request five times at once: the reconciler runs once
// and no delivery is answered before it completes.
func TestConcurrentDuplicates(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	c := &counter{fn: func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
		once.Do(func() { close(started) })
		<-release
		return succeed(ctx, req, gh)
	}}
	e := newEnv(t, c.reconcile)
	const n = 5
	answers := make(chan worker.Outcome, n)
	for i := range n {
		go func() {
			o, _ := e.w.Handle(context.Background(), request(fmt.Sprint(i), 7, sha1, false))
			answers <- o
		}()
	}
	<-started
	// Every delivery is either waiting on the flight or about to; none may have answered.
	select {
	case o := <-answers:
		t.Fatalf("a delivery was answered (%s) before the reconcile completed", o)
	default:
	}
	close(release)
	for range n {
		if o := <-answers; o != worker.OutcomeReconciled && o != worker.OutcomeSkipped {
			t.Errorf("outcome %s, want reconciled (or skipped for a delivery that came after)", o)
		}
	}
	if c.n() != 1 {
		t.Errorf("reconciler called %d times, want 1", c.n())
	}
	if rs := e.runs(sha1); len(rs) != 1 || rs[0].Status != "completed" {
		t.Errorf("runs = %+v, want one completed", rs)
	}
}

// TestCancelledDelivery: a delivery whose context is cancelled (shutdown) while the reconcile
// runs is nacked, and the run is left in progress.
func TestCancelledDelivery(t *testing.T) {
	started := make(chan struct{})
	c := &counter{fn: func(ctx context.Context, _ *events.Request, _ *github.Client) (*worker.Result[notes], error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	e := newEnv(t, c.reconcile)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	o, err := e.w.Handle(ctx, request("1", 7, sha1, false))
	if o != worker.OutcomeRetry || err == nil {
		t.Fatalf("outcome %s (%v), want retry", o, err)
	}
	if rs := e.runs(sha1); len(rs) != 1 || rs[0].Status != "in_progress" {
		t.Errorf("runs = %+v, want one in progress", rs)
	}
}

// TestResultAfterCancellation pins what happens to a result the reconciler returns after
// the message's context was cancelled (it ignored the cancellation): it is written, since it
// is still the reconciler's answer, and the message is nacked, as every cancelled message
// is; its redelivery finds the commit completed and is acked without another reconcile. A
// result returned after the reconciler's own timeout, the message's context still live, is
// written and acked.
func TestResultAfterCancellation(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // the reconciler's own; 0: the env's
		cancel  bool          // cancel the message's context once the reconciler started
		want    worker.Outcome
	}{
		{name: "the message's context cancelled", cancel: true, want: worker.OutcomeRetry},
		{name: "the reconciler's timeout passed", timeout: 50 * time.Millisecond, want: worker.OutcomeReconciled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := make(chan struct{}, 1)
			c := &counter{fn: func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
				started <- struct{}{}
				<-ctx.Done()
				return succeed(context.WithoutCancel(ctx), req, gh) // the cancellation ignored
			}}
			e := newEnv(t, c.reconcile)
			if tt.timeout > 0 {
				e.w.Timeout = tt.timeout
			}
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			if tt.cancel {
				go func() { <-started; cancel() }()
			}
			o, err := e.w.Handle(ctx, request("1", 7, sha1, false))
			if o != tt.want || (o == worker.OutcomeRetry) != (err != nil) {
				t.Fatalf("outcome %s (%v), want %s", o, err, tt.want)
			}
			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "success" || rs[0].Title != "1 files" {
				t.Fatalf("runs = %+v, want one completed with the reconciler's result", rs)
			}
			if o, err := e.w.Handle(context.Background(), request("1", 7, sha1, false)); o != worker.OutcomeSkipped {
				t.Errorf("redelivery: outcome %s (%v), want skipped", o, err)
			}
			if c.n() != 1 {
				t.Errorf("reconciler called %d times, want 1", c.n())
			}
		})
	}
}
