package githubtest

import (
	"fmt"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestPullRequest(t *testing.T) {
	s, c := fixture(t, WithWebURL("https://github.example.com/"))
	s.AddPullRequest(owner, repo, PullRequest{Number: 7, Title: "Add x", HeadSHA: sha1x, HeadRef: "feature", Draft: true,
		Files: []File{{Filename: "a.go", Status: "added", Patch: "@@ -0,0 +1,2 @@\n+a\n+b"}}})
	pr, _, err := c.PullRequests.Get(ctx, "Octo-Org", repo, 7)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetNumber() != 7 || pr.GetState() != "open" || pr.GetTitle() != "Add x" || !pr.GetDraft() ||
		pr.GetHTMLURL() != "https://github.example.com/octo-org/hello-world/pull/7" ||
		pr.GetURL() != s.URL()+"/repos/octo-org/hello-world/pulls/7" {
		t.Errorf("pr %+v", pr)
	}
	if pr.GetHead().GetSHA() != sha1x || pr.GetHead().GetRef() != "feature" || pr.GetHead().GetRepo().GetFullName() != owner+"/"+repo ||
		pr.GetBase().GetRef() != "main" || pr.GetBase().GetRepo().GetName() != repo || pr.GetUser().GetLogin() == "" {
		t.Errorf("head/base %+v %+v", pr.GetHead(), pr.GetBase())
	}
	if pr.GetAdditions() != 2 || pr.GetChangedFiles() != 1 {
		t.Errorf("counts %d %d", pr.GetAdditions(), pr.GetChangedFiles())
	}
	// Upsert and new head.
	s.AddPullRequest(owner, repo, PullRequest{Number: 7, Title: "Renamed", HeadSHA: sha1x, State: "closed"})
	s.PushHead(owner, repo, 7, sha2x, []File{{Filename: "b.go", Patch: "-x\n+y"}})
	pr, _, err = c.PullRequests.Get(ctx, owner, repo, 7)
	if err != nil || pr.GetTitle() != "Renamed" || pr.GetState() != "closed" || pr.GetHead().GetSHA() != sha2x {
		t.Fatalf("after upsert: %+v %v", pr, err)
	}
	files, _, err := c.PullRequests.ListFiles(ctx, owner, repo, 7, nil)
	if err != nil || len(files) != 1 || files[0].GetStatus() != "modified" || files[0].GetAdditions() != 1 || files[0].GetDeletions() != 1 || files[0].GetChanges() != 2 {
		t.Fatalf("files %+v %v", files, err)
	}
	_, _, err = c.PullRequests.Get(ctx, owner, repo, 8)
	errResp(t, err, 404)
}

func TestPullRequestFilesPagination(t *testing.T) {
	s, c := fixture(t)
	var files []File
	for i := 0; i < 130; i++ {
		files = append(files, File{Filename: fmt.Sprintf("dir/f%03d.go", i), Status: "modified", Patch: "@@ -1 +1 @@\n-a\n+b", Additions: 5, Deletions: 3})
	}
	files[0].Status = "renamed"
	files[0].PreviousFilename = "old.go"
	s.AddPullRequest(owner, repo, PullRequest{Number: 1, HeadSHA: sha1x, Files: files})
	got, resp, err := c.PullRequests.ListFiles(ctx, owner, repo, 1, nil)
	if err != nil || len(got) != 30 || resp.NextPage != 2 || resp.LastPage != 5 {
		t.Fatalf("default page: %d %d %d %v", len(got), resp.NextPage, resp.LastPage, err)
	}
	f := got[0]
	if f.GetFilename() != "dir/f000.go" || f.GetStatus() != "renamed" || f.GetPreviousFilename() != "old.go" || f.GetAdditions() != 5 ||
		f.GetDeletions() != 3 || f.GetChanges() != 8 || f.GetPatch() == "" || len(f.GetSHA()) != 40 ||
		f.GetBlobURL() != "https://github.com/octo-org/hello-world/blob/"+sha1x+"/dir/f000.go" || f.GetRawURL() == "" || f.GetContentsURL() == "" {
		t.Errorf("file %+v", f)
	}
	var all []*github.CommitFile
	opts := &github.ListOptions{PerPage: 1000}
	for {
		page, resp, err := c.PullRequests.ListFiles(ctx, owner, repo, 1, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 100 {
			t.Fatalf("per_page not clamped: %d", len(page))
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(all) != 130 || all[129].GetFilename() != "dir/f129.go" {
		t.Fatalf("%d files", len(all))
	}
}
