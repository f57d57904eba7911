package githubtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/githubtest"
)

const headSHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

// A fake GitHub with one repository and one pull request; the ready client writes and reads check runs.
func Example() {
	s := githubtest.NewServer()
	defer s.Close()
	s.AddRepo("octo-org", "hello-world")
	s.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7, Title: "Add a feature", HeadSHA: headSHA})

	ctx := context.Background()
	c := s.Client()
	run, _, err := c.Checks.CreateCheckRun(ctx, "octo-org", "hello-world", github.CreateCheckRunOptions{
		Name: "my-reconciler", HeadSHA: headSHA, Status: github.String("in_progress"),
	})
	if err != nil {
		panic(err)
	}
	_, _, err = c.Checks.UpdateCheckRun(ctx, "octo-org", "hello-world", run.GetID(), github.UpdateCheckRunOptions{
		Name:       "my-reconciler",
		Conclusion: github.String("success"),
		Output:     &github.CheckRunOutput{Title: github.String("All good"), Summary: github.String("Nothing to do.")},
	})
	if err != nil {
		panic(err)
	}
	for _, r := range s.CheckRuns("octo-org", "hello-world", headSHA) {
		fmt.Println(r.Name, r.Status, r.Conclusion, r.Title)
	}
	fmt.Println("PR of the run:", run.PullRequests[0].GetNumber())
	fmt.Println("create requests:", s.Count(githubtest.RouteCreateCheckRun))
	// Output:
	// my-reconciler completed success All good
	// PR of the run: 7
	// create requests: 1
}

// Authenticating as a GitHub App installation with ghinstallation, as production code does.
func Example_ghinstallation() {
	s := githubtest.NewServer()
	defer s.Close()
	s.AddRepo("octo-org", "hello-world")
	app := s.App()

	itr, err := ghinstallation.New(http.DefaultTransport, app.ID, s.InstallationID(app, "octo-org"), app.PrivateKeyPEM)
	if err != nil {
		panic(err)
	}
	itr.BaseURL = s.URL()
	c := github.NewClient(&http.Client{Transport: itr})
	c.BaseURL, _ = url.Parse(s.URL() + "/")

	run, _, err := c.Checks.CreateCheckRun(context.Background(), "octo-org", "hello-world", github.CreateCheckRunOptions{
		Name: "my-reconciler", HeadSHA: headSHA,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(run.GetStatus(), run.GetApp().GetID() == app.ID)
	fmt.Println("token requests:", s.Count(githubtest.RouteCreateInstallationToken))
	// Output:
	// queued true
	// token requests: 1
}

// Injecting a server error and a secondary rate limit.
func ExampleServer_FailNext() {
	s := githubtest.NewServer()
	defer s.Close()
	s.AddRepo("octo-org", "hello-world")
	ctx := context.Background()

	s.FailNext(githubtest.RouteListCheckRunsForRef, 1, http.StatusBadGateway)
	_, _, err := s.Client().Checks.ListCheckRunsForRef(ctx, "octo-org", "hello-world", headSHA, nil)
	var er *github.ErrorResponse
	fmt.Println(errors.As(err, &er), er.Response.StatusCode)

	s.FailNextSecondaryRateLimit(githubtest.RouteCreateCheckRun, 1, http.StatusForbidden, 30e9)
	c := s.ClientFor(s.App(), s.InstallationID(s.App(), "octo-org")) // a fresh client: go-github remembers the limit
	_, _, err = c.Checks.CreateCheckRun(ctx, "octo-org", "hello-world", github.CreateCheckRunOptions{Name: "x", HeadSHA: headSHA})
	var are *github.AbuseRateLimitError
	fmt.Println(errors.As(err, &are), *are.RetryAfter)
	fmt.Println("rate limit used:", s.RateLimitUsed())
	// Output:
	// true 502
	// true 30s
	// rate limit used: 0
}

// GitHub rejects what it does not accept with 422 and its own wording; so does the fake.
func ExampleServer_validation() {
	s := githubtest.NewServer()
	defer s.Close()
	s.AddRepo("octo-org", "hello-world")
	_, _, err := s.Client().Checks.CreateCheckRun(context.Background(), "octo-org", "hello-world", github.CreateCheckRunOptions{
		Name: "x", HeadSHA: headSHA, Status: github.String("completed"),
	})
	var er *github.ErrorResponse
	errors.As(err, &er)
	fmt.Println(er.Response.StatusCode, er.Message, er.Errors[0].Field, er.Errors[0].Code)
	// Output:
	// 422 Validation Failed conclusion missing_field
}
