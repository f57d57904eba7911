package statusmanager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
)

// Status represents the overall status of reconciliation
type Status[T any] struct {
	// ObservedGeneration is the last commit SHA that was fully processed
	ObservedGeneration string `json:"observedGeneration"`
	// Status represents the current status of the check run
	// Can be: "queued", "in_progress", or "completed"
	Status string `json:"status"`
	// Conclusion represents the conclusion when status is "completed"
	// Can be: "action_required", "cancelled", "failure", "neutral",
	// "success", "skipped", "stale", or "timed_out"
	Conclusion string `json:"conclusion,omitempty"`
	// Details contains reconciler-specific state data
	Details T `json:"details"`
}

// Annotated is an interface for types that can provide GitHub check run annotations
type Annotated interface {
	Annotations() []*github.CheckRunAnnotation
}

// ErrInvalidStatus is returned (wrapped) by SetActualState for a status GitHub would refuse;
// it is detected before any request and is permanent.
var ErrInvalidStatus = errors.New("statusmanager: invalid status")

// ErrReadOnly is returned by SetActualState on a session of a read-only manager.
var ErrReadOnly = errors.New("statusmanager: read-only status manager")

// Option configures a StatusManager.
type Option func(*options)

type options struct {
	appID      int64
	detailsURL *string // nil: Cloud Logging link when a project is known; "" : none
	detailsTpl string  // "": none; else the link, unless detailsURL is set
	project    *string
	service    *string
	readOnly   bool
	getenv     func(string) string
}

// WithAppID sets the GitHub App whose check runs are trusted: only runs it created are read
// back. Without it, GITHUB_APP_ID from the environment is used.
func WithAppID(id int64) Option { return func(o *options) { o.appID = id } }

// WithDetailsURL sets the details URL of every check run written, instead of the Cloud
// Logging link.
func WithDetailsURL(url string) Option { return func(o *options) { o.detailsURL = &url } }

// WithDetailsURLTemplate sets the details link of every check run from a text/template
// executed with DetailsLink (the request's labels and the run's time window), for a team whose
// logs are not in Cloud Logging, e.g.
// "https://logs.example.com/search?pr={{urlquery .PRURL}}&sha={{.SHA}}&from={{unixmilli .Start}}&to={{unixmilli .End}}".
// Besides text/template's functions it may call queryescape, pathescape, rfc3339 and unixmilli.
// NewStatusManager refuses a template that does not parse or execute. WithDetailsURL wins over it.
func WithDetailsURLTemplate(tmpl string) Option { return func(o *options) { o.detailsTpl = tmpl } }

// WithoutDetailsURL writes check runs without a details URL.
func WithoutDetailsURL() Option { return WithDetailsURL("") }

// WithProject sets the Google Cloud project and Cloud Run service the details link queries,
// instead of GOOGLE_CLOUD_PROJECT and K_SERVICE.
func WithProject(project, service string) Option {
	return func(o *options) { o.project, o.service = &project, &service }
}

// ReadOnly makes a manager that only reads status: SetActualState returns ErrReadOnly. Use
// it for dashboards and for gathering history with ObservedStateAtSHA.
func ReadOnly() Option { return func(o *options) { o.readOnly = true } }

// WithGetenv replaces os.Getenv for the environment lookups of NewStatusManager (tests).
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// StatusManager manages reconciliation status via GitHub Check Runs
type StatusManager[T any] struct {
	identity   string
	appID      int64
	readOnly   bool
	detailsURL *string
	detailsTpl *template.Template // nil: the Cloud Logging link
	project    string
	service    string
	etags      *etagCache
}

// NewStatusManager creates a new status manager with the given identity
//
// The identity is the check run name (see events.ValidateIdentity). The App to trust comes
// from WithAppID or GITHUB_APP_ID; the Google Cloud project for the details link from
// WithProject, else GOOGLE_CLOUD_PROJECT. The manager asks no metadata server: on Cloud Run
// without GOOGLE_CLOUD_PROJECT, pass WithProject(cloudlog.Project(ctx, os.Getenv),
// cloudlog.Service(os.Getenv)), the module's one project lookup (cmd/worker does).
func NewStatusManager[T any](ctx context.Context, identity string, opts ...Option) (*StatusManager[T], error) {
	o := options{getenv: os.Getenv}
	for _, opt := range opts {
		opt(&o)
	}
	if err := events.ValidateIdentity(identity); err != nil {
		return nil, fmt.Errorf("statusmanager: %w", err)
	}
	sm := &StatusManager[T]{identity: identity, appID: o.appID, readOnly: o.readOnly, detailsURL: o.detailsURL, etags: newETagCache(1024)}
	if sm.appID == 0 {
		if v := o.getenv("GITHUB_APP_ID"); v != "" {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				return nil, fmt.Errorf("statusmanager: GITHUB_APP_ID %q is not an App id", v)
			}
			sm.appID = id
		}
	}
	if o.detailsTpl != "" && sm.detailsURL == nil {
		t, err := parseDetailsTemplate(o.detailsTpl)
		if err != nil {
			return nil, err
		}
		sm.detailsTpl = t
	}
	if sm.appID <= 0 {
		return nil, errors.New("statusmanager: no GitHub App id: pass WithAppID or set GITHUB_APP_ID (only runs of our App are trusted)")
	}
	if o.project != nil {
		sm.project, sm.service = *o.project, *o.service
	} else if sm.detailsURL == nil || sm.detailsTpl != nil {
		sm.project, sm.service = o.getenv("GOOGLE_CLOUD_PROJECT"), o.getenv("K_SERVICE")
	}
	return sm, nil
}

// Identity returns the check run name.
func (sm *StatusManager[T]) Identity() string { return sm.identity }

// AppID returns the id of the GitHub App whose runs are trusted.
func (sm *StatusManager[T]) AppID() int64 { return sm.appID }

// Session represents a reconciliation session for a specific resource
type Session[T any] struct {
	sm     *StatusManager[T]
	client *github.Client
	res    *events.Resource
	sha    string
	// started is when the session was made: the details link's window starts before it, or
	// before our open run's started_at when that is earlier (an attempt after a retry).
	started time.Time

	mu         sync.Mutex
	run        *github.CheckRun // our newest run on sha, once read or written
	floor      int64            // runs with an id up to this are history: never written again
	stale      bool             // a write failed without an answer: re-read run before the next one
	externalID string
	retry      func(error) bool // which failed writes are worth another try; nil: none
}

// NewSession creates a new reconciliation session for a GitHub resource and SHA. The resource provides owner, repo, and URL (used as key for log filtering). The SHA is the commit to attach check runs to.
func (sm *StatusManager[T]) NewSession(client *github.Client, res *events.Resource, sha string) *Session[T] {
	return &Session[T]{sm: sm, client: client, res: res, sha: strings.ToLower(sha), started: time.Now()}
}

// ObservedState retrieves the last observed state for the current SHA
//
// It returns nil and no error when no check run of ours exists on the SHA, or when ours
// carries no readable status. The read is conditional: an unchanged check run costs no rate
// limit.
func (s *Session[T]) ObservedState(ctx context.Context) (*Status[T], error) {
	run, err := s.sm.latestRun(ctx, s.client, s.res, s.sha)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.run, s.stale = run, false
	s.mu.Unlock()
	return s.sm.statusOf(run), nil
}

// ObservedStateAtSHA retrieves the status for a specific commit SHA without creating a session. This is useful for gathering historical status across multiple commits.
func (sm *StatusManager[T]) ObservedStateAtSHA(ctx context.Context, client *github.Client, res *events.Resource, sha string) (*Status[T], error) {
	run, err := sm.latestRun(ctx, client, res, strings.ToLower(sha))
	if err != nil {
		return nil, err
	}
	return sm.statusOf(run), nil
}

func (sm *StatusManager[T]) statusOf(run *github.CheckRun) *Status[T] {
	if run == nil || run.GetOutput() == nil {
		return nil
	}
	st, err := DecodeSummary[T](sm.identity, run.GetOutput().GetSummary())
	if err != nil {
		// A corrupt or missing marker means "no status" for the reconciler, which then does
		// the work again; DecodeSummary tells callers that need to know why.
		return nil
	}
	return st
}

// CheckRun returns the check run the session last read or wrote, nil before that. It may be
// shared with other sessions and must not be modified.
func (s *Session[T]) CheckRun() *github.CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run
}

// ResetForRerun makes the next SetActualState create a new check run even when the
// session's run is still in progress, leaving the old run as history.
func (s *Session[T]) ResetForRerun() {
	s.mu.Lock()
	if s.run != nil {
		s.floor = max(s.floor, s.run.GetID())
	}
	s.run = nil
	s.mu.Unlock()
}

// SetExternalID sets the caller's reference kept in the external_id of the session's writes
// (the worker puts the delivery id of a rerun there, so that a redelivered rerun finds the run
// it already made). The external_id written is events.RunRef{Number: the pull request's
// number, Ref: id}: GitHub lists no pull requests on the check_run events of a fork's pull
// request, and the number kept there is how a "Re-run" of such a run finds its pull request
// again. Read the caller's part of a run back with events.ParseRunRef(run.GetExternalID()).Ref.
func (s *Session[T]) SetExternalID(id string) {
	s.mu.Lock()
	s.externalID = id
	s.mu.Unlock()
}

// SetRetry sets the classifier of failed writes worth another try within SetActualState:
// GitHub's 5xx answers, secondary rate limits, broken connections. Before each retry the
// session re-reads the run and sends only what GitHub does not hold yet, so a write whose
// outcome was unknown is not applied twice. Without a classifier a failed write is returned
// at once (the next write re-reads the run first).
//
// The classifier is injected rather than built in so that one classifier serves the whole
// module: githubapp.IsTransient (or worker.IsTransient, which the worker sets here) knows
// GitHub's errors and the App's token errors, and this package may import only events and
// go-github, so it cannot call it itself.
func (s *Session[T]) SetRetry(transient func(error) bool) {
	s.mu.Lock()
	s.retry = transient
	s.mu.Unlock()
}

// runRef is what the session's writes keep in external_id: the pull request's number (from
// the resource, or its URL when the number was left out) and the caller's reference.
func (s *Session[T]) runRef() events.RunRef {
	n := s.res.Number
	if n == 0 {
		if r, err := events.ParseResource(s.res.URL); err == nil {
			n = r.Number
		}
	}
	return events.RunRef{Number: n, Ref: s.externalID}
}

// DetailsURL returns the details URL the session writes: the override, or the template's link,
// or the Cloud Logging query of this PR and SHA in the run's time window when the project is
// known, or "". The window ends DetailsWindowAfter after now: each write sets the link again.
func (s *Session[T]) DetailsURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.detailsURL(time.Now())
}

// detailsURL is DetailsURL for a caller holding s.mu (it reads s.run).
func (s *Session[T]) detailsURL(now time.Time) string {
	if s.sm.detailsURL != nil {
		return *s.sm.detailsURL
	}
	start := s.started
	if s.run != nil && s.run.GetStatus() != StatusCompleted {
		if t := s.run.GetStartedAt().Time; !t.IsZero() && t.Before(start) {
			start = t
		}
	}
	start, end := start.Add(-DetailsWindowBefore), now.Add(DetailsWindowAfter)
	if s.sm.detailsTpl != nil {
		link, err := executeDetails(s.sm.detailsTpl, DetailsLink{Project: s.sm.project, Service: s.sm.service,
			Identity: s.sm.identity, Owner: s.res.Owner, Repo: s.res.Repo, Number: s.runRef().Number, PRURL: s.res.URL,
			SHA: s.sha, Query: LogQuery(s.sm.service, s.res, s.sha), Start: start, End: end})
		if err != nil {
			// It executed when the manager was made; a link is not worth failing a write for.
			return ""
		}
		return link
	}
	if s.sm.project == "" {
		return ""
	}
	return DetailsURLWindow(s.sm.project, s.sm.service, s.res, s.sha, start, end)
}
