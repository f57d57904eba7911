package githubtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

func TestCreateGetUpdate(t *testing.T) {
	s, c := fixture(t)
	s.AddPullRequest(owner, repo, PullRequest{Number: 7, Title: "t", HeadSHA: sha1x})
	s.AddPullRequest(owner, repo, PullRequest{Number: 8, Title: "closed", HeadSHA: sha1x, State: "closed"})
	run := mustCreate(t, c, github.CreateCheckRunOptions{
		Name: "lint", HeadSHA: strings.ToUpper(sha1x), ExternalID: github.String("ext-1"),
		DetailsURL: github.String("https://example.com/logs"), Status: github.String("in_progress"),
		Output: &github.CheckRunOutput{Title: github.String("T"), Summary: github.String("S"), Text: github.String("X")},
	})
	if run.GetID() < 1<<32 || run.GetHeadSHA() != sha1x || run.GetStatus() != "in_progress" || run.Conclusion != nil {
		t.Fatalf("created %+v", run)
	}
	if run.GetApp().GetID() != s.App().ID || run.GetApp().GetSlug() != s.App().Slug || run.GetCheckSuite().GetID() == 0 {
		t.Errorf("app/suite: %+v %+v", run.GetApp(), run.GetCheckSuite())
	}
	if run.GetNodeID() == "" || run.GetExternalID() != "ext-1" || run.GetDetailsURL() != "https://example.com/logs" {
		t.Errorf("fields: %+v", run)
	}
	wantURL := fmt.Sprintf("%s/repos/%s/%s/check-runs/%d", s.URL(), owner, repo, run.GetID())
	if run.GetURL() != wantURL || run.GetHTMLURL() != fmt.Sprintf("https://github.com/%s/%s/runs/%d", owner, repo, run.GetID()) {
		t.Errorf("urls %q %q", run.GetURL(), run.GetHTMLURL())
	}
	o := run.GetOutput()
	if o.GetTitle() != "T" || o.GetSummary() != "S" || o.GetText() != "X" || o.GetAnnotationsURL() != wantURL+"/annotations" || o.AnnotationsCount == nil {
		t.Errorf("output %+v", o)
	}
	if len(run.PullRequests) != 1 || run.PullRequests[0].GetNumber() != 7 || run.PullRequests[0].GetHead().GetSHA() != sha1x {
		t.Errorf("pull_requests %+v", run.PullRequests)
	}
	if run.StartedAt == nil || run.CompletedAt != nil {
		t.Errorf("timestamps %v %v", run.StartedAt, run.CompletedAt)
	}

	// Owner and repo are case-insensitive.
	got, _, err := c.Checks.GetCheckRun(ctx, "OCTO-ORG", "Hello-World", run.GetID())
	if err != nil || got.GetName() != "lint" {
		t.Fatalf("GetCheckRun: %v %v", got, err)
	}

	// conclusion implies completed, completed_at defaulted.
	upd, _, err := c.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: "lint2", Conclusion: github.String("success")})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetStatus() != "completed" || upd.GetConclusion() != "success" || upd.CompletedAt == nil || upd.GetName() != "lint2" {
		t.Fatalf("updated %+v", upd)
	}
	if upd.GetOutput().GetText() != "X" {
		t.Errorf("text not kept: %+v", upd.GetOutput())
	}

	// Timestamps are RFC 3339 without fractional seconds, nullable fields are null.
	m, _, err := rawJSON(t, c, "GET", fmt.Sprintf("repos/%s/%s/check-runs/%d", owner, repo, run.GetID()), "")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	for _, k := range []string{"started_at", "completed_at"} {
		if v, _ := m[k].(string); !re.MatchString(v) {
			t.Errorf("%s = %v", k, m[k])
		}
	}
	for _, k := range []string{"id", "node_id", "head_sha", "name", "url", "html_url", "details_url", "status", "conclusion", "started_at", "completed_at", "external_id", "check_suite", "output", "app", "pull_requests"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing required key %q", k)
		}
	}

	// Unknown run and repository: 404.
	_, _, err = c.Checks.GetCheckRun(ctx, owner, repo, 12345)
	errResp(t, err, 404)
	_, _, err = c.Checks.GetCheckRun(ctx, owner, "nope", run.GetID())
	errResp(t, err, 404)

	// CheckRuns observes the state.
	runs := s.CheckRuns(owner, repo, sha1x)
	if len(runs) != 1 || runs[0].Conclusion != "success" || runs[0].Title != "T" || runs[0].AppID != s.App().ID {
		t.Errorf("CheckRuns %+v", runs)
	}
}

func TestCreateCompletedDefaults(t *testing.T) {
	_, c := fixture(t)
	at := github.Timestamp{Time: time.Date(2024, 1, 2, 3, 4, 5, 123e6, time.UTC)}
	run := mustCreate(t, c, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x, Conclusion: github.String("neutral"), StartedAt: &at, CompletedAt: &at})
	if run.GetStatus() != "completed" || !run.GetCompletedAt().Time.Equal(at.Truncate(time.Second)) || !run.GetStartedAt().Time.Equal(at.Truncate(time.Second)) {
		t.Fatalf("%+v", run)
	}
	run = mustCreate(t, c, github.CreateCheckRunOptions{Name: "b", HeadSHA: sha1x, Status: github.String("completed"), Conclusion: github.String("failure")})
	if run.CompletedAt == nil || time.Since(run.GetCompletedAt().Time) > time.Minute {
		t.Fatalf("completed_at not defaulted: %+v", run)
	}
	run = mustCreate(t, c, github.CreateCheckRunOptions{Name: "c", HeadSHA: sha1x})
	if run.GetStatus() != "queued" {
		t.Fatalf("default status %q", run.GetStatus())
	}
}

func TestCompletedRunIsKept(t *testing.T) {
	s, c := fixture(t)
	run := mustCreate(t, c, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x, Conclusion: github.String("failure")})
	before := s.CheckRuns(owner, repo, sha1x)[0]
	upd, _, err := c.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{
		Name: "a", Status: github.String("in_progress"),
		Output: &github.CheckRunOutput{Title: github.String("new"), Summary: github.String("sum"),
			Annotations: []*github.CheckRunAnnotation{annotation(1)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetStatus() != "completed" || upd.GetConclusion() != "failure" || !upd.GetCompletedAt().Time.Equal(before.CompletedAt) {
		t.Errorf("completed state changed: %+v", upd)
	}
	if upd.GetOutput().GetTitle() != "new" || upd.GetOutput().GetAnnotationsCount() != 1 {
		t.Errorf("other fields not applied: %+v", upd.GetOutput())
	}
	_, _, err = c.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: "a", Conclusion: github.String("success")})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CheckRuns(owner, repo, sha1x)[0]; got.Conclusion != "failure" {
		t.Errorf("conclusion changed to %q", got.Conclusion)
	}
}

func TestStrictCompleted(t *testing.T) {
	_, c := fixture(t, WithStrictCompleted())
	run := mustCreate(t, c, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x, Conclusion: github.String("failure")})
	_, _, err := c.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: "a", Status: github.String("in_progress")})
	errResp(t, err, 422)
	_, _, err = c.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: "a", Conclusion: github.String("success")})
	errResp(t, err, 422)
	// Same conclusion, other fields: fine.
	_, _, err = c.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: "b", Conclusion: github.String("failure")})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOtherAppCannotUpdate(t *testing.T) {
	s, c := fixture(t)
	other := s.AddApp("other")
	oc := s.ClientFor(other, s.Install(other, owner))
	run := mustCreate(t, c, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
	_, _, err := oc.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: "a", Conclusion: github.String("success")})
	er := errResp(t, err, 403)
	want := fmt.Sprintf("Invalid app_id `%d` - check run can only be modified by the GitHub App that created it.", s.App().ID)
	if er.Message != want {
		t.Errorf("message %q, want %q", er.Message, want)
	}
	// It can read it.
	if _, _, err := oc.Checks.GetCheckRun(ctx, owner, repo, run.GetID()); err != nil {
		t.Fatal(err)
	}
	_, err = oc.Checks.ReRequestCheckRun(ctx, owner, repo, run.GetID())
	errResp(t, err, 403)
	if _, err := c.Checks.ReRequestCheckRun(ctx, owner, repo, run.GetID()); err != nil {
		t.Fatal(err)
	}
}

func TestNonInstallationCredentials(t *testing.T) {
	s, c := fixture(t)
	body := `{"name":"a","head_sha":"` + sha1x + `"}`
	for name, auth := range map[string]string{
		"unknown token": "token ghs_unknown",
		"bearer junk":   "Bearer ghp_0123456789",
		"basic":         "Basic Zm9vOmJhcg==",
	} {
		req, _ := http.NewRequest("POST", s.URL()+"/repos/"+owner+"/"+repo+"/check-runs", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
		}
	}
	// App JWT on a check run write: 403.
	j, _ := SignJWT(s.App(), time.Now(), time.Minute)
	jc := github.NewClient(nil).WithAuthToken(j)
	jc.BaseURL = c.BaseURL
	_, _, err := jc.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
	errResp(t, err, 403)
	// No credentials: 401 on writes, 404 on reads (private repository).
	nc := github.NewClient(nil)
	nc.BaseURL = c.BaseURL
	_, _, err = nc.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
	errResp(t, err, 401)
	_, _, err = nc.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil)
	errResp(t, err, 404)
	// An expired installation token: 401 Bad credentials.
	tok, _ := s.IssueToken(s.InstallationID(s.App(), owner))
	tc := github.NewClient(nil).WithAuthToken(tok)
	tc.BaseURL = c.BaseURL
	if _, _, err := tc.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil); err != nil {
		t.Fatal(err)
	}
	s.ExpireTokens()
	_, _, err = tc.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil)
	if er := errResp(t, err, 401); er.Message != "Bad credentials" {
		t.Errorf("message %q", er.Message)
	}
	// Server.Client renews its token.
	if _, _, err := c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil); err != nil {
		t.Fatal(err)
	}
}

func TestInstallationScope(t *testing.T) {
	s, c := fixture(t)
	s.AddRepo("someone-else", "r")
	other := s.AddApp("other")
	s.AddRepo("third", "r")
	// The default client works for every owner of the default App.
	if _, _, err := c.Checks.CreateCheckRun(ctx, "someone-else", "r", github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x}); err != nil {
		t.Fatal(err)
	}
	// An installation token only sees its owner's repositories.
	oc := s.ClientFor(other, s.Install(other, owner))
	_, _, err := oc.Checks.ListCheckRunsForRef(ctx, "third", "r", sha1x, nil)
	errResp(t, err, 404)
	if s.InstallationID(other, "third") != 0 || s.InstallationID(s.App(), "THIRD") == 0 {
		t.Error("InstallationID")
	}
}

func annotation(i int) *github.CheckRunAnnotation {
	return &github.CheckRunAnnotation{
		Path: github.String(fmt.Sprintf("f%d.go", i)), StartLine: github.Int(i + 1), EndLine: github.Int(i + 1),
		AnnotationLevel: github.String("warning"), Message: github.String(fmt.Sprintf("m%d", i)),
	}
}

func annotations(from, n int) []*github.CheckRunAnnotation {
	var out []*github.CheckRunAnnotation
	for i := from; i < from+n; i++ {
		out = append(out, annotation(i))
	}
	return out
}

func TestAnnotationsAppendAndPaginate(t *testing.T) {
	s, c := fixture(t)
	run := mustCreate(t, c, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x,
		Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"), Annotations: annotations(0, 50)}})
	for i := 1; i < 3; i++ {
		upd, _, err := c.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: "a",
			Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"), Annotations: annotations(i*50, 50)}})
		if err != nil {
			t.Fatal(err)
		}
		if upd.GetOutput().GetAnnotationsCount() != (i+1)*50 {
			t.Fatalf("annotations_count %d", upd.GetOutput().GetAnnotationsCount())
		}
	}
	var all []*github.CheckRunAnnotation
	opts := &github.ListOptions{PerPage: 100}
	pages := 0
	for {
		got, resp, err := c.Checks.ListCheckRunAnnotations(ctx, owner, repo, run.GetID(), opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, got...)
		if resp.NextPage == 0 {
			break
		}
		if resp.LastPage != 2 {
			t.Errorf("LastPage %d", resp.LastPage)
		}
		opts.Page = resp.NextPage
	}
	if pages != 2 || len(all) != 150 {
		t.Fatalf("pages %d, annotations %d", pages, len(all))
	}
	for i, a := range all {
		if a.GetPath() != fmt.Sprintf("f%d.go", i) || a.GetMessage() != fmt.Sprintf("m%d", i) {
			t.Fatalf("annotation %d = %+v", i, a)
		}
	}
	// Default page size is 30.
	got, resp, err := c.Checks.ListCheckRunAnnotations(ctx, owner, repo, run.GetID(), nil)
	if err != nil || len(got) != 30 || resp.LastPage != 5 {
		t.Fatalf("default page: %d %d %v", len(got), resp.LastPage, err)
	}
	// blob_href is part of the raw answer.
	hr, body := rawGet(t, c, fmt.Sprintf("repos/%s/%s/check-runs/%d/annotations?per_page=1", owner, repo, run.GetID()), nil)
	if hr.StatusCode != 200 || !strings.Contains(string(body), `"blob_href":"https://github.com/octo-org/hello-world/blob/`+sha1x+`/f0.go"`) {
		t.Errorf("raw annotations: %s", body)
	}
	if n := len(s.CheckRuns(owner, repo, sha1x)[0].Annotations); n != 150 {
		t.Errorf("CheckRuns annotations %d", n)
	}
}

func TestListLatestSemantics(t *testing.T) {
	s, c := fixture(t)
	other := s.AddApp("other")
	oc := s.ClientFor(other, s.Install(other, owner))
	old := mustCreate(t, c, github.CreateCheckRunOptions{Name: "lint", HeadSHA: sha1x, Conclusion: github.String("failure")})
	mine := mustCreate(t, c, github.CreateCheckRunOptions{Name: "lint", HeadSHA: sha1x, Status: github.String("in_progress")})
	theirs, _, err := oc.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{Name: "lint", HeadSHA: sha1x})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, c, github.CreateCheckRunOptions{Name: "test", HeadSHA: sha1x})
	mustCreate(t, c, github.CreateCheckRunOptions{Name: "lint", HeadSHA: sha2x})
	if old.GetCheckSuite().GetID() != mine.GetCheckSuite().GetID() || mine.GetCheckSuite().GetID() == theirs.GetCheckSuite().GetID() {
		t.Error("suites: one per (repo, app, sha)")
	}

	ids := func(opts *github.ListCheckRunsOptions) []int64 {
		t.Helper()
		res, _, err := c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range res.CheckRuns {
			out = append(out, r.GetID())
		}
		if res.GetTotal() != len(out) {
			t.Errorf("total_count %d, %d runs", res.GetTotal(), len(out))
		}
		return out
	}
	has := func(list []int64, id int64) bool {
		for _, x := range list {
			if x == id {
				return true
			}
		}
		return false
	}
	latest := ids(&github.ListCheckRunsOptions{CheckName: github.String("lint")})
	if len(latest) != 2 || !has(latest, mine.GetID()) || !has(latest, theirs.GetID()) {
		t.Errorf("latest lint = %v (mine %d theirs %d)", latest, mine.GetID(), theirs.GetID())
	}
	if got := ids(&github.ListCheckRunsOptions{CheckName: github.String("lint"), AppID: github.Int64(s.App().ID)}); len(got) != 1 || got[0] != mine.GetID() {
		t.Errorf("latest lint of my app = %v", got)
	}
	if got := ids(&github.ListCheckRunsOptions{CheckName: github.String("lint"), Filter: github.String("all")}); len(got) != 3 {
		t.Errorf("all lint = %v", got)
	}
	if got := ids(nil); len(got) != 3 {
		t.Errorf("latest (default) = %v", got)
	}
	if got := ids(&github.ListCheckRunsOptions{Filter: github.String("all"), Status: github.String("completed")}); len(got) != 1 || got[0] != old.GetID() {
		t.Errorf("status completed = %v", got)
	}
	// The latest run is in progress: filtering latest by completed finds nothing for my lint.
	if got := ids(&github.ListCheckRunsOptions{Status: github.String("completed"), AppID: github.Int64(s.App().ID)}); len(got) != 0 {
		t.Errorf("latest completed = %v", got)
	}
	if got := ids(&github.ListCheckRunsOptions{CheckName: github.String("LINT")}); len(got) != 0 {
		t.Errorf("check_name is exact: %v", got)
	}
	// A branch ref resolves through the PR head.
	s.AddPullRequest(owner, repo, PullRequest{Number: 1, HeadSHA: sha2x, HeadRef: "feature/x"})
	res, _, err := c.Checks.ListCheckRunsForRef(ctx, owner, repo, "heads/feature/x", nil)
	if err != nil || res.GetTotal() != 1 || res.CheckRuns[0].GetHeadSHA() != sha2x {
		t.Fatalf("branch ref: %v %v", res, err)
	}
	_, _, err = c.Checks.ListCheckRunsForRef(ctx, owner, repo, "heads/nope", nil)
	errResp(t, err, 422)
	_, _, err = c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, &github.ListCheckRunsOptions{Filter: github.String("newest")})
	errResp(t, err, 422)
}

func TestListPagination(t *testing.T) {
	_, c := fixture(t)
	for i := 0; i < 75; i++ {
		mustCreate(t, c, github.CreateCheckRunOptions{Name: fmt.Sprintf("n%02d", i), HeadSHA: sha1x})
	}
	res, resp, err := c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetTotal() != 75 || len(res.CheckRuns) != 30 || resp.NextPage != 2 || resp.LastPage != 3 || resp.PrevPage != 0 {
		t.Fatalf("page 1: total %d len %d next %d last %d", res.GetTotal(), len(res.CheckRuns), resp.NextPage, resp.LastPage)
	}
	seen := map[int64]bool{}
	for _, r := range res.CheckRuns {
		seen[r.GetID()] = true
	}
	res, resp, err = c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, &github.ListCheckRunsOptions{ListOptions: github.ListOptions{Page: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CheckRuns) != 15 || resp.NextPage != 0 || resp.PrevPage != 2 || resp.FirstPage != 1 {
		t.Fatalf("page 3: len %d next %d prev %d first %d", len(res.CheckRuns), resp.NextPage, resp.PrevPage, resp.FirstPage)
	}
	link := resp.Header.Get("Link")
	if !strings.Contains(link, `rel="prev"`) || !strings.Contains(link, `rel="first"`) || !strings.Contains(link, "per_page=30") {
		t.Errorf("Link %q", link)
	}
	for _, r := range res.CheckRuns {
		seen[r.GetID()] = true
	}
	if len(seen) != 45 {
		t.Errorf("pages overlap: %d distinct", len(seen))
	}
	// per_page is clamped to 100.
	res, resp, err = c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, &github.ListCheckRunsOptions{ListOptions: github.ListOptions{PerPage: 500}})
	if err != nil || len(res.CheckRuns) != 75 || resp.NextPage != 0 || resp.Header.Get("Link") != "" {
		t.Fatalf("per_page 500: %d %v %q", len(res.CheckRuns), err, resp.Header.Get("Link"))
	}
	// Filters survive in the Link.
	_, resp, err = c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, &github.ListCheckRunsOptions{Filter: github.String("all"), ListOptions: github.ListOptions{PerPage: 10}})
	if err != nil || resp.LastPage != 8 || !strings.Contains(resp.Header.Get("Link"), "filter=all") {
		t.Fatalf("Link with filter: %q %v", resp.Header.Get("Link"), err)
	}
}

func TestFailNextAfterApply(t *testing.T) {
	srv := NewTestServer(t)
	srv.AddRepo("o", "r")
	sha := strings.Repeat("a", 40)
	srv.FailNextAfterApply(RouteCreateCheckRun, 1, 502)
	_, _, err := srv.Client().Checks.CreateCheckRun(context.Background(), "o", "r", github.CreateCheckRunOptions{Name: "n", HeadSHA: sha})
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 502 {
		t.Fatalf("err = %v, want a 502", err)
	}
	if runs := srv.CheckRuns("o", "r", sha); len(runs) != 1 {
		t.Fatalf("%d runs: the failed-after-apply create must have taken effect", len(runs))
	}
	if _, _, err := srv.Client().Checks.CreateCheckRun(context.Background(), "o", "r", github.CreateCheckRunOptions{Name: "n", HeadSHA: sha}); err != nil {
		t.Fatalf("the fault applies once: %v", err)
	}
}
