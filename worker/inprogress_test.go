package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/logbuf"
	"github.com/prreconciler/prreconciler/worker"
)

// admissions is a githubapp.Factory that records the points each admission reserved.
type admissions struct {
	*githubapp.Factory
	mu   sync.Mutex
	cost []int
}

func (a *admissions) Admit(ctx context.Context, owner, repo string, id int64, cost int) (func(), error) {
	a.mu.Lock()
	a.cost = append(a.cost, cost)
	a.mu.Unlock()
	return a.Factory.Admit(ctx, owner, repo, id, cost)
}

func (a *admissions) reserved() (total int, each []int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.cost {
		total += c
	}
	return total, append([]int(nil), a.cost...)
}

// waitInProgress blocks until the fake holds sha's run in_progress, as a reconcile that
// outlasts InProgressAfter would find it, or fails the reconcile after a minute.
func waitInProgress(ctx context.Context, gh *githubtest.Server) error {
	for {
		if rs := gh.CheckRuns(owner, repo, sha1); len(rs) == 1 && rs[0].Status == "in_progress" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestInProgressAfter: a reconcile that ends within InProgressAfter creates its run completed
// in one write; one that outlasts it is written in_progress first, as every reconcile is with
// a negative InProgressAfter. The admission reserves exactly what the commit then costs (the
// reconciler's Cost is exact here), and the outcome record's github_points says the same.
func TestInProgressAfter(t *testing.T) {
	for _, tt := range []struct {
		name            string
		inProgressAfter time.Duration
		slow            bool // the reconciler waits until its run is in_progress
		creates         int
		updates         int
		admitted        []int // the points of each admission
	}{
		// list, the reconciler's list of files, create completed
		{"within InProgressAfter: one write", time.Hour, false, 1, 0, []int{worker.DirectStatusCost + 1}},
		// list, create in_progress (its own point, admitted when the delay ends), files, complete
		{"outlasts InProgressAfter: in_progress first", 10 * time.Millisecond, true, 1, 1, []int{worker.DirectStatusCost + 1, 1}},
		// list, create in_progress, files, complete
		{"IN_PROGRESS_AFTER=0: in_progress first, always", -1, false, 1, 1, []int{worker.StatusCost + 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e *env
			e = newEnv(t, func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
				if tt.slow {
					if err := waitInProgress(ctx, e.gh); err != nil {
						return nil, worker.Permanent(errors.New("the run was never written in_progress"))
					}
				}
				return succeed(ctx, req, gh)
			})
			f, err := githubapp.New(e.gh.App().ID, e.gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: e.gh.URL() + "/"})
			if err != nil {
				t.Fatal(err)
			}
			adm := &admissions{Factory: f}
			buf := &logbuf.Buffer{}
			e.w.Clients, e.w.InProgressAfter, e.w.Logger = adm, tt.inProgressAfter, slog.New(cloudlog.NewHandler(buf, nil))
			e.w.Cost = func(*events.Request) int { return 1 }
			handle(t, e.w, request("1", 7, sha1, false), worker.OutcomeReconciled)

			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "success" || len(rs[0].Annotations) != 1 {
				t.Fatalf("runs = %+v, want one completed success with its annotation", rs)
			}
			if c, u := e.gh.Count(githubtest.RouteCreateCheckRun), e.gh.Count(githubtest.RouteUpdateCheckRun); c != tt.creates || u != tt.updates {
				t.Errorf("%d creates, %d updates; want %d and %d", c, u, tt.creates, tt.updates)
			}
			total, each := adm.reserved()
			if len(each) != len(tt.admitted) {
				t.Fatalf("admissions %v, want %v", each, tt.admitted)
			}
			for i := range each {
				if each[i] != tt.admitted[i] {
					t.Errorf("admissions %v, want %v", each, tt.admitted)
				}
			}
			rec := outcomeRecord(t, buf.String())
			if used := e.gh.RateLimitUsed(); used != total || rec[worker.LogFieldGitHubPoints] != float64(used) {
				t.Errorf("reserved %d points; the fake counted %d, the outcome record says %v", total, used, rec[worker.LogFieldGitHubPoints])
			}
		})
	}
}

// A reconcile that ends within InProgressAfter and fails transiently still leaves a run
// saying it will retry (nothing else would tell the pull request), and the next delivery
// completes that run: one run.
func TestInProgressAfterTransientLeavesANote(t *testing.T) {
	var failed sync.Once
	e := newEnv(t, func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
		var err error
		failed.Do(func() { err = worker.Transient(errors.New("backend unavailable")) })
		if err != nil {
			return nil, err
		}
		return succeed(ctx, req, gh)
	})
	handle(t, e.w, request("1", 7, sha1, false), worker.OutcomeRetry)
	if rs := e.runs(sha1); len(rs) != 1 || rs[0].Status != "in_progress" || !strings.HasPrefix(rs[0].Title, "Transient failure, will retry (attempt 1 of 5)") {
		t.Fatalf("after the transient failure: runs = %+v, want one in_progress saying it will retry", rs)
	}
	handle(t, e.w, request("1", 7, sha1, false), worker.OutcomeReconciled)
	if rs := e.runs(sha1); len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "success" {
		t.Fatalf("runs = %+v, want the one run completed", rs)
	}
	// A rerun of the completed commit still makes a new run, in one write.
	e.gh.ResetCounters()
	handle(t, e.w, checkSuite("2", "rerequested", sha1), worker.OutcomeReconciled)
	if rs := e.runs(sha1); len(rs) != 2 || rs[1].Status != "completed" {
		t.Fatalf("after the rerun: runs = %+v, want a second, completed run", rs)
	}
	if c, u := e.gh.Count(githubtest.RouteCreateCheckRun), e.gh.Count(githubtest.RouteUpdateCheckRun); c != 1 || u != 0 {
		t.Errorf("the rerun: %d creates, %d updates; want 1 and 0", c, u)
	}
}

// The in_progress write of a slow reconcile and its completed write never cross: when the
// reconcile ends while the in_progress create is still waiting for its answer, the completed
// write waits for it and updates that run, rather than race it to a second run.
func TestInProgressWriteNeverAfterTheCompleted(t *testing.T) {
	sent := make(chan struct{})
	var once sync.Once
	e := newEnv(t, func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
		<-sent
		return &worker.Result[notes]{Conclusion: "success"}, nil
	})
	gh := e.gh.Client()
	base := gh.Client().Transport
	client := github.NewClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost {
			once.Do(func() { close(sent) })
		}
		return base.RoundTrip(r)
	})})
	client.BaseURL = gh.BaseURL
	e.w.Clients = clientOf{client}
	e.w.InProgressAfter = time.Millisecond
	e.gh.SetLatency(100 * time.Millisecond) // the create is in flight when the reconcile ends
	handle(t, e.w, request("1", 7, sha1, false), worker.OutcomeReconciled)
	if rs := e.runs(sha1); len(rs) != 1 || rs[0].Status != "completed" {
		t.Fatalf("runs = %+v, want one completed run", rs)
	}
	if c, u := e.gh.Count(githubtest.RouteCreateCheckRun), e.gh.Count(githubtest.RouteUpdateCheckRun); c != 1 || u != 1 {
		t.Errorf("%d creates, %d updates; want 1 and 1", c, u)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// clientOf hands out one client for every installation.
type clientOf struct{ c *github.Client }

func (c clientOf) Client(context.Context, string, string, int64) (*github.Client, error) {
	return c.c, nil
}

// IN_PROGRESS_AFTER reaches the Worker: unset is the default, 0 means in_progress first.
func TestStartWiresInProgressAfter(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  time.Duration
	}{{"", worker.DefaultInProgressAfter}, {"0", -1}, {"2s", 2 * time.Second}} {
		t.Run(tt.value, func(t *testing.T) {
			gh := githubtest.NewTestServer(t)
			vars := map[string]string{}
			if tt.value != "" {
				vars["IN_PROGRESS_AFTER"] = tt.value
			}
			p, err := worker.Start(context.Background(), worker.App[notes]{Reconcile: succeed}, appEnv(gh, vars))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			got := p.Worker.InProgressAfter
			if got == 0 {
				got = worker.DefaultInProgressAfter
			}
			if got != tt.want && (tt.want >= 0 || got >= 0) {
				t.Errorf("IN_PROGRESS_AFTER=%q: Worker.InProgressAfter %s, want %s", tt.value, p.Worker.InProgressAfter, tt.want)
			}
		})
	}
}

// A reconcile that outlasts InProgressAfter and then panics, or fails permanently, ends in
// one run completed as failed: the failure write comes after the in_progress one.
func TestInProgressThenFailure(t *testing.T) {
	for _, tt := range []struct {
		name string
		fail func() (*worker.Result[notes], error)
	}{
		{"panic", func() (*worker.Result[notes], error) { panic("boom") }},
		{"permanent error", func() (*worker.Result[notes], error) { return nil, worker.Permanent(errors.New("bad input")) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e *env
			e = newEnv(t, func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
				if err := waitInProgress(ctx, e.gh); err != nil {
					return nil, err
				}
				return tt.fail()
			})
			e.w.InProgressAfter = time.Millisecond
			handle(t, e.w, request("1", 7, sha1, false), worker.OutcomeFailed)
			if rs := e.runs(sha1); len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "failure" {
				t.Fatalf("runs = %+v, want one completed failure", rs)
			}
		})
	}
}

// paused is a githubapp.Factory whose installation is paused for a while: its first admission
// is refused with a pause of that length.
type paused struct {
	*githubapp.Factory
	pause time.Duration
	mu    sync.Mutex
	calls int
}

func (p *paused) Admit(ctx context.Context, owner, repo string, id int64, cost int) (func(), error) {
	p.mu.Lock()
	p.calls++
	first := p.calls == 1
	p.mu.Unlock()
	if first {
		return nil, &githubapp.BudgetError{Installation: id, Reason: "a test pause", Until: time.Now().Add(p.pause)}
	}
	return p.Factory.Admit(ctx, owner, repo, id, cost)
}

// A pause of the admissions that ends within a few seconds, as one 5xx answer makes, is
// waited out by the reconcile: a nack would spend a delivery attempt on it. A longer pause
// nacks the message with the refusal, having sent GitHub nothing.
func TestAdmissionWaitsOutAShortPause(t *testing.T) {
	for _, tt := range []struct {
		name  string
		pause time.Duration
		want  worker.Outcome
		calls int
	}{
		{"a short pause is waited out", 200 * time.Millisecond, worker.OutcomeReconciled, 2},
		{"a long pause nacks", time.Minute, worker.OutcomeRetry, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, succeed)
			f, err := githubapp.New(e.gh.App().ID, e.gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: e.gh.URL() + "/"})
			if err != nil {
				t.Fatal(err)
			}
			p := &paused{Factory: f, pause: tt.pause}
			e.w.Clients = p
			start := time.Now()
			handle(t, e.w, request("1", 7, sha1, false), tt.want)
			if p.calls != tt.calls {
				t.Errorf("%d admissions asked, want %d", p.calls, tt.calls)
			}
			switch tt.want {
			case worker.OutcomeReconciled:
				if took := time.Since(start); took < tt.pause {
					t.Errorf("reconciled after %s, before the pause of %s ended", took, tt.pause)
				}
			case worker.OutcomeRetry:
				// The installation's lookup is the App's request; nothing of the installation's.
				if n := e.gh.Count(githubtest.RouteListCheckRunsForRef) + e.gh.Count(githubtest.RouteCreateCheckRun); n != 0 {
					t.Errorf("%d check run requests sent to GitHub during the pause", n)
				}
			}
		})
	}
}
