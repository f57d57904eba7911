package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/statusmanager"
)

// PublicError is an error with a description that may be shown to anyone who can see the
// pull request. Check run titles are public on public repositories, and an error's own text
// may carry internal host names, URLs, request ids or tokens. So a title only ever shows an
// error's PublicReason, and the full error goes to the logs, behind the details link.
type PublicError struct {
	// Message is the public description: short, one line, nothing internal.
	Message string
	// Err is the error itself, logged in full and never published.
	Err error
}

// Error is the full error, for logs: the message and the underlying error.
func (e *PublicError) Error() string {
	if e.Err == nil {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *PublicError) Unwrap() error { return e.Err }

// Public wraps err with a description that may be published in the check run's title.
// Transient and Permanent marks around it or inside it still decide the retry.
// Public(nil, message) is nil.
func Public(err error, message string) error {
	if err == nil {
		return nil
	}
	return &PublicError{Message: message, Err: err}
}

// PublicReason describes err in words that may be published. It is the message of the
// outermost PublicError. Without one, it says what kind of failure err is, such as a GitHub
// answer by its status, a rate limit, a timeout, a network failure or a status GitHub would
// refuse. Otherwise it is "an internal error". It never includes the error's own text.
func PublicReason(err error) string {
	var pub *PublicError
	var panicked *statusmanager.PanicError
	var rle *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	var ne net.Error
	switch {
	case err == nil:
		return "no error"
	case errors.As(err, &pub):
		return pub.Message
	case errors.As(err, &panicked):
		return "the details' " + panicked.Method + " method panicked"
	case errors.Is(err, statusmanager.ErrStatusTooLarge):
		return "the result is too large for a check run"
	case errors.Is(err, statusmanager.ErrInvalidStatus):
		return "the result is not a status GitHub accepts"
	case errors.As(err, &rle):
		return "GitHub's API rate limit is used up"
	case errors.As(err, &abuse):
		return "GitHub's secondary rate limit"
	case errors.As(err, &er) && er.Response != nil:
		code := er.Response.StatusCode
		return fmt.Sprintf("GitHub answered %d %s", code, http.StatusText(code))
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &ne):
		return "a network error"
	}
	return "an internal error"
}

// publicTitle is a check run title about a failure: what happened, its public reason, and
// where the full error is.
func publicTitle(what string, err error) string {
	return what + ": " + PublicReason(err) + " (the full error is in the logs)"
}
