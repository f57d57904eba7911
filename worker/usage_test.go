package worker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/internal/logbuf"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// TestOutcomeRecordCarriesCost checks the fields of each request's outcome record that the
// log-based metrics read: the stage, the duration, and the GitHub requests and points the
// request cost, equal to what the fake counted, and the installation's budget left.
func TestOutcomeRecordCarriesCost(t *testing.T) {
	e := newEnv(t, succeed)
	f, err := githubapp.New(e.gh.App().ID, e.gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: e.gh.URL() + "/"})
	if err != nil {
		t.Fatal(err)
	}
	e.w.Clients = f
	ctx := context.Background()

	type want struct {
		outcome  worker.Outcome
		points   int
		requests int
	}
	steps := []struct {
		name string
		id   string
		// another is a new Worker on the same Manager and factory: another instance
		// whose caches would be as warm.
		another bool
		want    want
	}{
		// the budget's first read (GET /rate_limit, free), list, the reconciler's list of
		// files, create the run completed
		{name: "new commit", id: "m1", want: want{worker.OutcomeReconciled, 3, 4}},
		// this process completed the commit: nothing to ask GitHub
		{name: "skip in the same process", id: "m2", want: want{worker.OutcomeSkipped, 0, 0}},
		// the list again: changed since the ETag of the first list, so a full read
		{name: "skip in another process", id: "m3", another: true, want: want{worker.OutcomeSkipped, 1, 1}},
		// the list answered 304 Not Modified
		{name: "skip in a third process", id: "m4", another: true, want: want{worker.OutcomeSkipped, 0, 1}},
	}
	for _, st := range steps {
		buf := &logbuf.Buffer{}
		w := e.w
		if st.another {
			w = &worker.Worker[notes]{Manager: e.w.Manager, Clients: f, Reconcile: succeed, Timeout: e.w.Timeout, MaxDeliveryAttempts: 5}
		}
		w.Logger = slog.New(cloudlog.NewHandler(buf, nil))
		e.gh.ResetCounters()
		if o, err := w.Handle(ctx, request(st.id, 7, sha1, false)); o != st.want.outcome {
			t.Fatalf("%s: %s %v", st.name, o, err)
		}
		rec := outcomeRecord(t, buf.String())
		if rec[worker.LogFieldStage] != worker.StageReconcile {
			t.Errorf("%s: stage %v", st.name, rec[worker.LogFieldStage])
		}
		if d, ok := rec[worker.LogFieldDuration].(float64); !ok || d <= 0 || d > float64(time.Minute/time.Second) {
			t.Errorf("%s: duration_seconds %v", st.name, rec[worker.LogFieldDuration])
		}
		points, requests := rec[worker.LogFieldGitHubPoints], rec[worker.LogFieldGitHubRequests]
		if points != float64(st.want.points) || requests != float64(st.want.requests) {
			t.Errorf("%s: %v points, %v requests; want %d, %d", st.name, points, requests, st.want.points, st.want.requests)
		}
		if used := e.gh.RateLimitUsed(); points != float64(used) {
			t.Errorf("%s: the record says %v points, the fake counted %d", st.name, points, used)
		}
		inst := e.gh.InstallationID(e.gh.App(), owner)
		rl, _ := f.RateLimit(inst)
		if st.want.requests == 0 {
			// Nothing answered: nothing known of the budget (the request names no installation).
			if _, ok := rec[worker.LogFieldGitHubRemaining]; ok {
				t.Errorf("%s: github_remaining %v without a request", st.name, rec[worker.LogFieldGitHubRemaining])
			}
		} else if rec[worker.LogFieldInstallationID] != float64(inst) || rec[worker.LogFieldGitHubRemaining] != float64(rl.Remaining) {
			t.Errorf("%s: installation %v with %v left; want %d with %d", st.name,
				rec[worker.LogFieldInstallationID], rec[worker.LogFieldGitHubRemaining], inst, rl.Remaining)
		}
		labels, _ := rec[cloudlog.LabelsKey].(map[string]any)
		if labels[statusmanager.LogLabelOutcome] != string(st.want.outcome) {
			t.Errorf("%s: outcome label %v", st.name, labels[statusmanager.LogLabelOutcome])
		}
	}
}

// outcomeRecord returns the one record of out that has a stage: the outcome record.
func outcomeRecord(t *testing.T, out string) map[string]any {
	t.Helper()
	var found []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if _, ok := rec[worker.LogFieldStage]; ok {
			found = append(found, rec)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d records with a stage, want 1:\n%s", len(found), out)
	}
	return found[0]
}
