package loadtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/worker"
)

// TestCostPerPath measures, through worker.Handle against the fake with the real githubapp
// factory, the GitHub requests and rate-limit points each path of a message costs. It
// asserts the targets (a new SHA costs 2 requests, 3 with IN_PROGRESS_AFTER=0; a skip costs no request in the process
// that completed the commit, and no rate limit when repeated in another)
// and reports the rest. The installation token is fetched before measuring (a warm-up
// message); the "new process" row includes its fetch.
func TestCostPerPath(t *testing.T) {
	ctx := context.Background()
	var inst int64
	type row struct {
		path       string
		deliveries int
		outcomes   []worker.Outcome
		c          cost
		runs       int
		notes      string
	}
	var rows []row
	measure := func(e *env, path, notes string, msgs ...*events.Message) row {
		t.Helper()
		e.gh.ResetCounters()
		r := row{path: path, deliveries: len(msgs), notes: notes}
		for _, m := range msgs {
			o, err := e.w.Handle(ctx, m)
			if err != nil && o.Ack() {
				t.Errorf("%s: %s: %v", path, o, err)
			}
			r.outcomes = append(r.outcomes, o)
		}
		r.c = e.cost()
		rows = append(rows, r)
		return r
	}
	newE := func(rec worker.Reconciler[report]) *env {
		e := newEnv(t, envOpts{reconcile: rec})
		inst = e.gh.InstallationID(e.gh.App(), owner)
		for n := 1; n <= 9; n++ {
			e.addPR(owner, repo, n, sha(n))
		}
		// warm-up: token fetched, nothing else cached for the SHAs measured below
		if o, err := e.w.Handle(ctx, request("warm", owner, repo, 9, sha(900), inst, false)); o != worker.OutcomeReconciled {
			t.Fatalf("warm-up: %s %v", o, err)
		}
		return e
	}

	e := newE(nil)
	r := measure(e, "new SHA", "list, create the run completed", request("1", owner, repo, 1, sha(1), inst, false))
	if r.c.requests != 2 || r.outcomes[0] != worker.OutcomeReconciled {
		t.Errorf("new SHA: %d requests (%s), want 2 (reconciled)", r.c.requests, r.outcomes[0])
	}
	e.w.InProgressAfter = -1
	r = measure(e, "new SHA, IN_PROGRESS_AFTER=0", "list, create in_progress, complete", request("1c", owner, repo, 8, sha(8), inst, false))
	if r.c.requests != 3 || r.outcomes[0] != worker.OutcomeReconciled {
		t.Errorf("new SHA, in_progress first: %d requests (%s), want 3 (reconciled)", r.c.requests, r.outcomes[0])
	}
	e.w.InProgressAfter = 0
	r = measure(e, "skip, the process that completed the commit", "nothing: it remembers the commits it saw completed", request("2", owner, repo, 1, sha(1), inst, false))
	if r.c.requests != 0 || r.outcomes[0] != worker.OutcomeSkipped {
		t.Errorf("skip in the same process: %d requests (%s), want 0 (skipped)", r.c.requests, r.outcomes[0])
	}
	// Another instance, its caches as warm as they can be: the same status manager and factory.
	another := func() {
		w := e.w
		e.w = &worker.Worker[report]{Manager: w.Manager, Clients: w.Clients, Reconcile: w.Reconcile, Decoder: w.Decoder,
			Logger: w.Logger, Timeout: w.Timeout, GitHubTimeout: w.GitHubTimeout, MaxDeliveryAttempts: w.MaxDeliveryAttempts}
	}
	another()
	measure(e, "skip, another instance, first read after the completion", "list answered 200 (the run changed since its cached ETag)", request("2b", owner, repo, 1, sha(1), inst, false))
	another()
	r = measure(e, "skip, another instance, repeated", "list answered 304 Not Modified", request("3", owner, repo, 1, sha(1), inst, false))
	if r.c.ratelimit != 0 || r.c.requests != 1 || r.outcomes[0] != worker.OutcomeSkipped {
		t.Errorf("repeated skip: %d requests, %d rate-limit points (%s), want 1 and 0 (skipped)", r.c.requests, r.c.ratelimit, r.outcomes[0])
	}
	e.restart(t, envOpts{})
	measure(e, "skip, new process", "token fetch (App JWT, no points) + list", request("4", owner, repo, 1, sha(1), inst, false))
	e.restart(t, envOpts{})
	measure(e, "skip, new process, no installationId", "installation lookup and token fetch (App JWT) + list", request("4b", owner, repo, 1, sha(1), 0, false))
	measure(e, "rerun of a completed SHA", "list (304), create a new run, completed", request("5", owner, repo, 1, sha(1), inst, true))
	if n := len(e.ours(owner, repo, sha(1))); n != 2 {
		t.Errorf("rerun: %d runs, want 2 (the rerun is a new run)", n)
	}

	e = newE(annotate(120))
	r = measure(e, "new SHA, 120 annotations", "list, create with 50 (open), +50, +20 completing it", request("6", owner, repo, 2, sha(2), inst, false))
	if runs := e.ours(owner, repo, sha(2)); len(runs) != 1 || len(runs[0].Annotations) != 120 {
		t.Errorf("120 annotations: runs %d", len(runs))
	} else {
		r.runs = 1
	}

	// A reconciler that fails transiently once per SHA, then succeeds.
	var failed sync.Map
	flaky := func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[report], error) {
		if _, done := failed.LoadOrStore(req.SHA, true); !done {
			return nil, worker.Transient(errors.New("backend unavailable"))
		}
		return annotate(0)(ctx, req, gh)
	}
	failed.Store(sha(900), true)
	e = newE(flaky)
	r = measure(e, "transient failure, then success", "delivery 1: list, create in_progress 'will retry'; delivery 2: list, complete",
		request("7", owner, repo, 3, sha(3), inst, false), request("7", owner, repo, 3, sha(3), inst, false))
	if r.outcomes[0] != worker.OutcomeRetry || r.outcomes[1] != worker.OutcomeReconciled {
		t.Errorf("transient then success: outcomes %v", r.outcomes)
	}

	e = newE(readFiles)
	measure(e, "new SHA, reconciler reads the PR files", "list, GET files, create completed", request("8", owner, repo, 4, sha(4), inst, false))
	e.gh.FailNext(githubtest.RouteListPullRequestFiles, 1, 502)
	measure(e, "same, one 502 on the GET (retried in githubapp)", "the GET is sent twice in one delivery", request("9", owner, repo, 5, sha(5), inst, false))
	e.gh.FailNext(githubtest.RouteCreateCheckRun, 1, 502)
	measure(e, "same, one 502 on the create (statusmanager re-reads, retries)", "list, GET files, create (502), re-read (304), create", request("10", owner, repo, 6, sha(6), inst, false))
	e.gh.FailNextSecondaryRateLimit(githubtest.RouteCreateCheckRun, 1, 403, 1)
	measure(e, "same, a secondary rate limit on the completed create (Retry-After 1s)", "waited out in githubapp, then sent again", request("11", owner, repo, 7, sha(7), inst, false))

	for _, r := range rows {
		t.Logf("%-62s deliveries %d outcomes %v: %d requests, %d rate-limit points, %d answered 304, %d App-JWT",
			r.path, r.deliveries, r.outcomes, r.c.requests, r.c.ratelimit, r.c.etagHits, r.c.tokens)
		emit(t, "cost", r.path, r.deliveries, fmt.Sprint(r.outcomes), r.c.requests, r.c.ratelimit, r.c.etagHits, r.c.tokens, r.notes)
	}
}

// TestAllocsPerMessage reports allocations per handled message (testing.AllocsPerRun over
// worker.Handle). They include the in-process fake GitHub server's own allocations, which
// share the process; compare rows with each other, not with production.
func TestAllocsPerMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ctx := context.Background()
	e := newEnv(t, envOpts{})
	inst := e.gh.InstallationID(e.gh.App(), owner)
	e.addPR(owner, repo, 1, sha(1))
	e.w.Handle(ctx, request("w", owner, repo, 1, sha(1), inst, false))
	e.w.Handle(ctx, request("w", owner, repo, 1, sha(1), inst, false))
	skip := testing.AllocsPerRun(50, func() {
		if o, _ := e.w.Handle(ctx, request("s", owner, repo, 1, sha(1), inst, false)); o != worker.OutcomeSkipped {
			t.Fatalf("skip: %s", o)
		}
	})
	var n atomic.Int64
	full := testing.AllocsPerRun(50, func() {
		if o, _ := e.w.Handle(ctx, request("f", owner, repo, 1, sha(int(10000+n.Add(1))), inst, false)); o != worker.OutcomeReconciled {
			t.Fatalf("full: %s", o)
		}
	})
	t.Logf("allocations per message: skip %.0f, new SHA %.0f (worker, go-github and the in-process fake)", skip, full)
	emit(t, "allocs", "skip (a commit this process completed: no request)", skip)
	emit(t, "allocs", "new SHA (2 requests)", full)
}

// BenchmarkHandleSkip is a repeated skip through worker.Handle of a commit this process
// completed: no request.
func BenchmarkHandleSkip(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b, envOpts{})
	inst := e.gh.InstallationID(e.gh.App(), owner)
	e.addPR(owner, repo, 1, sha(1))
	e.w.Handle(ctx, request("w", owner, repo, 1, sha(1), inst, false))
	e.w.Handle(ctx, request("w", owner, repo, 1, sha(1), inst, false))
	e.gh.ResetCounters()
	b.ReportAllocs()
	for b.Loop() {
		if o, err := e.w.Handle(ctx, request("s", owner, repo, 1, sha(1), inst, false)); o != worker.OutcomeSkipped {
			b.Fatal(o, err)
		}
	}
	b.ReportMetric(float64(len(e.gh.Requests()))/float64(b.N), "requests/msg")
	b.ReportMetric(float64(e.gh.RateLimitUsed())/float64(b.N), "ratelimit/msg")
}

// BenchmarkHandleNewSHA is a new SHA each message: list, the run created completed.
func BenchmarkHandleNewSHA(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b, envOpts{})
	inst := e.gh.InstallationID(e.gh.App(), owner)
	e.addPR(owner, repo, 1, sha(1))
	e.w.Handle(ctx, request("w", owner, repo, 1, sha(1), inst, false))
	e.gh.ResetCounters()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if o, err := e.w.Handle(ctx, request("n", owner, repo, 1, sha(100000+i), inst, false)); o != worker.OutcomeReconciled {
			b.Fatal(o, err)
		}
	}
	b.ReportMetric(float64(len(e.gh.Requests()))/float64(b.N), "requests/msg")
	b.ReportMetric(float64(e.gh.RateLimitUsed())/float64(b.N), "ratelimit/msg")
}
