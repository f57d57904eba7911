// Package statusmanager keeps a reconciler's Kubernetes-style status in GitHub check runs:
// a commit SHA is a generation, and the check run named after the reconciler is its status.
//
// A reconciler creates one StatusManager for its identity (the check run name) and, for each
// pull request and head SHA it handles, a Session. ObservedState reads back the Status the
// reconciler last wrote on that SHA (embedded as JSON in HTML comments at the end of the
// check run summary, after the details' Markdown); SetActualState writes the new one,
// creating the check run on the first write and updating it afterwards. Only runs created by
// the reconciler's own GitHub App are trusted, so a run of the same name written by anyone
// else never makes the reconciler skip work.
//
// Details may implement Markdown() string to render the visible summary, and Annotated to
// attach annotations to lines of the pull request's files; the summary is cut to GitHub's
// 65,535-byte limit and annotations are written 50 a request, each exactly once. The
// Markdown is rendered only for a completed status: a queued or in-progress run shows
// ProgressMarkdown of its title. A panic in either method fails the write with a *PanicError
// instead of crashing the caller. StatusQueued, StatusInProgress, StatusCompleted and the
// Conclusion constants name the values GitHub accepts.
//
// The API is built on go-github v60 (github.com/google/go-github/v60): *github.Client and
// *github.CheckRunAnnotation appear in it, so go-github's major version is part of this
// package's API and stays at v60 (it has github.String, not github.Ptr).
//
// The package github.com/prreconciler/prreconciler/githubtest is an in-process
// fake of the GitHub API for testing reconcilers built on this package.
package statusmanager
