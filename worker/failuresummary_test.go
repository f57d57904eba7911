package worker_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// TestFailureSummary: a run completed as failed tells the pull request's author what failed in
// public words, whether a Re-run may help and where the logs are, and never shows the details'
// Markdown (here "Looked at 0 files." for the zero value); the marker keeps the failure.
func TestFailureSummary(t *testing.T) {
	gone := &github.ErrorResponse{Response: &http.Response{StatusCode: http.StatusNotFound}, Message: "Not Found secret-internal-text"}
	tests := []struct {
		name     string
		fn       reconcileFunc
		attempts int // deliveries; the last is MaxDeliveryAttempts when it gives up
		want     worker.Outcome
		wantIn   []string
		wantOut  []string
	}{
		{"permanent error", func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
			return nil, worker.Permanent(errors.New("the config file /etc/secret is malformed"))
		}, 1, worker.OutcomeFailed, []string{"failed to run:** an internal error", "Re-run will most likely fail"}, []string{"/etc/secret"}},
		{"public permanent error with partial details", func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
			return &worker.Result[notes]{Details: notes{Files: 3}}, worker.Permanent(worker.Public(errors.New("x"), "the repository's .sizes.yaml does not parse"))
		}, 1, worker.OutcomeFailed, []string{"failed to run:** the repository's .sizes.yaml does not parse.", "Re-run will most likely fail"}, nil},
		{"GitHub 404", func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
			return nil, gone
		}, 1, worker.OutcomeFailed, []string{"GitHub answered 404 Not Found"}, []string{"secret-internal-text"}},
		{"panic", func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
			panic("boom at /srv/x")
		}, 1, worker.OutcomeFailed, []string{"failed to run:** the reconciler panicked.", "Re-run will most likely fail"}, []string{"boom"}},
		{"gave up", func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
			return nil, worker.Transient(&github.ErrorResponse{Response: &http.Response{StatusCode: http.StatusBadGateway}})
		}, 5, worker.OutcomeGaveUp, []string{"could not run:** GitHub answered 502 Bad Gateway, and it kept failing for 5 attempts", "A Re-run may help"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.fn)
			var o worker.Outcome
			for i := 1; i <= tt.attempts; i++ {
				m := request("1", 7, sha1, false)
				m.DeliveryAttempt = i
				o, _ = e.w.Handle(context.Background(), m)
			}
			if o != tt.want {
				t.Fatalf("outcome %s, want %s", o, tt.want)
			}
			rs := e.runs(sha1)
			if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "failure" {
				t.Fatalf("runs %+v, want one completed failure", rs)
			}
			summary := rs[0].Summary
			for _, s := range append(tt.wantIn, "[the logs of this run]("+details+")") {
				contains(t, "summary", summary, s)
			}
			for _, s := range append(tt.wantOut, "Looked at") {
				if strings.Contains(summary, s) {
					t.Errorf("summary has %q:\n%s", s, summary)
				}
			}
			sm, err := statusmanager.NewStatusManager[notes](context.Background(), identity, statusmanager.WithAppID(e.gh.App().ID), statusmanager.WithoutDetailsURL())
			if err != nil {
				t.Fatal(err)
			}
			st, err := sm.NewSession(e.gh.Client(), &events.Resource{Owner: owner, Repo: repo, Number: 7, URL: prURL(7)}, sha1).ObservedState(context.Background())
			if err != nil || st == nil || st.Status != "completed" || st.Conclusion != "failure" {
				t.Errorf("read back %+v, %v; want the completed failure", st, err)
			}
		})
	}
}
