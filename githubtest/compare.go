package githubtest

import (
	"fmt"
	"net/http"
	"strings"
)

// MaxCompareFiles is the most files GitHub lists in a comparison (GET .../compare/{basehead}):
// larger diffs are cut to their first 300 files, with nothing in the answer to say so.
const MaxCompareFiles = 300

const docCompare = "https://docs.github.com/rest/commits/commits#compare-two-commits"

// compareCommits: GET /repos/{owner}/{repo}/compare/{basehead}.
//
// head must be a head commit a pull request of the repository has had (AddPullRequest,
// PushHead), base a base commit or base branch of one of its pull requests, or a head commit;
// anything else is 404, as GitHub answers for a commit it does not know. The diff is always
// the head commit's files from its own pull request's base, whatever base is named: the fake
// keeps no history to take a merge base from. Files are cut to MaxCompareFiles and are listed
// on the first page only (per_page and page paginate the commits, as on GitHub).
func (s *Server) compareCommits(r *http.Request, p map[string]string, a authn) *response {
	page, _ := pageParams(r.URL.Query())
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, errResp := s.repoFor(p, a, docCompare)
	if errResp != nil {
		return errResp
	}
	base, head, ok := strings.Cut(p["basehead"], "...")
	if !ok {
		return errorResponse(http.StatusNotFound, "Not Found", docCompare)
	}
	base, head = strings.ToLower(base), strings.ToLower(head)
	c, ok := repo.commits[head]
	if !ok || !repo.knowsBase(base) {
		return errorResponse(http.StatusNotFound, "Not Found", docCompare)
	}
	api := fmt.Sprintf("%s/repos/%s/%s", s.URL(), repo.owner, repo.name)
	web := fmt.Sprintf("%s/%s/%s", s.WebURL(), repo.owner, repo.name)
	commit := func(sha string) map[string]any {
		return map[string]any{
			"sha": sha, "url": api + "/commits/" + sha, "html_url": web + "/commit/" + sha,
			"commit": map[string]any{"message": "commit " + sha[:min(7, len(sha))]},
		}
	}
	files := c.files
	if len(files) > MaxCompareFiles {
		files = files[:MaxCompareFiles]
	}
	commits := []any{commit(head)}
	items := []any{}
	if page > 1 {
		commits, files = []any{}, nil
	}
	for _, f := range files {
		items = append(items, s.fileJSON(repo, head, f))
	}
	resp := jsonResponse(http.StatusOK, map[string]any{
		"url":               api + "/compare/" + base + "..." + head,
		"html_url":          web + "/compare/" + base + "..." + head,
		"permalink_url":     web + "/compare/" + repo.owner + ":" + base + "..." + repo.owner + ":" + head,
		"diff_url":          web + "/compare/" + base + "..." + head + ".diff",
		"patch_url":         web + "/compare/" + base + "..." + head + ".patch",
		"base_commit":       commit(base),
		"merge_base_commit": commit(c.base),
		"status":            "ahead",
		"ahead_by":          1,
		"behind_by":         0,
		"total_commits":     1,
		"commits":           commits,
		"files":             items,
	})
	resp.lastModified = c.at
	return resp
}

// knowsBase reports whether sha (lower case) or a branch name is something the repository's
// pull requests are based on, or one of their head commits. s.mu must be held.
func (r *repoState) knowsBase(ref string) bool {
	if _, ok := r.commits[ref]; ok {
		return true
	}
	for _, p := range r.prs {
		if strings.EqualFold(p.pr.BaseSHA, ref) || strings.EqualFold(p.pr.BaseRef, ref) {
			return true
		}
	}
	return false
}
