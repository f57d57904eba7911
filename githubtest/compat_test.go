package githubtest

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/gofri/go-github-ratelimit/v2/github_ratelimit"
	"github.com/google/go-github/v60/github"
)

// The injected secondary limit is recognised by gofri/go-github-ratelimit, which waits Retry-After and
// re-sends the request.
func TestSecondaryLimitWithGofri(t *testing.T) {
	s, c := fixture(t)
	run := mustCreate(t, c, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
	s.FailNextSecondaryRateLimit(RouteUpdateCheckRun, 1, 403, time.Second)
	tr := c.Client().Transport
	gc := github.NewClient(github_ratelimit.NewClient(tr))
	gc.BaseURL = c.BaseURL
	start := time.Now()
	upd, _, err := gc.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: "a", Conclusion: github.String("success")})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetConclusion() != "success" || s.Count(RouteUpdateCheckRun) != 2 || time.Since(start) < time.Second {
		t.Errorf("conclusion %q, %d requests, %v", upd.GetConclusion(), s.Count(RouteUpdateCheckRun), time.Since(start))
	}
}

// With a short token lifetime ghinstallation fetches a new token (it refreshes a minute before expiry).
func TestTokenTTL(t *testing.T) {
	s, _ := fixture(t, WithTokenTTL(30*time.Second))
	app := s.App()
	itr, err := ghinstallation.New(http.DefaultTransport, app.ID, s.InstallationID(app, owner), app.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = s.URL()
	c := github.NewClient(&http.Client{Transport: itr})
	c.BaseURL, _ = url.Parse(s.URL() + "/")
	for i := 0; i < 3; i++ {
		if _, _, err := c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Count(RouteCreateInstallationToken); n != 3 {
		t.Errorf("%d token requests, want 3", n)
	}
	if app.PrivateKey() == nil || app.PrivateKey().N.BitLen() != 2048 {
		t.Error("PrivateKey")
	}
}
