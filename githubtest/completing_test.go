package githubtest

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"
)

// CompletingWrites counts the completing writes GitHub applied, answered or not.
func TestCompletingWrites(t *testing.T) {
	const sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	s := NewTestServer(t)
	s.AddRepo("octo-org", "hello-world")
	c := s.Client()
	ctx := context.Background()
	count := func() int {
		t.Helper()
		rs := s.CheckRuns("octo-org", "hello-world", sha)
		if len(rs) != 1 {
			t.Fatalf("%d runs", len(rs))
		}
		return rs[0].CompletingWrites
	}
	run, _, err := c.Checks.CreateCheckRun(ctx, "octo-org", "hello-world", github.CreateCheckRunOptions{Name: "n", HeadSHA: sha, Status: github.String("in_progress")})
	if err != nil {
		t.Fatal(err)
	}
	update := func(opts github.UpdateCheckRunOptions) error {
		opts.Name = "n"
		_, _, err := c.Checks.UpdateCheckRun(ctx, "octo-org", "hello-world", run.GetID(), opts)
		return err
	}
	steps := []struct {
		name    string
		opts    github.UpdateCheckRunOptions
		fail    bool // applied, then answered 502
		want    int
		wantErr bool
	}{
		{name: "in progress", opts: github.UpdateCheckRunOptions{Status: github.String("in_progress")}, want: 0},
		{name: "completed, answer lost", opts: github.UpdateCheckRunOptions{Conclusion: github.String("success")}, fail: true, want: 1, wantErr: true},
		{name: "completed again", opts: github.UpdateCheckRunOptions{Status: github.String("completed"), Conclusion: github.String("success")}, want: 2},
		{name: "output only", opts: github.UpdateCheckRunOptions{Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s")}}, want: 2},
	}
	for _, st := range steps {
		if st.fail {
			s.FailNextAfterApply(RouteUpdateCheckRun, 1, http.StatusBadGateway)
		}
		if err := update(st.opts); (err != nil) != st.wantErr {
			t.Fatalf("%s: err = %v", st.name, err)
		}
		if got := count(); got != st.want {
			t.Errorf("%s: CompletingWrites = %d, want %d", st.name, got, st.want)
		}
	}
}
