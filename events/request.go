package events

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Request asks for one reconcile of a pull request at one commit. It is the message the
// worker consumes; any number of requests for the same (Resource, SHA) converge to one
// completed check run unless Rerun is set.
type Request struct {
	// Resource is the pull request.
	Resource Resource
	// SHA is the head commit to reconcile, 40 lower-case hex digits.
	SHA string
	// InstallationID is the GitHub App installation to act as; 0 means look it up from the
	// repository.
	InstallationID int64
	// Rerun forces a new check run even when this SHA was already reconciled.
	Rerun bool
	// DeliveryID identifies where the request came from, for logs: the GitHub delivery id
	// for webhook events, else the Pub/Sub message id.
	DeliveryID string
	// BaseSHA, when known, is the commit of the pull request's base branch that the event
	// saw (pull_request.base.sha): with it a reconciler can read the diff of exactly SHA
	// (base...SHA) in one request, whatever the pull request's head is by then. "" means
	// unknown; a reconciler that needs it reads the pull request.
	BaseSHA string
	// ChangedFiles is the number of files the pull request changed at SHA, from the event.
	// It tells a reconciler whether a listing it got is all of the diff. 0 means unknown.
	ChangedFiles int
	// Trigger is the webhook event and action that asked for the request, as "event.action",
	// such as "pull_request.synchronize" or "check_run.rerequested". It is "" for a request
	// published directly. A reconciler can use it to tell a new commit from a change of the
	// pull request's metadata.
	Trigger string
}

// maxTriggerBytes bounds Trigger, which ends up in logs.
const maxTriggerBytes = 100

// Key identifies the work a request asks for: the same key means the same check run.
func (r *Request) Key() string {
	return r.Resource.URL + "@" + r.SHA
}

// Validate checks the resource and the SHA, normalising the SHA to lower case.
func (r *Request) Validate() error {
	if err := r.Resource.Validate(); err != nil {
		return err
	}
	sha, err := ValidateSHA(r.SHA)
	if err != nil {
		return err
	}
	r.SHA = sha
	if r.BaseSHA != "" {
		base, err := ValidateSHA(r.BaseSHA)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				fe.Field = "baseSha"
			}
			return err
		}
		r.BaseSHA = base
	}
	if r.ChangedFiles < 0 {
		return &FieldError{Field: "changedFiles", Value: strconv.Itoa(r.ChangedFiles), Reason: "is negative"}
	}
	if len(r.Trigger) > maxTriggerBytes || strings.IndexFunc(r.Trigger, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c == '_' || c == '.')
	}) >= 0 {
		return &FieldError{Field: "trigger", Value: r.Trigger, Reason: fmt.Sprintf("is not event.action: at most %d of a-z, _ and .", maxTriggerBytes)}
	}
	if r.InstallationID < 0 {
		return &FieldError{Field: "installationId", Value: strconv.FormatInt(r.InstallationID, 10), Reason: "is negative"}
	}
	return nil
}

// String describes the request for logs and errors.
func (r *Request) String() string {
	s := fmt.Sprintf("%s@%.12s", r.Resource.String(), r.SHA)
	if r.Rerun {
		s += " (rerun)"
	}
	return s
}
