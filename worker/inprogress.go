package worker

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/prreconciler/prreconciler/statusmanager"
)

// progress is the in_progress write of a reconcile that outlasts InProgressAfter.
type progress struct {
	timer   *time.Timer
	done    chan struct{}
	wrote   bool
	release func() // of the budget point the write was admitted for
	waited  bool
}

// progressAfter writes the run in_progress, titled title, if the reconcile has not ended
// after d. The write costs a point that the admission did not reserve. So it is admitted on
// its own, and left out when the budget does not allow it, since only the completed write
// matters.
func (r *run[T]) progressAfter(d time.Duration, title string) *progress {
	p := &progress{done: make(chan struct{}), release: func() {}}
	p.timer = time.AfterFunc(d, func() {
		defer close(p.done)
		defer func() {
			// A bug here must not take down the process. The completed write follows anyway.
			if v := recover(); v != nil {
				r.log.Error("panic while writing the in_progress status", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
		}()
		if r.ctx.Err() != nil {
			return // the reconcile is being cut short: what follows writes the run
		}
		if r.admitter != nil {
			req := r.req
			release, err := r.admitter.Admit(r.ctx, req.Resource.Owner, req.Resource.Repo, req.InstallationID, 1)
			if err != nil {
				r.log.Info("in_progress status not written, GitHub's budget does not allow it: " + err.Error())
				return
			}
			p.release = release
		}
		if err := r.write(title, &statusmanager.Status[T]{Status: statusmanager.StatusInProgress}); err != nil {
			// The completed write still follows. A lost answer only makes it re-read first.
			r.log.Warn("could not write the in_progress status", "error", err.Error())
			return
		}
		p.wrote = true
	})
	return p
}

// wait stops the timer, or waits for the write it started to end. It reports whether the
// run was written in_progress. Only the reconcile's goroutine calls it, once or more.
func (p *progress) wait() bool {
	if !p.waited {
		p.waited = true
		if !p.timer.Stop() {
			<-p.done
		}
	}
	return p.wrote
}
