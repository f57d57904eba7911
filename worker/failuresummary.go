package worker

import (
	"strconv"
	"strings"

	"github.com/prreconciler/prreconciler/statusmanager"
)

// failureSummary is the summary of a run completed as failed. It is written for the pull
// request's author rather than for the reconciler's authors. It says what failed in public
// words (PublicReason), whether a Re-run may help, and where the full error is. It replaces
// the details' Markdown, which describes a result the run does not have: a zero-value "No
// findings" after a 404 would say the pull request passed. gaveUp means a transient failure
// at the last delivery attempt.
func failureSummary(cause error, gaveUp bool, attempts int, link string) string {
	var b strings.Builder
	reason := PublicReason(cause)
	if gaveUp {
		b.WriteString("**This check could not run:** " + reason + ", and it kept failing for " +
			plural(attempts, "attempt") + ", so it gave up.\n\n")
		b.WriteString("This kind of failure is usually temporary (GitHub unavailable or busy, a rate limit, a " +
			"timeout). **A Re-run may help**: use Re-run on this check, or push a new commit.\n\n")
	} else {
		b.WriteString("**This check failed to run:** " + reason + ".\n\n")
		b.WriteString("This is not a finding about your pull request, and **a Re-run will most likely fail the " +
			"same way**: the cause has to be fixed first (ask the check's maintainers, with the link below).\n\n")
	}
	if link != "" {
		b.WriteString("The full error is in [the logs of this run](" + link + ").")
	} else {
		b.WriteString("The full error is in the worker's logs.")
	}
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// writeFailure completes the run as failed, with failureSummary instead of the details'
// Markdown. The status marker keeps the failure (completed, failure) and the details for the
// next read.
func (r *run[T]) writeFailure(title string, cause error, gaveUp bool, details T) error {
	ctx, cancel := r.github()
	defer cancel()
	summary := failureSummary(cause, gaveUp, r.attempt, r.session.DetailsURL())
	st := &statusmanager.Status[T]{Status: statusmanager.StatusCompleted, Conclusion: statusmanager.ConclusionFailure, Details: details}
	return r.session.SetActualStateWithSummary(ctx, cutTitle(title), summary, st)
}
