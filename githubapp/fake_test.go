package githubapp_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
)

// Tests against the project's GitHub fake: real JWT verification, real installation tokens,
// GitHub's error bodies and secondary-limit responses.

const sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

func fakeFactory(t *testing.T, s *githubtest.Server, budget time.Duration) *githubapp.Factory {
	t.Helper()
	app := s.App()
	f, err := githubapp.New(app.ID, app.PrivateKeyPEM, githubapp.Options{BaseURL: s.URL() + "/", RetryBudget: budget})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func fakeFixture(t *testing.T) *githubtest.Server {
	s := githubtest.NewTestServer(t)
	s.AddRepo("octo-org", "hello-world")
	s.AddRepo("other-org", "other-repo")
	s.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7, HeadSHA: sha})
	s.AddPullRequest("other-org", "other-repo", githubtest.PullRequest{Number: 8, HeadSHA: sha})
	return s
}

func TestFakeTokenOncePerInstallationAndLookupCached(t *testing.T) {
	s := fakeFixture(t)
	f := fakeFactory(t, s, 0)
	ctx := context.Background()
	repos := [][2]string{{"octo-org", "hello-world"}, {"OTHER-ORG", "Other-Repo"}}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := repos[i%2]
			var id int64
			if i%3 == 0 { // mix explicit ids with lookups
				id = s.InstallationID(s.App(), r[0])
			}
			c, err := f.Client(ctx, r[0], r[1], id)
			if err != nil {
				t.Error(err)
				return
			}
			if _, _, err := c.PullRequests.Get(ctx, r[0], r[1], 7+i%2); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := s.Count(githubtest.RouteCreateInstallationToken); n != 2 {
		t.Errorf("token requests = %d, want 2", n)
	}
	if n := s.Count(githubtest.RouteGetRepoInstallation); n > 2 {
		t.Errorf("installation lookups = %d, want at most one per repository", n)
	}
	if n := s.Count(githubtest.RouteGetPullRequest); n != 30 {
		t.Errorf("pull requests = %d", n)
	}
}

func TestFakeLookupOfRepoWithoutInstallation(t *testing.T) {
	s := fakeFixture(t)
	other := s.AddApp("other-app")
	s.Install(other, "octo-org")
	f, err := githubapp.New(other.ID, other.PrivateKeyPEM, githubapp.Options{BaseURL: s.URL() + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Client(context.Background(), "other-org", "other-repo", 0); err == nil || githubapp.IsTransient(err) {
		t.Errorf("lookup on a repository without the App: err = %v, want permanent", err)
	}
	c, err := f.Client(context.Background(), "octo-org", "hello-world", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PullRequests.Get(context.Background(), "octo-org", "hello-world", 7); err != nil {
		t.Fatal(err)
	}
}

func TestFakeGetRetriedOn502(t *testing.T) {
	s := fakeFixture(t)
	f := fakeFactory(t, s, 0)
	c, err := f.Client(context.Background(), "octo-org", "hello-world", 0)
	if err != nil {
		t.Fatal(err)
	}
	s.FailNext(githubtest.RouteGetPullRequest, 2, http.StatusBadGateway)
	pr, _, err := c.PullRequests.Get(context.Background(), "octo-org", "hello-world", 7)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetHead().GetSHA() != sha || s.Count(githubtest.RouteGetPullRequest) != 3 {
		t.Errorf("head %q after %d requests", pr.GetHead().GetSHA(), s.Count(githubtest.RouteGetPullRequest))
	}
}

func TestFakeWritesNotRetriedOn502(t *testing.T) {
	s := fakeFixture(t)
	f := fakeFactory(t, s, 0)
	ctx := context.Background()
	c, _ := f.Client(ctx, "octo-org", "hello-world", 0)
	s.FailNext(githubtest.RouteCreateCheckRun, 1, http.StatusBadGateway)
	_, _, err := c.Checks.CreateCheckRun(ctx, "octo-org", "hello-world", github.CreateCheckRunOptions{Name: "id", HeadSHA: sha})
	if !githubapp.IsTransient(err) || s.Count(githubtest.RouteCreateCheckRun) != 1 {
		t.Fatalf("POST: err %v after %d requests, want one transient failure", err, s.Count(githubtest.RouteCreateCheckRun))
	}
	run, _, err := c.Checks.CreateCheckRun(ctx, "octo-org", "hello-world", github.CreateCheckRunOptions{Name: "id", HeadSHA: sha})
	if err != nil {
		t.Fatal(err)
	}
	s.FailNext(githubtest.RouteUpdateCheckRun, 1, http.StatusBadGateway)
	_, _, err = c.Checks.UpdateCheckRun(ctx, "octo-org", "hello-world", run.GetID(), github.UpdateCheckRunOptions{Name: "id", Status: github.String("in_progress")})
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusBadGateway || !githubapp.IsTransient(err) {
		t.Errorf("PATCH: err = %v", err)
	}
	if n := s.Count(githubtest.RouteUpdateCheckRun); n != 1 {
		t.Errorf("PATCH sent %d times, want 1", n)
	}
}

func TestFakeTokenFailureRetriedForWrites(t *testing.T) {
	s := fakeFixture(t)
	f := fakeFactory(t, s, 0)
	ctx := context.Background()
	c, _ := f.Client(ctx, "octo-org", "hello-world", s.InstallationID(s.App(), "octo-org"))
	s.FailNext(githubtest.RouteCreateInstallationToken, 1, http.StatusServiceUnavailable)
	if _, _, err := c.Checks.CreateCheckRun(ctx, "octo-org", "hello-world", github.CreateCheckRunOptions{Name: "id", HeadSHA: sha}); err != nil {
		t.Fatal(err)
	}
	if a, b := s.Count(githubtest.RouteCreateInstallationToken), s.Count(githubtest.RouteCreateCheckRun); a != 2 || b != 1 {
		t.Errorf("token %d, create %d; want 2 and 1", a, b)
	}
	if runs := s.CheckRuns("octo-org", "hello-world", sha); len(runs) != 1 {
		t.Errorf("%d check runs", len(runs))
	}
}

func TestFakeSecondaryRateLimitWaitedOut(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		s := fakeFixture(t)
		f := fakeFactory(t, s, 0)
		ctx := context.Background()
		c, _ := f.Client(ctx, "octo-org", "hello-world", 0)
		run, _, err := c.Checks.CreateCheckRun(ctx, "octo-org", "hello-world", github.CreateCheckRunOptions{Name: "id", HeadSHA: sha})
		if err != nil {
			t.Fatal(err)
		}
		s.FailNextSecondaryRateLimit(githubtest.RouteUpdateCheckRun, 1, status, time.Second)
		start := time.Now()
		_, _, err = c.Checks.UpdateCheckRun(ctx, "octo-org", "hello-world", run.GetID(), github.UpdateCheckRunOptions{
			Name: "id", Status: github.String("completed"), Conclusion: github.String("success"),
			Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"),
				Annotations: []*github.CheckRunAnnotation{{Path: github.String("a.go"), StartLine: github.Int(1), EndLine: github.Int(1),
					AnnotationLevel: github.String("warning"), Message: github.String("m")}}},
		})
		if err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Errorf("%d: Retry-After not honoured (%v)", status, d)
		}
		if n := s.Count(githubtest.RouteUpdateCheckRun); n != 2 {
			t.Errorf("%d: PATCH sent %d times, want 2 (one retry)", status, n)
		}
		runs := s.CheckRuns("octo-org", "hello-world", sha)
		if len(runs) != 1 || runs[0].Conclusion != "success" || len(runs[0].Annotations) != 1 {
			t.Errorf("%d: runs after the retried PATCH: %+v", status, runs)
		}
	}
}

func TestFakeSecondaryRateLimitBeyondBudget(t *testing.T) {
	s := fakeFixture(t)
	f := fakeFactory(t, s, 2*time.Second)
	ctx := context.Background()
	c, _ := f.Client(ctx, "octo-org", "hello-world", 0)
	s.FailNextSecondaryRateLimit(githubtest.RouteGetPullRequest, 1, http.StatusForbidden, time.Minute)
	start := time.Now()
	_, _, err := c.PullRequests.Get(ctx, "octo-org", "hello-world", 7)
	// Waiting out the limit would end in a second, successful attempt: the error and the one
	// request show it was not waited for. The time is measured, not asserted.
	var are *github.AbuseRateLimitError
	if !errors.As(err, &are) || !githubapp.IsTransient(err) {
		t.Errorf("err = %v (%T), want a transient *github.AbuseRateLimitError", err, err)
	}
	t.Logf("gave up after %v on a limit of a minute beyond the budget of 2s", time.Since(start))
	if n := s.Count(githubtest.RouteGetPullRequest); n != 1 {
		t.Errorf("sent %d times", n)
	}
}
