package hygiene_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/statusmanager/githubtest"
)

// The diff GitHub lists is the head's: a request for a commit the PR has moved past is not
// reconciled with another commit's findings.
func TestReconcilerOnlyReconcilesTheHead(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	gh.AddRepo(owner, repo)
	old, head := strings.Repeat("a", 40), strings.Repeat("b", 40)
	files := []githubtest.File{{Filename: "a.go", Status: "added", Patch: "@@ -0,0 +1 @@\n+<<<<<<< HEAD"}}
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: old, Files: files})
	gh.PushHead(owner, repo, 7, head, files)
	rec := hygiene.Reconciler(hygiene.Options{})
	res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	tests := []struct {
		sha, conclusion, title string
		findings               int
	}{
		{old, "skipped", "Superseded: the pull request's head is now bbbbbbbbbbbb", 0},
		{head, "failure", "1 problem in 1 file", 1},
	}
	for _, tt := range tests {
		r, err := rec(context.Background(), &events.Request{Resource: *res, SHA: tt.sha}, gh.Client())
		if err != nil {
			t.Fatal(err)
		}
		if r.Conclusion != tt.conclusion || r.Title != tt.title || len(r.Details.Findings) != tt.findings {
			t.Errorf("at %.7s: %s %q with %d findings, want %s %q with %d", tt.sha, r.Conclusion, r.Title, len(r.Details.Findings), tt.conclusion, tt.title, tt.findings)
		}
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
