package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/statusmanager"
)

// run is one attempt at one request.
type run[T any] struct {
	w       *Worker[T]
	ctx     context.Context
	log     *slog.Logger
	req     *events.Request
	attempt int
	session *statusmanager.Session[T]
	// admitter admitted this attempt. It is nil when there is no admission by budget.
	admitter Admitter
	// deferred is set when the run was not written in_progress during the reconcile,
	// usually because it ended within InProgressAfter. A transient failure then has no
	// open run yet to note the retry on.
	deferred bool
}

// github bounds one status read or write. A write after the work was cancelled still gets a
// short chance, so that a run is not left saying nothing.
func (r *run[T]) github() (context.Context, context.CancelFunc) {
	ctx := r.ctx
	d := r.w.githubTimeout()
	if ctx.Err() != nil {
		// Past a shutdown's grace little time is left, since Cloud Run kills the process
		// 10 s after SIGTERM. This is one short chance to leave the run saying something.
		ctx = context.WithoutCancel(ctx)
		d = min(d, 2*time.Second)
	}
	return context.WithTimeout(ctx, d)
}

func (r *run[T]) write(title string, st *statusmanager.Status[T]) error {
	ctx, cancel := r.github()
	defer cancel()
	return r.session.SetActualState(ctx, cutTitle(title), st)
}

func (r *run[T]) do() (Outcome, error) {
	req := r.req
	gh, err := r.w.Clients.Client(r.ctx, req.Resource.Owner, req.Resource.Repo, req.InstallationID)
	if err != nil {
		err = fmt.Errorf("github client for %s/%s: %w", req.Resource.Owner, req.Resource.Repo, err)
		if IsTransient(err) {
			return OutcomeRetry, err // no client: nothing can be written, not even a failure
		}
		return OutcomeFailed, err
	}
	if a, ok := r.w.Clients.(Admitter); ok {
		release, err := r.admit(a)
		if err != nil {
			// Nothing sent, nothing written: the message comes back after the backoff.
			r.log.Warn("not started, GitHub's budget does not allow it: " + err.Error())
			return OutcomeRetry, Transient(fmt.Errorf("admission: %w", err))
		}
		defer release()
		r.admitter = a
	}
	done, err := r.open(gh)
	if err != nil {
		return r.failed(fmt.Errorf("read status: %w", err), nil)
	}
	if done {
		return OutcomeSkipped, nil
	}
	title := "Reconciling"
	if r.attempt > 1 {
		title = fmt.Sprintf("Reconciling (attempt %d)", r.attempt)
	}
	var slow *progress
	if after := r.w.inProgressAfter(); after < 0 {
		if err := r.write(title, &statusmanager.Status[T]{Status: statusmanager.StatusInProgress}); err != nil {
			return r.failed(fmt.Errorf("write in_progress status: %w", err), nil)
		}
	} else {
		// The run is created completed by one write, unless the reconcile outlasts after.
		slow = r.progressAfter(after, title)
		// Wait also when a panic unwinds past here, since the failure write must come
		// after the in_progress one.
		defer slow.wait()
	}

	res, err := r.reconcile(gh)
	if slow != nil {
		// The in_progress write must never land after the completed one, which would open
		// a new run.
		r.deferred = !slow.wait()
		defer slow.release()
	}
	if err != nil {
		return r.failed(err, res)
	}
	if res == nil {
		return r.failed(Permanent(errors.New("reconciler returned no result and no error")), nil)
	}
	conclusion := res.Conclusion
	if conclusion == "" {
		conclusion = statusmanager.ConclusionSuccess
	}
	if err := r.write(res.Title, &statusmanager.Status[T]{Status: statusmanager.StatusCompleted, Conclusion: conclusion, Details: res.Details}); err != nil {
		// The write may have taken effect though its answer was lost.
		if !r.landed() {
			return r.failed(fmt.Errorf("write completed status: %w", err), res)
		}
	}
	if r.ctx.Err() != nil {
		// The reconciler ignored the cancellation. Its answer is written, but the message is
		// nacked as every cancelled one is, because an ack would not count: the push's
		// caller has gone, or the shutdown's grace is over. The redelivery finds the commit
		// completed.
		return OutcomeRetry, Transient(fmt.Errorf("result written after the message's context ended: %w", context.Cause(r.ctx)))
	}
	return OutcomeReconciled, nil
}

// maxAdmissionWait is the longest pause of an installation's admissions that a reconcile waits
// out instead of being nacked. A single 5xx answer pauses admissions for a second, and a
// nack would spend a delivery attempt and the subscription's backoff on it.
const maxAdmissionWait = 5 * time.Second

// admit asks a to admit the reconcile. A refusal whose pause ends within maxAdmissionWait,
// and before the message's deadline, is waited out once.
func (r *run[T]) admit(a Admitter) (release func(), err error) {
	req, cost := r.req, r.w.cost(r.req)
	release, err = a.Admit(r.ctx, req.Resource.Owner, req.Resource.Repo, req.InstallationID, cost)
	var be *githubapp.BudgetError
	if err == nil || !errors.As(err, &be) {
		return release, err
	}
	wait := time.Until(be.Until)
	if dl, ok := r.ctx.Deadline(); wait > maxAdmissionWait || ok && !dl.After(be.Until) {
		return nil, err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.ctx.Done():
		return nil, err
	}
	return a.Admit(r.ctx, req.Resource.Owner, req.Resource.Repo, req.InstallationID, cost)
}

// completed reports whether st says this request is done: completed at its SHA and, for a
// rerun, by a run this rerun made.
func (r *run[T]) completed(st *statusmanager.Status[T]) bool {
	if st == nil || st.Status != statusmanager.StatusCompleted || st.ObservedGeneration != r.req.SHA {
		return false
	}
	return !r.req.Rerun || events.ParseRunRef(r.session.CheckRun().GetExternalID()).Ref == rerunID(r.req)
}

// landed re-reads the status after a completed write that returned an error, whose effect
// is unknown when no answer came. It reports whether the run is completed as this request
// wanted.
func (r *run[T]) landed() bool {
	ctx, cancel := r.github()
	defer cancel()
	st, err := r.session.ObservedState(ctx)
	return err == nil && r.completed(st)
}

// safely runs f (do or giveUp) and turns a panic that escapes it into a permanent failure of
// the request, logged with its stack. So one bad request never takes down the process and
// every message in flight with it. The reconciler and its details' methods are guarded
// where they are called. safely catches the rest: the caller's code that the worker runs
// (the ClientFactory, the details' JSON decoding) and the worker's own bugs.
func (r *run[T]) safely(f func() (Outcome, error)) (o Outcome, err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		r.log.Error("panic while handling the request", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		o, err = OutcomeFailed, Permanent(Public(fmt.Errorf("panic: %v", p), "the worker panicked"))
		if r.session == nil {
			return
		}
		defer func() {
			if recover() != nil {
				o = OutcomeFailed // the failure write panicked too: acked, and logged above
			}
		}()
		o, err = r.failed(err, nil)
	}()
	return f()
}

// giveUp completes the run as failed at the last delivery attempt, unless it is done.
func (r *run[T]) giveUp(cause error) (Outcome, error) {
	req := r.req
	gh, err := r.w.Clients.Client(r.ctx, req.Resource.Owner, req.Resource.Repo, req.InstallationID)
	if err != nil {
		return OutcomeRetry, errors.Join(cause, err)
	}
	done, err := r.open(gh)
	if err != nil {
		return OutcomeRetry, errors.Join(cause, err)
	}
	if done {
		return OutcomeSkipped, nil
	}
	if cause == nil {
		cause = errors.New("transient failure")
	}
	return r.failed(Transient(cause), nil)
}

// open starts the status session of the request's commit on gh and reads it. A reconcile
// and a give-up both begin with it. done reports a completed run there that makes the
// request a skip. Otherwise a rerun marks its next write as its own. That write starts a
// new run when the newest one is completed. When the newest run is unfinished, whether it
// is this rerun's own from a crashed attempt or another one, the rerun finishes it rather
// than leave it open.
func (r *run[T]) open(gh *github.Client) (done bool, err error) {
	r.session = r.w.Manager.NewSession(gh, &r.req.Resource, r.req.SHA)
	r.session.SetRetry(IsTransient)
	ctx, cancel := r.github()
	st, err := r.session.ObservedState(ctx)
	cancel()
	if err != nil {
		return false, err
	}
	if r.completed(st) {
		r.log.Debug("already completed at this SHA", "conclusion", st.Conclusion)
		return true, nil
	}
	if r.req.Rerun {
		r.session.SetExternalID(rerunID(r.req))
	}
	return false, nil
}

// reconcile runs the reconciler under the timeout, and under the message's deadline less
// the final writes' reserve. A panic becomes a permanent error.
func (r *run[T]) reconcile(gh *github.Client) (res *Result[T], err error) {
	deadline := time.Now().Add(r.w.timeout())
	if dl, ok := r.ctx.Deadline(); ok {
		deadline = earliest(deadline, dl.Add(-r.w.finalReserve()))
	}
	ctx, cancel := context.WithDeadline(withLogger(r.ctx, r.log), deadline)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("reconciler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res, err = nil, Permanent(Public(fmt.Errorf("panic: %v", p), "the reconciler panicked"))
		}
	}()
	res, err = r.w.Reconcile(ctx, r.req, gh)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// Cut short by the timeout or the shutdown. A timeout is transient by definition.
		err = Transient(fmt.Errorf("reconcile cut short (%v, timeout %s, message deadline less %s for the final writes): %w",
			context.Cause(ctx), r.w.timeout(), r.w.finalReserve(), err))
	default:
		err = reconcileError(err)
	}
	return res, err
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// failed handles an error of the attempt. Before the last attempt, a transient error leaves
// the run in progress, saying it will retry, and the message is nacked. At the last attempt,
// or for a permanent error, the run is completed as failed and the message is acked. res,
// when not nil, gives the details to write with the failure.
func (r *run[T]) failed(cause error, res *Result[T]) (Outcome, error) {
	var details T
	if res != nil {
		details = res.Details
	}
	var pe *statusmanager.PanicError
	if errors.As(cause, &pe) {
		r.log.Error("the details' "+pe.Method+" method panicked", "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	}
	max := r.w.maxAttempts()
	if IsTransient(cause) {
		if r.attempt < max {
			left := fmt.Sprintf("will retry (attempt %d of %d)", r.attempt, max)
			if run := r.session.CheckRun(); r.deferred || run != nil && run.GetStatus() != statusmanager.StatusCompleted {
				// Note it only on an open run we know of, or where the in_progress write was
				// put off (the run would be open), never on a new run made just to say so.
				// Details are left out: their annotations belong with the completed write.
				if err := r.write(publicTitle("Transient failure, "+left, cause), &statusmanager.Status[T]{Status: statusmanager.StatusInProgress}); err != nil {
					r.log.Warn("could not record the transient failure on the check run", "error", err.Error())
				}
			}
			return OutcomeRetry, cause
		}
		cause = fmt.Errorf("gave up after %d attempts: %w", r.attempt, cause)
		if err := r.writeFailure(publicTitle(fmt.Sprintf("gave up after %d attempts", r.attempt), cause), cause, true, details); err != nil {
			return OutcomeRetry, errors.Join(cause, fmt.Errorf("write failure status: %w", err))
		}
		return OutcomeGaveUp, cause
	}
	err := r.writeFailure(publicTitle("Failed", cause), cause, false, details)
	if err != nil && res != nil {
		// The details themselves may be what GitHub refuses (too large, bad annotations).
		var zero T
		err = r.writeFailure(publicTitle("Failed", cause), cause, false, zero)
	}
	if err != nil {
		if IsTransient(err) && r.attempt < max {
			return OutcomeRetry, errors.Join(cause, fmt.Errorf("write failure status: %w", err))
		}
		r.log.Error("could not record the permanent failure on the check run; acking anyway", "error", err.Error())
		return OutcomeFailed, errors.Join(cause, fmt.Errorf("write failure status: %w", err))
	}
	return OutcomeFailed, cause
}

// cutTitle keeps a check run title readable: one line, at most 200 runes.
func cutTitle(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 200
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
