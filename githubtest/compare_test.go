package githubtest

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestCompareCommits(t *testing.T) {
	s, c := fixture(t)
	many := make([]File, 450)
	for i := range many {
		many[i] = File{Filename: fmt.Sprintf("f%03d.go", i), Patch: "@@ -0,0 +1 @@\n+x"}
	}
	s.AddPullRequest(owner, repo, PullRequest{Number: 7, HeadSHA: sha1x, Files: []File{{Filename: "a.go", Status: "added", Patch: "@@ -0,0 +1,2 @@\n+a\n+b"}}})
	s.PushHead(owner, repo, 7, sha2x, many)
	pr, _, err := c.PullRequests.Get(ctx, owner, repo, 7)
	if err != nil {
		t.Fatal(err)
	}
	base := pr.GetBase().GetSHA()

	tests := []struct {
		name       string
		base, head string
		opts       *github.ListOptions
		wantStatus int
		wantFiles  int
		wantFirst  string
	}{
		{name: "the old head keeps its own diff", base: base, head: sha1x, wantStatus: 200, wantFiles: 1, wantFirst: "a.go"},
		{name: "the head: cut to 300 files", base: base, head: sha2x, wantStatus: 200, wantFiles: MaxCompareFiles, wantFirst: "f000.go"},
		{name: "base branch by name", base: "main", head: sha1x, wantStatus: 200, wantFiles: 1, wantFirst: "a.go"},
		{name: "files on the first page only", base: base, head: sha1x, opts: &github.ListOptions{Page: 2}, wantStatus: 200},
		{name: "unknown head", base: base, head: "0000000000000000000000000000000000000003", wantStatus: 404},
		{name: "unknown base", base: "0000000000000000000000000000000000000003", head: sha1x, wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmp, resp, err := c.Repositories.CompareCommits(ctx, owner, repo, tt.base, tt.head, tt.opts)
			if resp == nil || resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %v (%v), want %d", resp, err, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusOK {
				return
			}
			if len(cmp.Files) != tt.wantFiles || (tt.wantFirst != "" && cmp.Files[0].GetFilename() != tt.wantFirst) {
				t.Errorf("%d files, want %d starting with %q", len(cmp.Files), tt.wantFiles, tt.wantFirst)
			}
			if cmp.GetMergeBaseCommit().GetSHA() != base || cmp.GetStatus() != "ahead" {
				t.Errorf("merge base %q, status %q", cmp.GetMergeBaseCommit().GetSHA(), cmp.GetStatus())
			}
		})
	}

	// A repeated comparison is answered 304 to its ETag and costs no rate limit.
	req, _ := c.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/compare/%s...%s", owner, repo, base, sha1x), nil)
	resp, err := c.Do(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	used := s.RateLimitUsed()
	if resp, _ = c.Do(ctx, req, nil); resp == nil || resp.StatusCode != http.StatusNotModified || s.RateLimitUsed() != used {
		t.Errorf("conditional compare: %v, %d points", resp, s.RateLimitUsed()-used)
	}
}
