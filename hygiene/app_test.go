package hygiene_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/hygiene"
)

// The reconciler checks the diff of the requested commit, whatever the pull request's head
// is by then, in one comparison; past the comparison's 300 files it falls back to the pull
// request's files, which are the head's, and then only reconciles the head.
func TestReconcilerChecksTheRequestedCommit(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	gh.AddRepo(owner, repo)
	sha := func(c string) string { return strings.Repeat(c, 40) }
	conflict := []githubtest.File{{Filename: "a.go", Status: "added", Patch: "@@ -0,0 +1 @@\n+<<<<<<< HEAD"}}
	clean := []githubtest.File{{Filename: "a.go", Status: "added", Patch: "@@ -0,0 +1 @@\n+package a"}}
	many := func(n int, bad bool) []githubtest.File {
		fs := make([]githubtest.File, n)
		for i := range fs {
			fs[i] = githubtest.File{Filename: "f" + strconv.Itoa(i) + ".go", Patch: "@@ -0,0 +1 @@\n+package f"}
		}
		if bad {
			fs[n-1].Patch = "@@ -0,0 +1 @@\n+>>>>>>> main"
		}
		return fs
	}
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: sha("a"), Files: conflict})
	gh.PushHead(owner, repo, 7, sha("b"), clean)
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 8, HeadSHA: sha("c"), Files: many(350, true)})
	gh.PushHead(owner, repo, 8, sha("d"), many(350, false))
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 9, HeadSHA: sha("f"), Files: many(1000, true)})
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 10, HeadSHA: sha("9"), Files: many(300, false)})
	pr7, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	pr8, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/8")
	pr9, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/9")
	pr10, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/10")
	pr, _, err := gh.Client().PullRequests.Get(context.Background(), owner, repo, 7)
	if err != nil {
		t.Fatal(err)
	}
	base := pr.GetBase().GetSHA()

	const (
		compare = githubtest.RouteCompareCommits
		getPR   = githubtest.RouteGetPullRequest
		files   = githubtest.RouteListPullRequestFiles
	)
	tests := []struct {
		name              string
		res               *events.Resource
		sha, base         string
		changed           int
		conclusion, title string
		findings, files   int
		requests          []githubtest.Route
	}{
		{name: "an older commit: its own diff", res: pr7, sha: sha("a"), base: base,
			conclusion: "failure", title: "1 problem in 1 file", findings: 1, files: 1, requests: []githubtest.Route{compare}},
		{name: "the head", res: pr7, sha: sha("b"), base: base,
			conclusion: "success", files: 1, requests: []githubtest.Route{compare}},
		{name: "no base in the request: read the pull request's", res: pr7, sha: sha("a"),
			conclusion: "failure", title: "1 problem in 1 file", findings: 1, files: 1, requests: []githubtest.Route{getPR, compare}},
		{name: "past 300 files: the 4th page of the pull request's files, head read before and after", res: pr8, sha: sha("d"), base: base,
			conclusion: "success", files: 350, requests: []githubtest.Route{compare, getPR, files, getPR}},
		{name: "past 300 files without a base: the first read is the head's", res: pr8, sha: sha("d"),
			conclusion: "success", files: 350, requests: []githubtest.Route{getPR, compare, files, getPR}},
		{name: "1,000 files: pages 4 to 10", res: pr9, sha: sha("f"), base: base, changed: 1000,
			conclusion: "failure", findings: 1, files: 1000, requests: []githubtest.Route{compare, getPR, files, files, files, files, files, files, files, getPR}},
		{name: "exactly 300 files, as the event says: the comparison is all", res: pr10, sha: sha("9"), base: base, changed: 300,
			conclusion: "success", files: 300, requests: []githubtest.Route{compare}},
		{name: "exactly 300 files, unknown to the request: read the pull request", res: pr10, sha: sha("9"), base: base,
			conclusion: "success", files: 300, requests: []githubtest.Route{compare, getPR}},
		{name: "past 300 files, an older commit: superseded", res: pr8, sha: sha("c"), base: base,
			conclusion: "skipped", title: "Superseded: the pull request's head is now dddddddddddd", requests: []githubtest.Route{compare, getPR}},
		{name: "a commit GitHub does not know (force-pushed away): superseded", res: pr7, sha: sha("e"), base: base,
			conclusion: "skipped", title: "Superseded: the pull request's head is now bbbbbbbbbbbb", requests: []githubtest.Route{compare, getPR}},
	}
	rec := hygiene.Reconciler(hygiene.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gh.ResetCounters()
			r, err := rec(context.Background(), &events.Request{Resource: *tt.res, SHA: tt.sha, BaseSHA: tt.base, ChangedFiles: tt.changed}, gh.Client())
			if err != nil {
				t.Fatal(err)
			}
			if r.Conclusion != tt.conclusion || (tt.title != "" && r.Title != tt.title) || len(r.Details.Findings) != tt.findings || r.Details.Files != tt.files {
				t.Errorf("%s %q with %d findings in %d files, want %s %q with %d in %d",
					r.Conclusion, r.Title, len(r.Details.Findings), r.Details.Files, tt.conclusion, tt.title, tt.findings, tt.files)
			}
			var got []githubtest.Route
			for _, q := range gh.Requests() {
				got = append(got, githubtest.Route(q.Route))
			}
			if !slices.Equal(got, tt.requests) {
				t.Errorf("requests %v, want %v", got, tt.requests)
			}
			// Cost is exact when the request says the files and the base; the re-read of the
			// head costs nothing on GitHub (a 304 through githubapp's conditional reads).
			if tt.changed > 0 || tt.requests[len(tt.requests)-1] == compare {
				want := len(tt.requests)
				if tt.requests[len(tt.requests)-1] == getPR {
					want--
				}
				if c := hygiene.Cost(&events.Request{BaseSHA: tt.base, ChangedFiles: tt.changed}); c != want {
					t.Errorf("Cost %d, but %d requests that cost points", c, want)
				}
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want hygiene.Config
		errs []string
	}{
		{"defaults", nil, hygiene.Config{MaxFileBytes: hygiene.DefaultMaxFileBytes, MaxFileLines: hygiene.DefaultMaxFileLines}, nil},
		{"set", map[string]string{"HYGIENE_MAX_FILE_BYTES": "2048", "HYGIENE_MAX_FILE_LINES": "300"}, hygiene.Config{MaxFileBytes: 2048, MaxFileLines: 300}, nil},
		{"bad values", map[string]string{"HYGIENE_MAX_FILE_BYTES": "0", "HYGIENE_MAX_FILE_LINES": "-1"}, hygiene.Config{},
			[]string{"HYGIENE_MAX_FILE_BYTES: must be at least 1", "HYGIENE_MAX_FILE_LINES: must be at least 1"}},
		{"unparsable", map[string]string{"HYGIENE_MAX_FILE_LINES": "many"}, hygiene.Config{}, []string{"HYGIENE_MAX_FILE_LINES"}},
		// Both at once, in plain words: config.Process reads every field whatever the others hold.
		{"both unparsable", map[string]string{"HYGIENE_MAX_FILE_BYTES": "1MB", "HYGIENE_MAX_FILE_LINES": "many"}, hygiene.Config{},
			[]string{`HYGIENE_MAX_FILE_BYTES: "1MB" is not a whole number`, `HYGIENE_MAX_FILE_LINES: "many" is not a whole number`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := hygiene.LoadConfig(context.Background(), envconfig.MapLookuper(tt.env))
			for _, w := range tt.errs {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not say %q", err, w)
				}
			}
			if tt.errs == nil && (err != nil || c != tt.want) {
				t.Errorf("LoadConfig = %+v, %v; want %+v", c, err, tt.want)
			}
			if _, err := hygiene.New(context.Background(), envconfig.MapLookuper(tt.env)); (err != nil) != (tt.errs != nil) {
				t.Errorf("New: %v", err)
			}
		})
	}
}

// The documented defaults are the package's.
func TestConfigDefaults(t *testing.T) {
	want := map[string]int{"HYGIENE_MAX_FILE_BYTES": hygiene.DefaultMaxFileBytes, "HYGIENE_MAX_FILE_LINES": hygiene.DefaultMaxFileLines}
	vs := config.VariablesOf(hygiene.Config{})
	if len(vs) != len(want) {
		t.Fatalf("variables %+v, want %v", vs, want)
	}
	for _, v := range vs {
		if v.Default != strconv.Itoa(want[v.Name]) || v.Description == "" {
			t.Errorf("%s: default %q, want %d, with a description", v.Name, v.Default, want[v.Name])
		}
	}
}

// pageSwap sends the first request for page from of a pull request's files as page to, as
// the last page: a GitHub that orders the pull request's files otherwise than the comparison's.
type pageSwap struct {
	next     http.RoundTripper
	from, to string
	done     bool
}

func (p *pageSwap) RoundTrip(r *http.Request) (*http.Response, error) {
	if q := r.URL.Query(); !p.done && strings.HasSuffix(r.URL.Path, "/files") && q.Get("page") == p.from {
		p.done = true
		q.Set("page", p.to)
		r = r.Clone(r.Context())
		r.URL.RawQuery = q.Encode()
		resp, err := p.next.RoundTrip(r)
		if resp != nil {
			resp.Header.Del("Link")
		}
		return resp, err
	}
	return p.next.RoundTrip(r)
}

// When the pages past the comparison do not complete it, every page is listed.
func TestReconcilerListsAllPagesWhenTheOrdersDiffer(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	fs := make([]githubtest.File, 350)
	for i := range fs {
		fs[i] = githubtest.File{Filename: "f" + strconv.Itoa(i) + ".go", Patch: "@@ -0,0 +1 @@\n+package f"}
	}
	fs[320].Patch = "@@ -0,0 +1 @@\n+<<<<<<< HEAD"
	head := strings.Repeat("d", 40)
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 8, HeadSHA: head, Files: fs})
	fake := gh.Client()
	c := github.NewClient(&http.Client{Transport: &pageSwap{next: fake.Client().Transport, from: "4", to: "1"}})
	c.BaseURL = fake.BaseURL
	res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/8")
	r, err := hygiene.Reconciler(hygiene.Options{})(context.Background(), &events.Request{Resource: *res, SHA: head, ChangedFiles: 350}, c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Details.Files != 350 || r.Details.Failures != 1 || gh.Count(githubtest.RouteListPullRequestFiles) != 5 {
		t.Errorf("%d files, %d failures after %d pages; want 350 files, 1 failure, 5 pages (1 then all 4)",
			r.Details.Files, r.Details.Failures, gh.Count(githubtest.RouteListPullRequestFiles))
	}
}
