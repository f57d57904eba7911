package githubapp_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
)

// TestUsageCountsWhatTheFakeCounts checks a Usage against the fake's own count of the
// installation's rate-limit points, path by path: the two must agree for the worker's
// per-message log fields to mean anything.
func TestUsageCountsWhatTheFakeCounts(t *testing.T) {
	getPR := func(ctx context.Context, c *github.Client) error {
		_, _, err := c.PullRequests.Get(ctx, "octo-org", "hello-world", 7)
		return err
	}
	tests := []struct {
		name         string
		prepare      func(s *githubtest.Server)
		do           func(ctx context.Context, c *github.Client) error
		wantRequests int
		wantPoints   int
	}{
		{name: "one read", do: getPR, wantRequests: 1, wantPoints: 1},
		{name: "a write", do: func(ctx context.Context, c *github.Client) error {
			_, _, err := c.Checks.CreateCheckRun(ctx, "octo-org", "hello-world", github.CreateCheckRunOptions{Name: "n", HeadSHA: sha})
			return err
		}, wantRequests: 1, wantPoints: 1},
		{name: "rate_limit is free", do: func(ctx context.Context, c *github.Client) error {
			_, _, err := c.RateLimit.Get(ctx)
			return err
		}, wantRequests: 1, wantPoints: 0},
		{name: "304 is free", do: func(ctx context.Context, c *github.Client) error {
			req, err := c.NewRequest(http.MethodGet, "repos/octo-org/hello-world/pulls/7", nil)
			if err != nil {
				return err
			}
			resp, err := c.Do(context.Background(), req, nil) // not counted: no Usage in this context
			if err != nil {
				return err
			}
			req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
			resp, err = c.Do(ctx, req, nil)
			if resp == nil || resp.StatusCode != http.StatusNotModified {
				t.Errorf("conditional read: %v, %v; want 304", resp, err)
			}
			return nil
		}, wantRequests: 1, wantPoints: 0},
		{name: "a retried 502 is one more request, no point", prepare: func(s *githubtest.Server) {
			s.FailNext(githubtest.RouteGetPullRequest, 1, http.StatusBadGateway)
		}, do: getPR, wantRequests: 2, wantPoints: 1},
		{name: "a missing pull request costs a point", do: func(ctx context.Context, c *github.Client) error {
			if _, _, err := c.PullRequests.Get(ctx, "octo-org", "hello-world", 99); err == nil {
				t.Error("pull request 99: no error")
			}
			return nil
		}, wantRequests: 1, wantPoints: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeFixture(t)
			f := fakeFactory(t, s, 0)
			c, err := f.Client(context.Background(), "octo-org", "hello-world", 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.RateLimit.Get(context.Background()); err != nil { // token fetched, budget known
				t.Fatal(err)
			}
			if tt.prepare != nil {
				tt.prepare(s)
			}
			s.ResetCounters()
			var u githubapp.Usage
			if err := tt.do(githubapp.WithUsage(context.Background(), &u), c); err != nil {
				t.Fatal(err)
			}
			if u.Requests() != tt.wantRequests || u.Points() != tt.wantPoints {
				t.Errorf("usage: %d requests, %d points; want %d, %d", u.Requests(), u.Points(), tt.wantRequests, tt.wantPoints)
			}
			if got := s.RateLimitUsed(); got != u.Points() && tt.name != "304 is free" {
				t.Errorf("the fake counted %d points, the Usage %d", got, u.Points())
			}
			inst, rem, ok := u.Remaining()
			rl, _ := f.RateLimit(inst)
			if !ok || inst != s.InstallationID(s.App(), "octo-org") || rem != rl.Remaining {
				t.Errorf("remaining: installation %d, %d points, %v; the factory knows %d", inst, rem, ok, rl.Remaining)
			}
		})
	}
}

// ExampleUsage counts what one piece of work cost of an installation's budget: pass the
// context to every call of a client from Factory.Client, then read the counts.
func ExampleUsage() {
	var u githubapp.Usage
	ctx := githubapp.WithUsage(context.Background(), &u)
	_ = ctx // e.g. client.PullRequests.Get(ctx, "octo-org", "hello-world", 7)
	_, remaining, known := u.Remaining()
	fmt.Printf("%d requests, %d points, %d left (known: %v)\n", u.Requests(), u.Points(), remaining, known)
	// Output: 0 requests, 0 points, 0 left (known: false)
}
