package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// restarted is the same worker as e.w in a new process: same GitHub, no memory.
func (e *env) restarted(t *testing.T) *worker.Worker[notes] {
	t.Helper()
	sm, err := statusmanager.NewStatusManager[notes](context.Background(), identity,
		statusmanager.WithAppID(e.gh.App().ID), statusmanager.WithDetailsURL(details))
	if err != nil {
		t.Fatal(err)
	}
	return &worker.Worker[notes]{Manager: sm, Clients: fakeClients{e.gh}, Reconcile: e.w.Reconcile,
		Logger: e.w.Logger, Timeout: e.w.Timeout, MaxDeliveryAttempts: e.w.MaxDeliveryAttempts}
}

func handle(t *testing.T, w *worker.Worker[notes], m *events.Message, want worker.Outcome) {
	t.Helper()
	o, err := w.Handle(context.Background(), m)
	if o != want {
		t.Fatalf("message %s: outcome %s (%v), want %s", m.ID, o, err, want)
	}
}

// A rerun whose ack was lost is redelivered to another instance: the run it made carries
// its delivery id, so no second run is made.
func TestRerunRedeliveredToAnotherInstance(t *testing.T) {
	c := &counter{}
	e := newEnv(t, c.reconcile)
	handle(t, e.w, request("1", 7, sha1, false), worker.OutcomeReconciled)
	handle(t, e.w, request("2", 7, sha1, true), worker.OutcomeReconciled)
	handle(t, e.restarted(t), request("2", 7, sha1, true), worker.OutcomeSkipped)
	rs := e.runs(sha1)
	if len(rs) != 2 || rs[1].ExternalID != "pr:7 rerun:2" || rs[1].Status != "completed" {
		t.Fatalf("runs = %+v, want the first run and one rerun run", rs)
	}
	// A different rerun delivery does make a new run.
	handle(t, e.restarted(t), request("3", 7, sha1, true), worker.OutcomeReconciled)
	if n := len(e.runs(sha1)); n != 3 {
		t.Fatalf("%d runs after a second rerun, want 3", n)
	}
	if c.n() != 3 {
		t.Errorf("reconciler ran %d times, want 3", c.n())
	}
}

// The completed write took effect but its answer never came and the re-read failed too: the
// worker reads the status again before deciding, sees it completed, and acks, without a
// second run or a second copy of the annotations. The completed write is the run's create
// (the reconcile ended within InProgressAfter) or the update of its in_progress run.
func TestCompletedWriteAppliedAnswerLost(t *testing.T) {
	for _, tt := range []struct {
		name            string
		inProgressAfter time.Duration
		write, reread   githubtest.Route
		rereads         int
	}{
		// The statusmanager re-reads the created run by listing the commit's runs: the first
		// list fails; the worker's own read (a list too) succeeds.
		{"create, completed", 0, githubtest.RouteCreateCheckRun, githubtest.RouteListCheckRunsForRef, 1},
		{"update of the in_progress run", -1, githubtest.RouteUpdateCheckRun, githubtest.RouteGetCheckRun, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e *env
			// Armed by the reconciler, after the worker's first read of the status: the
			// completed write applies but answers 502; the statusmanager's re-read of the
			// run fails too, so SetActualState returns an error.
			e = newEnv(t, (&counter{fn: func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
				e.gh.FailNextAfterApply(tt.write, 1, http.StatusBadGateway)
				e.gh.FailNext(tt.reread, tt.rereads, http.StatusBadGateway)
				return succeed(ctx, req, gh)
			}}).reconcile)
			e.w.InProgressAfter = tt.inProgressAfter
			handle(t, e.w, request("1", 7, sha1, false), worker.OutcomeReconciled)
			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Status != "completed" || len(rs[0].Annotations) != 1 {
				t.Fatalf("runs = %+v, want one completed run with one annotation", rs)
			}
			if strings.Contains(rs[0].Title, "retry") {
				t.Errorf("title %q: the completed run was overwritten with a retry note", rs[0].Title)
			}
			handle(t, e.w, request("2", 7, sha1, false), worker.OutcomeSkipped)
		})
	}
}

// A transient failure after the reconcile leaves a run open with a note, but the note
// carries no details: their annotations go only with the completed write. The completed
// write is the run's create when the reconcile ended within InProgressAfter, else the update
// of its in_progress run.
func TestTransientNoteCarriesNoAnnotations(t *testing.T) {
	for _, tt := range []struct {
		name            string
		inProgressAfter time.Duration
		write           githubtest.Route
	}{
		{"no run yet", 0, githubtest.RouteCreateCheckRun},
		{"the in_progress run", -1, githubtest.RouteUpdateCheckRun},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, (&counter{}).reconcile)
			e.w.InProgressAfter = tt.inProgressAfter
			e.gh.FailNext(tt.write, 4, http.StatusBadGateway)
			handle(t, e.w, request("1", 7, sha1, false), worker.OutcomeRetry)
			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Status != "in_progress" || len(rs[0].Annotations) != 0 || !strings.Contains(rs[0].Title, "will retry") {
				t.Fatalf("runs = %+v", rs)
			}
			handle(t, e.w, request("1", 7, sha1, false), worker.OutcomeReconciled)
			rs = e.runs(sha1)
			if len(rs) != 1 || rs[0].Status != "completed" || len(rs[0].Annotations) != 1 {
				t.Fatalf("runs = %+v, want one completed run with its one annotation", rs)
			}
		})
	}
}

// A rerun arriving while a plain reconcile of the same commit runs waits for it, then runs
// its own: two runs, each written by one reconcile, none interleaved.
func TestRerunWaitsForARunningReconcile(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	c := &counter{}
	c.fn = func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
		if !req.Rerun {
			once.Do(func() { close(started) })
			<-release
		}
		return succeed(ctx, req, gh)
	}
	e := newEnv(t, c.reconcile)
	joined := make(chan string, 1)
	worker.OnJoin(e.w, func(key string) {
		select {
		case joined <- key:
		default: // a later join; the test waits for the first
		}
	})
	plain := make(chan worker.Outcome, 1)
	go func() { o, _ := e.w.Handle(context.Background(), request("1", 7, sha1, false)); plain <- o }()
	<-started
	rerun := make(chan worker.Outcome, 1)
	go func() { o, _ := e.w.Handle(context.Background(), request("2", 7, sha1, true)); rerun <- o }()
	<-joined // the rerun is waiting for the plain reconcile
	select {
	case o := <-rerun:
		t.Fatalf("the rerun finished (%s) while the plain reconcile still ran", o)
	default:
	}
	close(release)
	if o := <-plain; o != worker.OutcomeReconciled {
		t.Fatalf("plain: %s", o)
	}
	if o := <-rerun; o != worker.OutcomeReconciled {
		t.Fatalf("rerun: %s", o)
	}
	rs := e.runs(sha1)
	if len(rs) != 2 || rs[0].Status != "completed" || rs[1].Status != "completed" || rs[1].ExternalID != "pr:7 rerun:2" {
		t.Fatalf("runs = %+v", rs)
	}
	for _, r := range rs {
		if len(r.Annotations) != 1 {
			t.Errorf("run %d has %d annotations, want 1", r.ID, len(r.Annotations))
		}
	}
}

// A duplicate at its last delivery attempt that joined a failing reconcile of an earlier
// attempt gives up for itself: the run is completed as failed and the message acked.
func TestJoinerAtLastAttemptGivesUp(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	c := &counter{fn: func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
		once.Do(func() { close(started) })
		<-release
		return nil, worker.Transient(fmt.Errorf("GitHub is having a bad day"))
	}}
	e := newEnv(t, c.reconcile)
	joined := make(chan string, 1)
	worker.OnJoin(e.w, func(key string) {
		select {
		case joined <- key:
		default: // a later join; the test waits for the first
		}
	})
	first := make(chan worker.Outcome, 1)
	m1 := request("1", 7, sha1, false)
	m1.DeliveryAttempt = 1
	go func() { o, _ := e.w.Handle(context.Background(), m1); first <- o }()
	<-started
	last := make(chan worker.Outcome, 1)
	m2 := request("2", 7, sha1, false)
	m2.DeliveryAttempt = 5
	go func() { o, _ := e.w.Handle(context.Background(), m2); last <- o }()
	<-joined // the last-attempt delivery joined the running flight; now it may fail
	close(release)
	if o := <-first; o != worker.OutcomeRetry && o != worker.OutcomeSkipped {
		t.Errorf("first delivery: %s", o)
	}
	if o := <-last; o != worker.OutcomeGaveUp && o != worker.OutcomeSkipped {
		t.Fatalf("last-attempt delivery: %s, want gave_up", o)
	}
	rs := e.runs(sha1)
	if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "failure" || !strings.Contains(rs[0].Title, "gave up after 5 attempts") {
		t.Fatalf("runs = %+v", rs)
	}
	if c.n() != 1 {
		t.Errorf("reconciler ran %d times: the last-attempt delivery did not join the flight", c.n())
	}
}

// With MaxInFlight 1, a second push waits for the first instead of being refused (a refusal
// would use up one of its delivery attempts).
func TestPushWaitsForASlot(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	c := &counter{fn: func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
		once.Do(func() { close(started) })
		<-release
		return succeed(ctx, req, gh)
	}}
	e := newEnv(t, c.reconcile)
	srv := httptest.NewServer(e.w.PushHandler(worker.PushOptions{MaxInFlight: 1}))
	defer srv.Close()
	post := func(id, sha string) int {
		m := request(id, 7, sha, false)
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(envelope(m, 0)))
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	codes := make(chan int, 2)
	go func() { codes <- post("1", sha1) }()
	<-started
	go func() { codes <- post("2", sha2) }()
	close(release)
	for range 2 {
		if code := <-codes; code != http.StatusNoContent {
			t.Errorf("push answered %d, want 204", code)
		}
	}
}
