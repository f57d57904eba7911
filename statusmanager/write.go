package statusmanager

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
)

// MaxAnnotationsPerRequest is GitHub's limit on annotations in one create or update; more
// are written by further updates, which GitHub appends.
const MaxAnnotationsPerRequest = 50

// settableConclusions are the conclusions an App may set; "stale" is GitHub's alone.
var settableConclusions = map[string]bool{
	ConclusionActionRequired: true, ConclusionCancelled: true, ConclusionFailure: true, ConclusionNeutral: true,
	ConclusionSuccess: true, ConclusionSkipped: true, ConclusionTimedOut: true,
}

// Write retries: a 5xx or a broken connection leaves it unknown whether GitHub applied the
// write, so before retrying the session re-reads the run and writes only what is missing.
const (
	maxWriteAttempts = 4
	writeBackoff     = 200 * time.Millisecond
	maxRetryAfter    = 30 * time.Second
)

// SetActualState writes status to the session's check run: it creates the run on the first
// write and updates it afterwards. ObservedGeneration is forced to the session's SHA.
//
// A completed run is never reopened: writing to a session whose run is completed creates a
// new run with the same name, which GitHub shows instead, and leaves the old one as history.
// When the details implement Annotated, Annotations() is the complete list for the run: each
// write appends only the annotations beyond those the run already has, 50 a request, so every
// annotation is written once even when a write is retried or a crashed attempt is redone.
//
// A completed status written where the session has no run of ours to update (none exists,
// or the newest is completed, or after ResetForRerun) creates the run completed in one
// request, annotations included: a reconciler need not write in_progress first, and one
// that ends quickly saves that request. With more than 50 annotations the create carries
// the first 50 and keeps the run open, and updates append the rest, the last completing it,
// so that a crash between them never leaves a completed run without all its annotations.
// The summary shows the details' Markdown only when the status is completed; a queued or
// in-progress run shows ProgressMarkdown(title) instead, so a run never displays results it
// does not have yet. A panic in the details' Markdown or Annotations method is recovered and
// returned as a *PanicError. The status is validated before any request; errors wrapping
// ErrInvalidStatus (a *PanicError among them) or ErrStatusTooLarge are permanent.
func (s *Session[T]) SetActualState(ctx context.Context, title string, status *Status[T]) error {
	return s.setActualState(ctx, title, status, nil)
}

// SetActualStateWithSummary writes status as SetActualState does, but a completed run shows
// markdown as its summary instead of the details' Markdown: for a run the details do not
// describe, such as a failure, where their (often zero-value) Markdown would mislead. The
// details are still recorded in the status marker and their annotations written.
func (s *Session[T]) SetActualStateWithSummary(ctx context.Context, title, markdown string, status *Status[T]) error {
	return s.setActualState(ctx, title, status, &markdown)
}

// setActualState is SetActualState; summary, when not nil, replaces the details' Markdown.
func (s *Session[T]) setActualState(ctx context.Context, title string, status *Status[T], summary *string) error {
	if s.sm.readOnly {
		return ErrReadOnly
	}
	if status == nil {
		return fmt.Errorf("%w: nil status", ErrInvalidStatus)
	}
	st := *status
	st.ObservedGeneration = s.sha
	if err := validateStatus(&st); err != nil {
		return err
	}
	anns, err := annotationsOf(&st.Details)
	if err != nil {
		return err
	}
	if err := validateAnnotations(anns); err != nil {
		return err
	}
	if title == "" {
		title = s.sm.identity
	}
	// The details' Markdown is what the run found: shown once it is completed, never while
	// it is still in progress.
	markdown := ProgressMarkdown(title)
	if st.Status == StatusCompleted && summary != nil {
		markdown = *summary
	} else if st.Status == StatusCompleted {
		if markdown, err = markdownOf(&st.Details); err != nil {
			return err
		}
	}
	final, err := s.summary(markdown, &st)
	if err != nil {
		return err
	}
	// Batches before the last one keep the run open, so a crash between them leaves a run
	// that the next attempt continues instead of one that is completed without them.
	interim := final
	if st.Status == StatusCompleted && len(anns) > MaxAnnotationsPerRequest {
		open := st
		open.Status, open.Conclusion = StatusInProgress, ""
		if interim, err = s.summary(ProgressMarkdown(title), &open); err != nil {
			return err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	w := write[T]{s: s, title: title, status: &st, anns: anns, final: final, interim: interim, detailsURL: s.detailsURL(time.Now()), externalID: s.runRef().String()}
	return w.run(ctx)
}

func (s *Session[T]) summary(markdown string, st *Status[T]) (string, error) {
	marker, err := encodeMarker(s.sm.identity, st)
	if err != nil {
		return "", err
	}
	return renderSummary(markdown, marker)
}

// write is one SetActualState in progress; its state is re-derived from s.run after each
// request, so a retry after an unknown outcome continues from what GitHub actually holds.
type write[T any] struct {
	s              *Session[T]
	title          string
	status         *Status[T]
	anns           []*github.CheckRunAnnotation
	final, interim string
	detailsURL     string
	externalID     string
}

func (w *write[T]) run(ctx context.Context) error {
	s := w.s
	if s.stale {
		// The last write got no answer: what GitHub holds decides what is still to send.
		done, err := w.refresh(ctx)
		if err != nil {
			return fmt.Errorf("statusmanager: re-read the check run after a write without an answer: %w", err)
		}
		if done {
			return nil
		}
	}
	w.retire()
	attempt := 0
	for {
		done, err := w.step(ctx)
		if err == nil {
			s.stale = false
			if done {
				return nil
			}
			continue
		}
		// Whatever happens next, the session no longer knows what the run holds.
		s.stale = true
		attempt++
		if attempt >= maxWriteAttempts || !s.retryable(err) {
			return err
		}
		if werr := waitRetry(ctx, err, attempt); werr != nil {
			return err
		}
		if done, rerr := w.refresh(ctx); rerr != nil {
			return fmt.Errorf("%w (and re-reading the check run failed: %v)", err, rerr)
		} else if done {
			return nil
		}
	}
}

// retire drops a run the write must not touch: a completed one (never reopened) or one the
// session has left behind (ResetForRerun). The next request creates a new run.
func (w *write[T]) retire() {
	s := w.s
	if s.run == nil {
		return
	}
	if s.run.GetStatus() == StatusCompleted {
		s.floor = max(s.floor, s.run.GetID())
	}
	if s.run.GetID() <= s.floor {
		s.run = nil
	}
}

// step sends the next request: the remaining annotations (up to 50) with the interim
// status, or the last batch with the final status. It reports whether the write is complete.
func (w *write[T]) step(ctx context.Context) (bool, error) {
	s := w.s
	already := 0
	if s.run != nil {
		already = min(s.run.GetOutput().GetAnnotationsCount(), len(w.anns))
	}
	pending := w.anns[already:]
	last := len(pending) <= MaxAnnotationsPerRequest
	batch := pending[:min(len(pending), MaxAnnotationsPerRequest)]
	stat, concl, summary := w.status.Status, w.status.Conclusion, w.final
	if !last {
		stat, concl, summary = StatusInProgress, "", w.interim
		if w.status.Status == StatusQueued {
			stat = StatusQueued
		}
	}
	out := &github.CheckRunOutput{Title: github.String(w.title), Summary: github.String(summary), Annotations: batch}
	var optConcl *string
	if concl != "" {
		optConcl = github.String(concl)
	}
	var details, external *string
	if w.detailsURL != "" {
		details = github.String(w.detailsURL)
	}
	if w.externalID != "" {
		external = github.String(w.externalID)
	}
	var (
		run *github.CheckRun
		err error
	)
	if s.run == nil {
		run, _, err = s.client.Checks.CreateCheckRun(ctx, s.res.Owner, s.res.Repo, github.CreateCheckRunOptions{
			Name: s.sm.identity, HeadSHA: s.sha, DetailsURL: details, ExternalID: external, Status: github.String(stat),
			Conclusion: optConcl, Output: out,
		})
		if err != nil {
			return false, fmt.Errorf("statusmanager: create check run %q on %s at %s: %w", s.sm.identity, s.res, s.sha, err)
		}
	} else {
		// Name has no omitempty in go-github v60: always send it, or GitHub sees "".
		run, _, err = s.client.Checks.UpdateCheckRun(ctx, s.res.Owner, s.res.Repo, s.run.GetID(), github.UpdateCheckRunOptions{
			Name: s.sm.identity, DetailsURL: details, ExternalID: external, Status: github.String(stat), Conclusion: optConcl, Output: out,
		})
		if err != nil {
			return false, fmt.Errorf("statusmanager: update check run %d of %s: %w", s.run.GetID(), s.res, err)
		}
	}
	s.run = run
	return last, nil
}

// refresh re-reads the run after a write whose outcome is unknown. It reports true when this
// write's final request turns out to have been applied.
func (w *write[T]) refresh(ctx context.Context) (bool, error) {
	s := w.s
	var (
		run *github.CheckRun
		err error
	)
	if s.run != nil {
		run, _, err = s.client.Checks.GetCheckRun(ctx, s.res.Owner, s.res.Repo, s.run.GetID())
	} else {
		// The create may have happened: a run of ours newer than every run left behind is it.
		run, err = s.sm.latestRun(ctx, s.client, s.res, s.sha)
		if run != nil && run.GetID() <= s.floor {
			run = nil
		}
	}
	if err != nil {
		return false, err
	}
	s.run, s.stale = run, false
	if run != nil && run.GetStatus() == StatusCompleted && w.status.Status == StatusCompleted &&
		run.GetConclusion() == w.status.Conclusion && run.GetOutput().GetAnnotationsCount() >= len(w.anns) {
		// Only a final request completes a run: if the run carries this write's status (read
		// from the marker, not compared byte for byte, in case GitHub normalises the text),
		// the final request landed.
		if st := s.sm.statusOf(run); st != nil && st.Status == StatusCompleted && st.Conclusion == w.status.Conclusion && st.ObservedGeneration == s.sha {
			return true, nil
		}
	}
	w.retire()
	return false, nil
}

// retryable reports whether a failed write is worth another try, by the classifier given to
// SetRetry; without one, no write is retried here.
func (s *Session[T]) retryable(err error) bool {
	return s.retry != nil && s.retry(err)
}

func waitRetry(ctx context.Context, err error, attempt int) error {
	d := writeBackoff << (attempt - 1)
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) && abuse.RetryAfter != nil {
		if *abuse.RetryAfter > maxRetryAfter {
			return err
		}
		d = max(d, *abuse.RetryAfter)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func validateStatus[T any](st *Status[T]) error {
	switch st.Status {
	case StatusQueued, StatusInProgress:
		if st.Conclusion != "" {
			return fmt.Errorf("%w: conclusion %q is only allowed when status is completed, not %q", ErrInvalidStatus, st.Conclusion, st.Status)
		}
	case StatusCompleted:
		if st.Conclusion == "" {
			return fmt.Errorf("%w: status completed needs a conclusion", ErrInvalidStatus)
		}
		if !settableConclusions[st.Conclusion] {
			return fmt.Errorf("%w: conclusion %q is not one of action_required, cancelled, failure, neutral, success, skipped, timed_out", ErrInvalidStatus, st.Conclusion)
		}
	default:
		return fmt.Errorf("%w: status %q is not queued, in_progress or completed", ErrInvalidStatus, st.Status)
	}
	return nil
}

var annotationLevels = map[string]bool{"notice": true, "warning": true, "failure": true}

func validateAnnotations(anns []*github.CheckRunAnnotation) error {
	for i, a := range anns {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: annotation %d (%s:%d): %s", ErrInvalidStatus, i, a.GetPath(), a.GetStartLine(), fmt.Sprintf(format, args...))
		}
		switch {
		case a == nil:
			return fmt.Errorf("%w: annotation %d is nil", ErrInvalidStatus, i)
		case a.GetPath() == "":
			return bad("path is required")
		case a.GetStartLine() < 1 || a.GetEndLine() < a.GetStartLine():
			return bad("lines %d-%d are not a range of lines starting at 1", a.GetStartLine(), a.GetEndLine())
		case !annotationLevels[a.GetAnnotationLevel()]:
			return bad("annotation_level %q is not notice, warning or failure", a.GetAnnotationLevel())
		case a.GetMessage() == "":
			return bad("message is required")
		case len(a.GetMessage()) > 64*1024 || len(a.GetRawDetails()) > 64*1024:
			return bad("message and raw_details are limited to 64 KB")
		case utf8.RuneCountInString(a.GetTitle()) > 255:
			return bad("title is longer than 255 characters")
		case (a.StartColumn != nil || a.EndColumn != nil) && a.GetStartLine() != a.GetEndLine():
			return bad("columns are only allowed on single-line annotations")
		}
	}
	return nil
}
