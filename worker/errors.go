package worker

import (
	"errors"

	"github.com/prreconciler/prreconciler/githubapp"
)

// classified marks an error as transient or permanent, overriding IsTransient's guess.
type classified struct {
	err       error
	transient bool
}

func (e *classified) Error() string { return e.err.Error() }
func (e *classified) Unwrap() error { return e.err }

// Transient marks err as worth a retry: the message is nacked and delivered again, and at the
// last delivery attempt the check run is completed as a failure. Transient(nil) is nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, transient: true}
}

// Permanent marks err as final: the check run is completed as a failure carrying the error,
// and the message is acked. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, transient: false}
}

// IsTransient reports whether err is worth a retry. The outermost Transient or Permanent mark
// decides; an unmarked error is classified by githubapp.IsTransient, the module's one
// classifier of failures (GitHub 5xx, 408, 429, rate limits, deadlines and cancellations,
// network failures are transient; the rest, the statusmanager's ErrInvalidStatus and
// ErrStatusTooLarge among them, permanent). The worker gives it to every status session
// (statusmanager.Session.SetRetry), so a status write is retried on the same terms.
func IsTransient(err error) bool {
	var c *classified
	if errors.As(err, &c) {
		return c.transient
	}
	return githubapp.IsTransient(err)
}
