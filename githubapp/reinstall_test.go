package githubapp_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
)

// After the App is reinstalled, the cached installation id is refused by GitHub: the client
// looks the installation up again, once, and carries on as the new one.
func TestReinstalledAppLookedUpAgain(t *testing.T) {
	for _, tt := range []struct {
		name     string
		opts     []githubtest.Option
		explicit bool // the client was asked for the old id explicitly (a request that carried it)
	}{
		// The token cached by ghinstallation was revoked: the API answers 401.
		{name: "revoked token", opts: nil},
		// Every request needs a new token (a TTL under ghinstallation's one-minute margin): the
		// token endpoint answers 404 for the old id, as it does once a cached token expired.
		{name: "token of the old id refused", opts: []githubtest.Option{githubtest.WithTokenTTL(30 * time.Second)}},
		{name: "old id given explicitly", explicit: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := githubtest.NewTestServer(t, tt.opts...)
			s.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7, HeadSHA: sha})
			f := fakeFactory(t, s, 0)
			ctx := context.Background()
			old := s.InstallationID(s.App(), "octo-org")
			id := int64(0)
			if tt.explicit {
				id = old
			}
			c, err := f.Client(ctx, "octo-org", "hello-world", id)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.PullRequests.Get(ctx, "octo-org", "hello-world", 7); err != nil {
				t.Fatal(err)
			}

			s.Uninstall(s.App(), "octo-org")
			reinstalled := s.Install(s.App(), "octo-org")
			if reinstalled == old {
				t.Fatalf("reinstalling kept id %d", old)
			}
			lookups := s.Count(githubtest.RouteGetRepoInstallation)

			// A read and a write (whose body must be sent again) through the client in hand.
			if _, _, err := c.PullRequests.Get(ctx, "octo-org", "hello-world", 7); err != nil {
				t.Fatalf("read after reinstall: %v", err)
			}
			if _, _, err := c.Checks.CreateCheckRun(ctx, "octo-org", "hello-world", github.CreateCheckRunOptions{
				Name: "id", HeadSHA: sha, Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s")}}); err != nil {
				t.Fatalf("write after reinstall: %v", err)
			}
			if n := s.Count(githubtest.RouteGetRepoInstallation) - lookups; n != 1 {
				t.Errorf("%d installation lookups after the reinstall, want 1", n)
			}
			runs := s.CheckRuns("octo-org", "hello-world", sha)
			if len(runs) != 1 || runs[0].Summary != "s" {
				t.Fatalf("runs = %+v, want the one written with its body", runs)
			}

			// A new client of the repository is the new installation's, without another lookup.
			lookups = s.Count(githubtest.RouteGetRepoInstallation)
			c2, err := f.Client(ctx, "octo-org", "hello-world", 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c2.PullRequests.Get(ctx, "octo-org", "hello-world", 7); err != nil {
				t.Fatal(err)
			}
			if n := s.Count(githubtest.RouteGetRepoInstallation) - lookups; n != 0 {
				t.Errorf("%d more lookups for a new client, want 0", n)
			}
		})
	}
}

// Uninstalled for good: the lookup is tried once, and the error is permanent.
func TestUninstalledAppIsPermanent(t *testing.T) {
	s := githubtest.NewTestServer(t, githubtest.WithTokenTTL(30*time.Second))
	s.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7, HeadSHA: sha})
	f := fakeFactory(t, s, 0)
	ctx := context.Background()
	c, err := f.Client(ctx, "octo-org", "hello-world", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PullRequests.Get(ctx, "octo-org", "hello-world", 7); err != nil {
		t.Fatal(err)
	}
	s.Uninstall(s.App(), "octo-org")
	lookups := s.Count(githubtest.RouteGetRepoInstallation)
	_, _, err = c.PullRequests.Get(ctx, "octo-org", "hello-world", 7)
	if err == nil || githubapp.IsTransient(err) {
		t.Fatalf("err = %v, want a permanent error", err)
	}
	if n := s.Count(githubtest.RouteGetRepoInstallation) - lookups; n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}
	if _, err := f.Client(ctx, "octo-org", "hello-world", 0); err == nil || githubapp.IsTransient(err) {
		t.Errorf("Client after uninstall: err = %v, want a permanent lookup failure", err)
	}
}
