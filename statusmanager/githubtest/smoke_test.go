package githubtest

import (
	"context"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestSmoke(t *testing.T) {
	s := NewTestServer(t)
	s.AddRepo("octo-org", "hello-world")
	c := s.Client()
	ctx := context.Background()
	run, _, err := c.Checks.CreateCheckRun(ctx, "octo-org", "hello-world", github.CreateCheckRunOptions{Name: "x", HeadSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", run)
	res, _, err := c.Checks.ListCheckRunsForRef(ctx, "octo-org", "hello-world", "6dcb09b5b57875f334f61aebed695e2e4193db5e", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v", res.GetTotal())
}
