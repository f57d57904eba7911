package statusmanager_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/statusmanager"
)

// counted are details that count the calls of their methods and panic when told to.
type counted struct {
	Panic    string `json:"panic,omitempty"` // "Markdown" or "Annotations": that method panics
	markdown *int
}

func (c counted) Markdown() string {
	if c.markdown != nil {
		*c.markdown++
	}
	if c.Panic == "Markdown" {
		var findings []string
		return findings[len(findings)] // index out of range, as a real bug would
	}
	return "Found everything."
}

func (c counted) Annotations() []*github.CheckRunAnnotation {
	if c.Panic == "Annotations" {
		panic("annotations: index out of range")
	}
	return nil
}

// A run shows the details' Markdown only once completed; while it is in progress (or waits
// for a retry, which its title says) its summary says so, whatever the details hold.
func TestInProgressSummaryIsNeutral(t *testing.T) {
	ctx := context.Background()
	e := newEnvTB(t)
	sm, err := statusmanager.NewStatusManager[counted](ctx, identity, statusmanager.WithAppID(e.srv.App().ID), statusmanager.WithoutDetailsURL())
	must(t, err)
	s := sm.NewSession(e.gh, e.res, sha)
	calls := 0
	steps := []struct {
		title, status, want, notWant string
		calls                        int
	}{
		{"Reconciling", statusmanager.StatusInProgress, "This check is in progress: Reconciling", "Found everything.", 0},
		{"Transient failure, will retry (attempt 1 of 5)", statusmanager.StatusInProgress,
			"This check is in progress: Transient failure, will retry (attempt 1 of 5)", "Found everything.", 0},
		{"Done", statusmanager.StatusCompleted, "Found everything.", "in progress", 1},
	}
	for _, st := range steps {
		status := &statusmanager.Status[counted]{Status: st.status, Details: counted{markdown: &calls}}
		if st.status == statusmanager.StatusCompleted {
			status.Conclusion = statusmanager.ConclusionSuccess
		}
		must(t, s.SetActualState(ctx, st.title, status))
		summary := e.runs(t)[0].Summary
		if !strings.Contains(summary, st.want) || strings.Contains(summary, st.notWant) {
			t.Errorf("%s: summary %q, want %q and not %q", st.title, summary, st.want, st.notWant)
		}
		if calls != st.calls {
			t.Errorf("%s: Markdown called %d times in all, want %d", st.title, calls, st.calls)
		}
	}
}

// A panic in the caller's Markdown or Annotations fails that write with a *PanicError
// (permanent: it wraps ErrInvalidStatus) and sends nothing; the caller goes on.
func TestDetailsMethodPanics(t *testing.T) {
	for _, method := range []string{"Markdown", "Annotations"} {
		t.Run(method, func(t *testing.T) {
			ctx := context.Background()
			e := newEnvTB(t)
			sm, err := statusmanager.NewStatusManager[counted](ctx, identity, statusmanager.WithAppID(e.srv.App().ID), statusmanager.WithoutDetailsURL())
			must(t, err)
			err = sm.NewSession(e.gh, e.res, sha).SetActualState(ctx, "Done",
				&statusmanager.Status[counted]{Status: statusmanager.StatusCompleted, Conclusion: statusmanager.ConclusionSuccess, Details: counted{Panic: method}})
			var pe *statusmanager.PanicError
			if !errors.As(err, &pe) || pe.Method != method || len(pe.Stack) == 0 || !errors.Is(err, statusmanager.ErrInvalidStatus) {
				t.Fatalf("SetActualState = %v, want a *PanicError of %s with a stack, wrapping ErrInvalidStatus", err, method)
			}
			if runs := e.runs(t); len(runs) != 0 {
				t.Errorf("%d runs written, want none", len(runs))
			}
		})
	}
}

// Every settable conclusion constant is accepted, and stale, GitHub's own, is refused.
func TestConclusionConstants(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, c := range []string{statusmanager.ConclusionActionRequired, statusmanager.ConclusionCancelled, statusmanager.ConclusionFailure,
		statusmanager.ConclusionNeutral, statusmanager.ConclusionSuccess, statusmanager.ConclusionSkipped, statusmanager.ConclusionTimedOut} {
		if err := e.session().SetActualState(ctx, c, completed(c, details{})); err != nil {
			t.Errorf("conclusion %s: %v", c, err)
		}
	}
	err := e.session().SetActualState(ctx, "stale", completed(statusmanager.ConclusionStale, details{}))
	if !errors.Is(err, statusmanager.ErrInvalidStatus) {
		t.Errorf("conclusion stale: %v, want ErrInvalidStatus", err)
	}
}
