package hygiene

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-github/v60/github"
)

const (
	// MaxCompareFiles is the most files GitHub lists in a comparison of two commits: a larger
	// diff is cut to its first 300 files, and nothing in the answer says so.
	MaxCompareFiles = 300
	// maxListedFiles is GitHub's cap on the files the pull request files API lists.
	maxListedFiles = 3000
	// maxPages stops a server whose pagination never ends (GitHub's cap is 30 pages of 100).
	maxPages = 100
	// findingsJSONBudget bounds the JSON of the findings Reconcile keeps, so that the status (stored as
	// indented JSON in the 65,535-byte check run summary) always fits with room for the Markdown, whatever
	// the length of the paths.
	findingsJSONBudget = 32 << 10
)

// Reconcile reads every changed file of pull request owner/repo#number (PullRequests.ListFiles, 100 a
// page until there is no next page; GitHub lists at most 3,000 files) and checks each one: removed files
// are skipped, renamed files are checked under their new name, and files listed without a patch (binary,
// or too large to diff) are reported as large when their additions count exceeds opts.MaxFileLines.
//
// At most opts.MaxFindings findings are kept (and no more than about 32 KiB of their JSON); the rest are
// counted and Details.Truncated is set. Errors from GitHub are returned wrapped with %w, e.g.
// "hygiene: list files of o/r#7: ...", so that callers can classify them with errors.As.
func Reconcile(ctx context.Context, gh *github.Client, owner, repo string, number int, opts Options) (Details, error) {
	if gh == nil {
		return Details{}, errors.New("hygiene: nil GitHub client")
	}
	files, err := listFiles(ctx, gh, owner, repo, number, 1)
	if err != nil {
		return Details{}, err
	}
	d := check(files, opts)
	d.FileListCapped = len(files) >= maxListedFiles
	return d, nil
}

// listFiles lists the files of pull request owner/repo#number from page (of 100) on.
func listFiles(ctx context.Context, gh *github.Client, owner, repo string, number, page int) ([]*github.CommitFile, error) {
	var all []*github.CommitFile
	list := &github.ListOptions{PerPage: 100, Page: page}
	for pages := 1; ; pages++ {
		files, resp, err := gh.PullRequests.ListFiles(ctx, owner, repo, number, list)
		if err != nil {
			return nil, fmt.Errorf("hygiene: list files of %s/%s#%d: %w", owner, repo, number, err)
		}
		all = append(all, files...)
		if resp == nil || resp.NextPage == 0 {
			return all, nil
		}
		if resp.NextPage <= list.Page || pages >= maxPages {
			return nil, fmt.Errorf("hygiene: list files of %s/%s#%d: pagination does not end (next page %d after page %d)",
				owner, repo, number, resp.NextPage, max(list.Page, 1))
		}
		list.Page = resp.NextPage
	}
}

// ReconcileCommit checks the diff of commit head of owner/repo from base, the commit of the
// pull request's base branch: the comparison base...head, which is what the pull request
// shows when head is its head (the diff from their merge base). It is one request, answered
// the same whatever the pull request's head is by now, so a request for an older commit
// checks that commit's own diff.
//
// complete is false when GitHub listed MaxCompareFiles files: the diff may have more, which
// only the pull request's files (Reconcile) list; d then holds the files listed so far.
// Errors from GitHub are returned wrapped with %w, e.g. "hygiene: compare o/r base...head: ...".
func ReconcileCommit(ctx context.Context, gh *github.Client, owner, repo, base, head string, opts Options) (d Details, complete bool, err error) {
	if gh == nil {
		return Details{}, false, errors.New("hygiene: nil GitHub client")
	}
	files, err := compare(ctx, gh, owner, repo, base, head)
	if err != nil {
		return Details{}, false, err
	}
	return check(files, opts), len(files) < MaxCompareFiles, nil
}

// compare returns the files of the comparison base...head (at most MaxCompareFiles).
func compare(ctx context.Context, gh *github.Client, owner, repo, base, head string) ([]*github.CommitFile, error) {
	cmp, _, err := gh.Repositories.CompareCommits(ctx, owner, repo, base, head, nil)
	if err != nil {
		return nil, fmt.Errorf("hygiene: compare %s/%s %.12s...%.12s: %w", owner, repo, base, head, err)
	}
	return cmp.Files, nil
}

// check checks listed files: removed files are counted and skipped, renamed ones checked
// under their new name; at most opts.MaxFindings findings are kept.
func check(files []*github.CommitFile, opts Options) Details {
	opts = opts.withDefaults()
	c := newCollector(opts.MaxFindings, findingsJSONBudget)
	var d Details
	for _, f := range files {
		if f == nil {
			continue
		}
		if f.GetStatus() == "removed" {
			d.Removed++
			continue
		}
		d.Files++
		checkFile(c, f, opts)
	}
	d.Findings = c.findings()
	sortFindings(d.Findings)
	d.Failures, d.Warnings = c.failures, c.warnings
	d.Truncated = c.omitted > 0
	return d
}

// checkFile adds the findings of one listed file (not removed) to c.
func checkFile(c *collector, f *github.CommitFile, opts Options) {
	name := f.GetFilename()
	if f.GetPatch() != "" {
		checkPatch(c, name, f.GetPatch(), opts)
		return
	}
	if n := f.GetAdditions(); n > opts.MaxFileLines {
		c.add(Finding{Path: name, Kind: KindLargeFile, Level: LevelWarning,
			Message: fmt.Sprintf("File adds %d lines (GitHub shows no diff for it: binary or too large); the limit is %d.",
				n, opts.MaxFileLines)})
	}
}
