package statusmanager_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/statusmanager"
)

// window returns the time range a Logs Explorer link selects.
func window(t *testing.T, link string) (start, end time.Time) {
	t.Helper()
	_, rest, ok := strings.Cut(link, ";timeRange=")
	if !ok {
		t.Fatalf("link without a time window: %s", link)
	}
	enc, _, _ := strings.Cut(rest, "?")
	enc, _, _ = strings.Cut(enc, ";")
	if strings.ContainsAny(enc, "/;?#") {
		t.Fatalf("time window %q has a character that cuts the path", enc)
	}
	raw, err := url.QueryUnescape(enc)
	must(t, err)
	a, b, ok := strings.Cut(raw, "/")
	if !ok {
		t.Fatalf("time window %q is not START/END", raw)
	}
	start, err = time.Parse(time.RFC3339, a)
	must(t, err)
	end, err = time.Parse(time.RFC3339, b)
	must(t, err)
	return start, end
}

func TestDetailsURLWindow(t *testing.T) {
	res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	end := start.Add(3 * time.Minute)
	link := statusmanager.DetailsURLWindow("my-proj", "worker", res, sha, start, end)
	want := statusmanager.DetailsURL("my-proj", "worker", res, sha)
	want = strings.Replace(want, "?project=", ";timeRange=2026-03-01T09%3A00%3A00Z%2F2026-03-01T09%3A03%3A00Z?project=", 1)
	if link != want {
		t.Errorf("link = %s\nwant %s", link, want)
	}
	if strings.Contains(link, "duration=") {
		t.Errorf("link has a relative duration: %s", link)
	}
}

// TestRunDetailsWindow: the link of a run selects from shortly before the run started to a
// margin after its last write, the completing one.
func TestRunDetailsWindow(t *testing.T) {
	ctx := context.Background()
	res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	srv := githubtest.NewTestServer(t)
	srv.AddRepo(owner, repo)
	sm, err := statusmanager.NewStatusManager[details](ctx, identity, statusmanager.WithAppID(srv.App().ID), statusmanager.WithProject("my-proj", "worker"))
	must(t, err)
	before := time.Now().Truncate(time.Second)
	s := sm.NewSession(srv.Client(), res, sha)
	must(t, s.SetActualState(ctx, "Working", inProgress(details{})))
	must(t, s.SetActualState(ctx, "Done", &statusmanager.Status[details]{ObservedGeneration: sha, Status: "completed", Conclusion: "success"}))
	after := time.Now()
	link := srv.CheckRuns(owner, repo, sha)[0].DetailsURL
	if got, want := withoutWindow(link), statusmanager.DetailsURL("my-proj", "worker", res, sha); got != want {
		t.Errorf("link = %s, want %s with a window", link, want)
	}
	from, to := window(t, link)
	if lo, hi := before.Add(-statusmanager.DetailsWindowBefore), before.Add(-statusmanager.DetailsWindowBefore+time.Second); from.Before(lo) || from.After(hi) {
		t.Errorf("window starts %v, want %v before the run started (%v)", from, statusmanager.DetailsWindowBefore, before)
	}
	if lo, hi := after.Add(statusmanager.DetailsWindowAfter-2*time.Second), after.Add(statusmanager.DetailsWindowAfter); to.Before(lo) || to.After(hi) {
		t.Errorf("window ends %v, want %v after the run completed (%v)", to, statusmanager.DetailsWindowAfter, after)
	}

	// A later attempt on the same open run keeps the run's start.
	srv2 := githubtest.NewTestServer(t)
	srv2.AddRepo(owner, repo)
	sm2, err := statusmanager.NewStatusManager[details](ctx, identity, statusmanager.WithAppID(srv2.App().ID), statusmanager.WithProject("my-proj", "worker"))
	must(t, err)
	must(t, sm2.NewSession(srv2.Client(), res, sha).SetActualState(ctx, "Working", inProgress(details{})))
	first, _ := window(t, srv2.CheckRuns(owner, repo, sha)[0].DetailsURL)
	time.Sleep(1100 * time.Millisecond)
	s2 := sm2.NewSession(srv2.Client(), res, sha)
	_, err = s2.ObservedState(ctx)
	must(t, err)
	must(t, s2.SetActualState(ctx, "Retrying", inProgress(details{})))
	if again, _ := window(t, srv2.CheckRuns(owner, repo, sha)[0].DetailsURL); again.After(first) {
		t.Errorf("a later attempt's window starts %v, after the run's %v", again, first)
	}
}

func TestDetailsURLTemplate(t *testing.T) {
	ctx := context.Background()
	res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	tests := []struct {
		name    string
		tmpl    string
		opts    []statusmanager.Option
		want    string // with START and END for the window's rfc3339
		wantErr string
	}{
		{"labels", "https://logs.example.com/q?pr={{urlquery .PRURL}}&sha={{.SHA}}&n={{.Number}}&r={{.Owner}}/{{.Repo}}&id={{.Identity}}",
			nil, "https://logs.example.com/q?pr=https%3A%2F%2Fgithub.com%2Focto-org%2Fhello-world%2Fpull%2F7&sha=" + sha + "&n=7&r=octo-org/hello-world&id=" + identity, ""},
		{"window", "https://logs.example.com/q?from={{rfc3339 .Start}}&to={{rfc3339 .End}}", nil, "https://logs.example.com/q?from=START&to=END", ""},
		{"query and project", "https://x.example/{{.Project}}/{{.Service}}?q={{queryescape .Query}}", []statusmanager.Option{statusmanager.WithProject("my-proj", "worker")},
			"https://x.example/my-proj/worker?q=" + url.QueryEscape(statusmanager.LogQuery("worker", res, sha)), ""},
		{"a fixed link wins", "https://x.example/{{.SHA}}", []statusmanager.Option{statusmanager.WithDetailsURL("https://ci.example.com/x")}, "https://ci.example.com/x", ""},
		{"does not parse", "https://x.example/{{.SHA", nil, "", "details URL template"},
		{"unknown field", "https://x.example/{{.Commit}}", nil, "", "details URL template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := githubtest.NewTestServer(t)
			srv.AddRepo(owner, repo)
			opts := append([]statusmanager.Option{statusmanager.WithAppID(srv.App().ID), statusmanager.WithDetailsURLTemplate(tt.tmpl)}, tt.opts...)
			sm, err := statusmanager.NewStatusManager[details](ctx, identity, opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			must(t, err)
			before := time.Now()
			must(t, sm.NewSession(srv.Client(), res, sha).SetActualState(ctx, "t", inProgress(details{})))
			got := srv.CheckRuns(owner, repo, sha)[0].DetailsURL
			want := tt.want
			if strings.Contains(want, "START") {
				// The window is the one the Cloud Logging link would select.
				want = strings.NewReplacer("START", before.Add(-statusmanager.DetailsWindowBefore).UTC().Format(time.RFC3339),
					"END", before.Add(statusmanager.DetailsWindowAfter).UTC().Format(time.RFC3339)).Replace(want)
				if got != want {
					// A second may have passed between before and the write.
					t.Logf("got %s, want %s (within a second)", got, want)
					if len(got) != len(want) || !strings.HasPrefix(got, "https://logs.example.com/q?from=") {
						t.Errorf("details URL = %q, want %q", got, want)
					}
				}
				return
			}
			if got != want {
				t.Errorf("details URL = %q, want %q", got, want)
			}
		})
	}
}
