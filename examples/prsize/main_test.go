package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/worker"
)

func TestPRSize(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	sha := func(n int) string { return strings.Repeat(strconv.Itoa(n), 40) }
	gh.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 1, HeadSHA: sha(1), Files: []githubtest.File{{Filename: "a.go", Additions: 12, Deletions: 3}}})
	gh.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 2, HeadSHA: sha(2), Files: []githubtest.File{{Filename: "b.go", Additions: 450}}})
	gh.PushHead("octo-org", "hello-world", 2, sha(3), []githubtest.File{{Filename: "b.go", Additions: 450}})
	// The environment of a deployment (README "Configuration"), pointing at the fake.
	p, err := worker.Start(t.Context(), worker.App[Size]{Reconcile: reconcile}, worker.Env{Stdout: t.Output(), Lookuper: envconfig.MapLookuper(map[string]string{
		"GITHUB_APP_ID": strconv.FormatInt(gh.App().ID, 10), "GITHUB_APP_PRIVATE_KEY": string(gh.App().PrivateKeyPEM),
		"GITHUB_API_URL": gh.URL() + "/", "IDENTITY": "pr-size", "LOG_DESTINATION": "stdout"})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for _, tt := range []struct {
		pr, sha           int
		conclusion, title string
	}{
		{1, 1, "success", "15 changed lines"}, {2, 2, "skipped", "Superseded by a newer commit"}, {2, 3, "neutral", "Large: 450 changed lines"},
	} {
		req := events.Request{SHA: sha(tt.sha), Resource: events.Resource{Owner: "octo-org", Repo: "hello-world", URL: fmt.Sprintf("https://github.com/octo-org/hello-world/pull/%d", tt.pr)}}
		data, _ := req.MarshalJSON()
		if o, err := p.Worker.Handle(t.Context(), &events.Message{ID: sha(tt.sha), Data: data}); o != worker.OutcomeReconciled {
			t.Fatalf("PR %d: %s, %v", tt.pr, o, err)
		}
		if r := gh.CheckRuns("octo-org", "hello-world", sha(tt.sha))[0]; r.Name != "pr-size" || r.Conclusion != tt.conclusion || r.Title != tt.title {
			t.Errorf("PR %d at %.7s: %s %s %q, want %s %q", tt.pr, sha(tt.sha), r.Name, r.Conclusion, r.Title, tt.conclusion, tt.title)
		}
	}
}
