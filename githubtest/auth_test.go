package githubtest

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
)

// ghClient is how a user builds a client: ghinstallation against the fake, BaseURL = URL()+"/".
func ghClient(t *testing.T, s *Server, appID, instID int64, key []byte) (*github.Client, *ghinstallation.Transport) {
	t.Helper()
	itr, err := ghinstallation.New(http.DefaultTransport, appID, instID, key)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = s.URL()
	c := github.NewClient(&http.Client{Transport: itr})
	c.BaseURL, _ = url.Parse(s.URL() + "/")
	return c, itr
}

func TestGhinstallationFlow(t *testing.T) {
	s, _ := fixture(t)
	app := s.App()
	inst := s.InstallationID(app, owner)
	c, itr := ghClient(t, s, app.ID, inst, app.PrivateKeyPEM)
	run, _, err := c.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
	if err != nil {
		t.Fatal(err)
	}
	if run.GetApp().GetID() != app.ID {
		t.Errorf("app %d", run.GetApp().GetID())
	}
	tok, err := itr.Token(ctx)
	if err != nil || !strings.HasPrefix(tok, "ghs_") {
		t.Fatalf("token %q %v", tok, err)
	}
	exp, _, _ := itr.Expiry()
	if d := time.Until(exp); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expires in %v", d)
	}
	perms, _ := itr.Permissions()
	if perms.GetChecks() != "write" || perms.GetPullRequests() != "read" || perms.GetContents() != "read" {
		t.Errorf("permissions %+v", perms)
	}
	// One token request, then the token is reused.
	if _, _, err := c.Checks.GetCheckRun(ctx, owner, repo, run.GetID()); err != nil {
		t.Fatal(err)
	}
	if n := s.Count(RouteCreateInstallationToken); n != 1 {
		t.Errorf("%d token requests", n)
	}
	for _, r := range s.Requests() {
		if r.Route == string(RouteGetCheckRun) && r.Installation != inst {
			t.Errorf("logged installation %d, want %d", r.Installation, inst)
		}
	}
	// Bearer works as well as token.
	bc := github.NewClient(nil).WithAuthToken(tok)
	bc.BaseURL = c.BaseURL
	if _, _, err := bc.Checks.GetCheckRun(ctx, owner, repo, run.GetID()); err != nil {
		t.Fatalf("Bearer: %v", err)
	}
}

func TestGhinstallationFailures(t *testing.T) {
	s, _ := fixture(t)
	app := s.App()
	other := s.AddApp("other")
	inst := s.InstallationID(app, owner)
	cases := []struct {
		name   string
		appID  int64
		instID int64
		key    []byte
		status int
	}{
		{"wrong key", app.ID, inst, other.PrivateKeyPEM, 401},
		{"unknown app", 999, inst, app.PrivateKeyPEM, 401},
		{"unknown installation", app.ID, 424242, app.PrivateKeyPEM, 404},
		{"installation of another app", other.ID, inst, other.PrivateKeyPEM, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := ghClient(t, s, tc.appID, tc.instID, tc.key)
			_, _, err := c.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
			var he *ghinstallation.HTTPError
			if !errors.As(err, &he) || he.Response == nil || he.Response.StatusCode != tc.status {
				t.Fatalf("err %v, want ghinstallation HTTPError %d", err, tc.status)
			}
		})
	}
	if n := len(s.CheckRuns(owner, repo, sha1x)); n != 0 {
		t.Errorf("%d runs created", n)
	}
}

func TestJWTValidation(t *testing.T) {
	s, _ := fixture(t)
	app := s.App()
	post := func(auth, body string) (int, string) {
		req, _ := http.NewRequest("POST", s.URL()+"/app/installations/"+strconv.FormatInt(s.InstallationID(app, owner), 10)+"/access_tokens", strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	good, _ := SignJWT(app, time.Now().Add(-30*time.Second), 2*time.Minute)
	expired, _ := SignJWT(app, time.Now().Add(-20*time.Minute), 5*time.Minute)
	tooLong, _ := SignJWT(app, time.Now().Add(-30*time.Second), 11*time.Minute)
	future, _ := SignJWT(app, time.Now().Add(5*time.Minute), 2*time.Minute)
	for _, tc := range []struct {
		name, auth, body string
		status           int
		msg              string
	}{
		{"good, null body", "Bearer " + good, "null\n", 201, `"token":"ghs_`},
		{"good, empty body", "Bearer " + good, "", 201, `"expires_at":"`},
		{"good, options", "Bearer " + good, `{"permissions":{"checks":"write"}}`, 201, `"checks":"write"`},
		{"expired", "Bearer " + expired, "", 401, "'Expiration time' claim ('exp') must be a numeric value"},
		{"exp too far", "Bearer " + tooLong, "", 401, "too far in the future"},
		{"issued in the future", "Bearer " + future, "", 401, "'Issued at' claim ('iat')"},
		{"garbage", "Bearer abc.def.ghi", "", 401, "A JSON web token could not be decoded"},
		{"none", "", "", 401, "A JSON web token could not be decoded"},
		{"installation token", "token " + mustToken(s, app), "", 401, "A JSON web token could not be decoded"},
	} {
		status, body := post(tc.auth, tc.body)
		if status != tc.status || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %s, want %d containing %q", tc.name, status, body, tc.status, tc.msg)
		}
	}
}

func mustToken(s *Server, app *App) string {
	tok, _ := s.IssueToken(s.InstallationID(app, owner))
	return tok
}

func TestAppEndpoints(t *testing.T) {
	s, _ := fixture(t)
	other := s.AddApp("other")
	ac := s.AppClient(s.App())
	app, _, err := ac.Apps.Get(ctx, "")
	if err != nil || app.GetID() != s.App().ID || app.GetSlug() != s.App().Slug {
		t.Fatalf("GET /app: %+v %v", app, err)
	}
	inst, _, err := ac.Apps.FindRepositoryInstallation(ctx, "Octo-Org", repo)
	if err != nil || inst.GetID() != s.InstallationID(s.App(), owner) || inst.GetAppID() != s.App().ID || inst.GetAccount().GetLogin() != owner {
		t.Fatalf("installation: %+v %v", inst, err)
	}
	// Not installed there: 404.
	_, _, err = s.AppClient(other).Apps.FindRepositoryInstallation(ctx, owner, repo)
	errResp(t, err, 404)
	// Unknown repository: 404.
	_, _, err = ac.Apps.FindRepositoryInstallation(ctx, owner, "nope")
	errResp(t, err, 404)
	// Token through go-github.
	tok, _, err := ac.Apps.CreateInstallationToken(ctx, s.InstallationID(s.App(), owner), nil)
	if err != nil || !strings.HasPrefix(tok.GetToken(), "ghs_") || tok.GetExpiresAt().Before(time.Now().Add(59*time.Minute)) {
		t.Fatalf("token %+v %v", tok, err)
	}
	// An installation token on /app: 401.
	_, _, err = s.Client().Apps.Get(ctx, "")
	errResp(t, err, 401)
}

func TestUserToken(t *testing.T) {
	s, c := fixture(t)
	run := mustCreate(t, c, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
	uc := github.NewClient(nil).WithAuthToken(s.AddUserToken("octocat"))
	uc.BaseURL = c.BaseURL
	if _, _, err := uc.Checks.GetCheckRun(ctx, owner, repo, run.GetID()); err != nil {
		t.Fatalf("read: %v", err)
	}
	_, _, err := uc.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
	if er := errResp(t, err, 403); er.Message != "You must authenticate via a GitHub App." {
		t.Errorf("message %q", er.Message)
	}
	_, _, err = uc.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: "a"})
	errResp(t, err, 403)
	if s.RateLimitUsed() != 1 {
		t.Errorf("RateLimitUsed %d", s.RateLimitUsed())
	}
}
