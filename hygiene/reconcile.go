package hygiene

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-github/v60/github"
)

const (
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
	opts = opts.withDefaults()
	c := newCollector(opts.MaxFindings, findingsJSONBudget)
	var d Details
	listed := 0
	list := &github.ListOptions{PerPage: 100}
	for pages := 1; ; pages++ {
		files, resp, err := gh.PullRequests.ListFiles(ctx, owner, repo, number, list)
		if err != nil {
			return Details{}, fmt.Errorf("hygiene: list files of %s/%s#%d: %w", owner, repo, number, err)
		}
		for _, f := range files {
			if f == nil {
				continue
			}
			listed++
			if f.GetStatus() == "removed" {
				d.Removed++
				continue
			}
			d.Files++
			checkFile(c, f, opts)
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		if resp.NextPage <= list.Page || pages >= maxPages {
			return Details{}, fmt.Errorf("hygiene: list files of %s/%s#%d: pagination does not end (next page %d after page %d)",
				owner, repo, number, resp.NextPage, max(list.Page, 1))
		}
		list.Page = resp.NextPage
	}
	d.Findings = c.findings()
	sortFindings(d.Findings)
	d.Failures, d.Warnings = c.failures, c.warnings
	d.Truncated = c.omitted > 0
	d.FileListCapped = listed >= maxListedFiles
	return d, nil
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
