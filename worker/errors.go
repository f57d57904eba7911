package worker

import (
	"errors"
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
// decides. An unmarked error is permanent only when it is known to be final: a GitHub answer
// that githubapp.IsTransient does not call transient (404, 401, 403, 422, …), a certificate
// GitHub's host does not pass, or a status GitHub would refuse (the statusmanager's
// ErrInvalidStatus and ErrStatusTooLarge). Any other error, such as a plain error of a
// reconciler or of another service, is transient: it is retried, and the run is completed as
// failed at the last delivery attempt. The worker also gives IsTransient to every status
// session (statusmanager.Session.SetRetry), so status writes are retried on the same terms.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var c *classified
	if errors.As(err, &c) {
		return c.transient
	}
	return !knownPermanent(err)
}
