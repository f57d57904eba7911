package worker

import (
	"context"
	"errors"

	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/statusmanager"
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
// decides; an unmarked error is transient when it is a deadline or a cancellation, or when
// githubapp.IsTransient says so (GitHub 5xx, 408, 429, rate limits, network failures); the
// statusmanager's ErrInvalidStatus and ErrStatusTooLarge and everything else are permanent.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var c *classified
	if errors.As(err, &c) {
		return c.transient
	}
	if errors.Is(err, statusmanager.ErrInvalidStatus) || errors.Is(err, statusmanager.ErrStatusTooLarge) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	return githubapp.IsTransient(err)
}
