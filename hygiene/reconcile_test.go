package hygiene_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/hygiene"
)

const (
	owner = "octo-org"
	repo  = "hello-world"
	sha   = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
)

func TestReconcile(t *testing.T) {
	s := githubtest.NewTestServer(t)
	s.AddRepo(owner, repo)
	var files []githubtest.File
	for i := range 150 {
		files = append(files, githubtest.File{
			Filename: fmt.Sprintf("pkg/f%03d.go", i),
			Status:   "modified",
			Patch:    fmt.Sprintf("@@ -1,2 +1,3 @@\n package p\n+var x%d = %d\n \n", i, i),
		})
	}
	// Problems on the first page, on the second page, and files that must not be reported.
	files[3].Patch = "@@ -10,2 +10,3 @@ func f() {\n a\n+=======\n b\n"
	files[120].Patch = "@@ -0,0 +1,2 @@\n+-----BEGIN OPENSSH PRIVATE KEY-----\n+b3BlbnNzaC1rZXktdjE=\n"
	files[120].Status = "added"
	files[130] = githubtest.File{Filename: "gone.go", Status: "removed", Patch: "@@ -1 +0,0 @@\n-=======\n"}
	files[131] = githubtest.File{Filename: "docs/new.md", PreviousFilename: "docs/old.md", Status: "renamed",
		Patch: "@@ -1,1 +1,5 @@\n Title\n+=======\n+<<<<<<< HEAD\n+=======\n+>>>>>>> b\n"}
	files[140] = githubtest.File{Filename: "README.md", Status: "modified", Patch: "@@ -1 +1,2 @@\n Title\n+=======\n"}
	files[141] = githubtest.File{Filename: "assets/blob.bin", Status: "added", Additions: 5000}
	s.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: sha, Files: files})

	d, err := hygiene.Reconcile(context.Background(), s.Client(), owner, repo, 7, hygiene.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Count(githubtest.RouteListPullRequestFiles); n != 2 {
		t.Errorf("%d list requests, want 2 pages of 100", n)
	}
	type at struct {
		Path string
		Line int
		Kind hygiene.Kind
	}
	var got []at
	for _, f := range d.Findings {
		got = append(got, at{f.Path, f.Line, f.Kind})
	}
	want := []at{
		{"assets/blob.bin", 0, hygiene.KindLargeFile},
		{"docs/new.md", 3, hygiene.KindConflictMarker},
		{"docs/new.md", 4, hygiene.KindConflictMarker},
		{"docs/new.md", 5, hygiene.KindConflictMarker},
		{"pkg/f003.go", 11, hygiene.KindConflictMarker},
		{"pkg/f120.go", 1, hygiene.KindPrivateKey},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("findings = %v\nwant %v", got, want)
	}
	if d.Files != 149 || d.Removed != 1 || d.Failures != 5 || d.Warnings != 1 || d.Truncated || d.FileListCapped {
		t.Errorf("details = %+v", d)
	}
	if d.Conclusion() != "failure" || d.Title() != "6 problems in 4 files" {
		t.Errorf("conclusion %q, title %q", d.Conclusion(), d.Title())
	}
	if as := d.Annotations(); len(as) != 6 {
		t.Errorf("%d annotations, want 6", len(as))
	}
}

func TestReconcileClean(t *testing.T) {
	s := githubtest.NewTestServer(t)
	s.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 1, HeadSHA: sha, Files: []githubtest.File{
		{Filename: "a.go", Status: "added", Patch: "@@ -0,0 +1 @@\n+package a\n"},
	}})
	d, err := hygiene.Reconcile(context.Background(), s.Client(), owner, repo, 1, hygiene.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Conclusion() != "success" || d.Title() != "No problems in 1 file" || !strings.HasPrefix(d.Markdown(), "No findings") {
		t.Errorf("details %+v: %q, %q", d, d.Conclusion(), d.Title())
	}
}

// TestReconcileStatusFits checks that a hostile pull request (every file a finding, long paths) gives a
// status whose indented JSON and Markdown fit in one check run summary.
func TestReconcileStatusFits(t *testing.T) {
	s := githubtest.NewTestServer(t)
	var files []githubtest.File
	for i := range 300 {
		files = append(files, githubtest.File{
			Filename: fmt.Sprintf("%s/<&>%03d.go", strings.Repeat("very-long-directory-name/", 12), i),
			Patch:    "@@ -1 +1,3 @@\n-a\n+<<<<<<< a\n+=======\n+>>>>>>> b\n",
		})
	}
	s.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 2, HeadSHA: sha, Files: files})
	d, err := hygiene.Reconcile(context.Background(), s.Client(), owner, repo, 2, hygiene.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Truncated || d.Failures != 900 || len(d.Findings) == 0 || len(d.Findings) > hygiene.DefaultMaxFindings {
		t.Errorf("truncated %v, failures %d, kept %d", d.Truncated, d.Failures, len(d.Findings))
	}
	// The statusmanager's layout: Status[T] as indented JSON in a comment after the Markdown.
	status, err := json.MarshalIndent(map[string]any{
		"observedGeneration": sha, "status": "completed", "conclusion": d.Conclusion(), "details": d,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kept %d findings: status %d bytes, Markdown %d bytes", len(d.Findings), len(status), len(d.Markdown()))
	if total := len(status) + len(d.Markdown()) + 200; total > 65535 {
		t.Errorf("status %d bytes + Markdown %d bytes do not fit in a summary", len(status), len(d.Markdown()))
	}
	if d.Conclusion() != "failure" || !strings.Contains(d.Title(), "900 problems") {
		t.Errorf("conclusion %q, title %q", d.Conclusion(), d.Title())
	}
}

func TestReconcileErrors(t *testing.T) {
	s := githubtest.NewTestServer(t)
	s.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: sha})

	t.Run("not found", func(t *testing.T) {
		_, err := hygiene.Reconcile(context.Background(), s.Client(), owner, repo, 99, hygiene.Options{})
		var er *github.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != http.StatusNotFound {
			t.Fatalf("err = %v, want a 404 *github.ErrorResponse", err)
		}
		if want := "hygiene: list files of octo-org/hello-world#99: "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("err = %q, want the prefix %q", err, want)
		}
	})
	t.Run("server error", func(t *testing.T) {
		s.FailNext(githubtest.RouteListPullRequestFiles, 1, http.StatusBadGateway)
		_, err := hygiene.Reconcile(context.Background(), s.Client(), owner, repo, 7, hygiene.Options{})
		var er *github.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != http.StatusBadGateway {
			t.Fatalf("err = %v, want a 502 *github.ErrorResponse", err)
		}
	})
	t.Run("nil client", func(t *testing.T) {
		if _, err := hygiene.Reconcile(context.Background(), nil, owner, repo, 7, hygiene.Options{}); err == nil {
			t.Fatal("no error for a nil client")
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := hygiene.Reconcile(ctx, s.Client(), owner, repo, 7, hygiene.Options{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// TestReconcilePaginationLoop guards against a server whose Link header never moves forward.
func TestReconcilePaginationLoop(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", fmt.Sprintf(`<http://%s%s?page=1&per_page=100>; rel="next"`, r.Host, r.URL.Path))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `[{"filename":"a.go","status":"modified","patch":"@@ -1 +1 @@\n-a\n+b\n"}]`)
	}))
	defer srv.Close()
	gh := github.NewClient(srv.Client())
	gh.BaseURL, _ = url.Parse(srv.URL + "/")
	_, err := hygiene.Reconcile(context.Background(), gh, owner, repo, 7, hygiene.Options{})
	if err == nil || !strings.Contains(err.Error(), "pagination does not end") {
		t.Fatalf("err = %v, want a pagination error", err)
	}
}

// TestReconcileKeepsMaxFindings checks that ordinary findings are capped by count, not by the JSON budget.
func TestReconcileKeepsMaxFindings(t *testing.T) {
	s := githubtest.NewTestServer(t)
	var files []githubtest.File
	for i := range 150 {
		files = append(files, githubtest.File{
			Filename: fmt.Sprintf("internal/service/handler%03d.go", i),
			Patch:    "@@ -0,0 +1 @@\n+-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
		})
	}
	s.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 3, HeadSHA: sha, Files: files})
	d, err := hygiene.Reconcile(context.Background(), s.Client(), owner, repo, 3, hygiene.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Findings) != hygiene.DefaultMaxFindings || !d.Truncated || d.Failures != 150 {
		t.Errorf("kept %d, truncated %v, failures %d", len(d.Findings), d.Truncated, d.Failures)
	}
	if d.Title() != "150 problems in at least 100 files" {
		t.Errorf("title %q", d.Title())
	}
}
