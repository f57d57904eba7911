package githubtest

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"
)

// Uninstall behaves as uninstalling the App on GitHub: the installation's tokens stop working,
// its id gets no new token, the lookup fails; installing again gives a new id.
func TestUninstall(t *testing.T) {
	s := NewTestServer(t)
	s.AddPullRequest("octo-org", "hello-world", PullRequest{Number: 7, HeadSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e"})
	app := s.App()
	old := s.InstallationID(app, "octo-org")
	_, _, err := s.ClientFor(app, old).PullRequests.Get(context.Background(), "octo-org", "hello-world", 7)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := s.IssueToken(old)
	if !s.Uninstall(app, "octo-org") || s.Uninstall(app, "octo-org") {
		t.Fatal("Uninstall did not report the installation once")
	}
	status := func(err error) int {
		var er *github.ErrorResponse
		if errors.As(err, &er) {
			return er.Response.StatusCode
		}
		t.Fatalf("err = %v, want a GitHub error", err)
		return 0
	}
	user := s.newClient(&http.Client{Transport: bearer(tok)})
	if _, _, err := user.PullRequests.Get(context.Background(), "octo-org", "hello-world", 7); status(err) != http.StatusUnauthorized {
		t.Errorf("old token: %v, want 401", err)
	}
	apps := s.AppClient(app)
	if _, _, err := apps.Apps.CreateInstallationToken(context.Background(), old, nil); status(err) != http.StatusNotFound {
		t.Errorf("token of the old id: %v, want 404", err)
	}
	if _, _, err := apps.Apps.FindRepositoryInstallation(context.Background(), "octo-org", "hello-world"); status(err) != http.StatusNotFound {
		t.Errorf("lookup: %v, want 404", err)
	}
	if id := s.Install(app, "octo-org"); id == old || s.InstallationID(app, "octo-org") != id {
		t.Errorf("reinstalled as %d (was %d)", id, old)
	}
}

// bearer sends every request with a fixed installation token.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "token "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}
