package statusmanager

import (
	"fmt"
	"runtime/debug"

	"github.com/google/go-github/v60/github"
)

// ProgressMarkdown is the summary of a run that is queued or in progress: its title, and that
// its results come once it is completed. The details' Markdown describes a result, so it is
// only rendered for a completed status; while the worker reconciles, or waits for a retry
// (which its title says), the run shows this instead of the Markdown of empty details.
func ProgressMarkdown(title string) string {
	return "This check is in progress: " + title + "\n\nIts results appear here once it is completed."
}

// PanicError is returned by SetActualState when a method of the details (Markdown or
// Annotations, the caller's code) panicked: the panic is recovered, so that one bad result
// fails one write instead of the process. It wraps ErrInvalidStatus: writing the same details
// again would panic again.
type PanicError struct {
	// Method is the method that panicked: "Markdown" or "Annotations".
	Method string
	// Value is what the method panicked with.
	Value any
	// Stack is the panicking goroutine's stack, for the logs.
	Stack []byte
}

// Error says which method panicked and with what.
func (e *PanicError) Error() string {
	return fmt.Sprintf("statusmanager: the details' %s method panicked: %v", e.Method, e.Value)
}

// Unwrap returns ErrInvalidStatus: the details cannot be written.
func (e *PanicError) Unwrap() error { return ErrInvalidStatus }

// recovered turns a panic of the details' method into a *PanicError in *err.
func recovered(method string, err *error) {
	if p := recover(); p != nil {
		*err = &PanicError{Method: method, Value: p, Stack: debug.Stack()}
	}
}

// markdownOf and annotationsOf accept methods on T or on *T, so details types work either way.
func markdownOf[T any](details *T) (md string, err error) {
	type markdowner interface{ Markdown() string }
	defer recovered("Markdown", &err)
	if m, ok := any(*details).(markdowner); ok {
		return m.Markdown(), nil
	}
	if m, ok := any(details).(markdowner); ok {
		return m.Markdown(), nil
	}
	return "", nil
}

func annotationsOf[T any](details *T) (anns []*github.CheckRunAnnotation, err error) {
	defer recovered("Annotations", &err)
	if a, ok := any(*details).(Annotated); ok {
		return a.Annotations(), nil
	}
	if a, ok := any(details).(Annotated); ok {
		return a.Annotations(), nil
	}
	return nil, nil
}
