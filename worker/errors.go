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

// Transient marks err as worth a retry. The message is nacked and delivered again, and at
// the last delivery attempt the check run is completed as a failure. Transient(nil) is nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, transient: true}
}

// Permanent marks err as final. The check run is completed as a failure at once, and the
// message is acked. The run shows the error's PublicReason, and the full error goes to the
// logs. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, transient: false}
}

// IsTransient reports whether err is worth a retry. The outermost Transient or Permanent mark
// decides. An unmarked error is transient unless it is known to be final:
//
//   - a GitHub answer that githubapp.IsTransient does not call transient, such as 401, 403,
//     404 or 422;
//   - a certificate that GitHub's host does not pass;
//   - a status GitHub would refuse (statusmanager.ErrInvalidStatus, ErrStatusTooLarge).
//
// Status writes are retried on the same terms.
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
