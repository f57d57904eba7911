package statusmanager_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/statusmanager"
)

const (
	owner    = "octo-org"
	repo     = "hello-world"
	sha      = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	identity = "hygiene"
)

// details is a reconciler's typed status with Markdown and annotations.
type details struct {
	Files int      `json:"files"`
	Notes []string `json:"notes,omitempty"`
	Lines int      `json:"lines,omitempty"` // number of annotations, one per line of a.go
	Pad   int      `json:"pad,omitempty"`   // Markdown padding: this many "ü"
}

func (d details) Markdown() string {
	return fmt.Sprintf("Checked **%d** files.\n\n%s%s", d.Files, strings.Join(d.Notes, "\n"), strings.Repeat("ü", d.Pad))
}

func (d details) Annotations() []*github.CheckRunAnnotation {
	var out []*github.CheckRunAnnotation
	for i := 1; i <= d.Lines; i++ {
		out = append(out, &github.CheckRunAnnotation{
			Path: github.String("a.go"), StartLine: github.Int(i), EndLine: github.Int(i),
			AnnotationLevel: github.String("warning"), Message: github.String(fmt.Sprintf("line %d", i)),
		})
	}
	return out
}

type env struct {
	srv *githubtest.Server
	gh  *github.Client
	sm  *statusmanager.StatusManager[details]
	res *events.Resource
}

func newEnv(t *testing.T, opts ...statusmanager.Option) *env {
	t.Helper()
	return newEnvTB(t, opts...)
}

func newManager(t testing.TB, e *env) *statusmanager.StatusManager[details] {
	t.Helper()
	sm, err := statusmanager.NewStatusManager[details](context.Background(), identity, statusmanager.WithAppID(e.srv.App().ID), statusmanager.WithoutDetailsURL())
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

func newEnvTB(t testing.TB, opts ...statusmanager.Option) *env {
	t.Helper()
	srv := githubtest.NewTestServer(t)
	srv.AddRepo(owner, repo)
	res, err := events.ParseResource("https://github.com/" + owner + "/" + repo + "/pull/7")
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]statusmanager.Option{statusmanager.WithAppID(srv.App().ID), statusmanager.WithProject("", "")}, opts...)
	sm, err := statusmanager.NewStatusManager[details](context.Background(), identity, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, gh: srv.Client(), sm: sm, res: res}
}

// session is a session of the env's manager that retries what githubapp.IsTransient calls
// transient, as the worker's sessions do.
func (e *env) session() *statusmanager.Session[details] {
	s := e.sm.NewSession(e.gh, e.res, sha)
	s.SetRetry(githubapp.IsTransient)
	return s
}

func (e *env) runs(t *testing.T) []githubtest.CheckRun {
	t.Helper()
	return e.srv.CheckRuns(owner, repo, sha)
}

func inProgress(d details) *statusmanager.Status[details] {
	return &statusmanager.Status[details]{Status: "in_progress", Details: d}
}

func completed(conclusion string, d details) *statusmanager.Status[details] {
	return &statusmanager.Status[details]{Status: "completed", Conclusion: conclusion, Details: d}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestObservedStateNoRun(t *testing.T) {
	e := newEnv(t)
	st, err := e.session().ObservedState(context.Background())
	if err != nil || st != nil {
		t.Fatalf("ObservedState = %+v, %v; want nil, nil", st, err)
	}
}

func TestCreateThenUpdateSameRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.session()
	if _, err := s.ObservedState(ctx); err != nil {
		t.Fatal(err)
	}
	// ObservedGeneration is forced to the session's SHA whatever the caller says.
	st := inProgress(details{Files: 1})
	st.ObservedGeneration = "something-else"
	must(t, s.SetActualState(ctx, "Working", st))
	must(t, s.SetActualState(ctx, "Done", completed("success", details{Files: 3})))

	runs := e.runs(t)
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	r := runs[0]
	if r.Name != identity || r.Status != "completed" || r.Conclusion != "success" || r.Title != "Done" || r.AppID != e.srv.App().ID {
		t.Errorf("run = %+v", r)
	}
	if !strings.HasPrefix(r.Summary, "Checked **3** files.") {
		t.Errorf("summary does not start with the Markdown: %q", r.Summary)
	}
	if e.srv.Count(githubtest.RouteCreateCheckRun) != 1 || e.srv.Count(githubtest.RouteUpdateCheckRun) != 1 {
		t.Errorf("creates %d, updates %d; want 1 and 1", e.srv.Count(githubtest.RouteCreateCheckRun), e.srv.Count(githubtest.RouteUpdateCheckRun))
	}
	got, err := e.session().ObservedState(ctx)
	must(t, err)
	want := &statusmanager.Status[details]{ObservedGeneration: sha, Status: "completed", Conclusion: "success", Details: details{Files: 3}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read back %+v, want %+v", got, want)
	}
}

func TestLaterSessionThatReadUpdates(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.session().SetActualState(ctx, "Working", inProgress(details{})))
	s := e.session()
	st, err := s.ObservedState(ctx)
	must(t, err)
	if st == nil || st.Status != "in_progress" {
		t.Fatalf("read %+v", st)
	}
	must(t, s.SetActualState(ctx, "Done", completed("neutral", details{})))
	if runs := e.runs(t); len(runs) != 1 || runs[0].Conclusion != "neutral" {
		t.Fatalf("runs = %+v", runs)
	}
}

func TestNeverTrustsAnotherApp(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	other := e.srv.AddApp("impostor")
	inst := e.srv.Install(other, owner)
	otherSM, err := statusmanager.NewStatusManager[details](ctx, identity, statusmanager.WithAppID(other.ID), statusmanager.WithoutDetailsURL())
	must(t, err)
	// The other App writes a perfect marker claiming this SHA is done.
	must(t, otherSM.NewSession(e.srv.ClientFor(other, inst), e.res, sha).SetActualState(ctx, "Done", completed("success", details{Files: 99})))

	st, err := e.session().ObservedState(ctx)
	if err != nil || st != nil {
		t.Fatalf("ObservedState = %+v, %v; a run of another App must not be read", st, err)
	}
	// Ours, written afterwards, is read even though the other App's run has the same name.
	must(t, e.session().SetActualState(ctx, "Working", inProgress(details{Files: 1})))
	must(t, otherSM.NewSession(e.srv.ClientFor(other, inst), e.res, sha).SetActualState(ctx, "Done again", completed("success", details{Files: 100})))
	st, err = e.session().ObservedState(ctx)
	must(t, err)
	if st == nil || st.Status != "in_progress" || st.Details.Files != 1 {
		t.Fatalf("read %+v, want our in_progress run", st)
	}
}

func TestNeverTrustsAWorkflowRunWithAMarker(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	actions := e.srv.AddApp("github-actions")
	inst := e.srv.Install(actions, owner)
	summary := "<!--" + identity + "-status-->\n<!--\n{\"observedGeneration\":\"" + sha + "\",\"status\":\"completed\",\"conclusion\":\"success\",\"details\":{}}\n-->\n<!--/" + identity + "-status-->"
	_, _, err := e.srv.ClientFor(actions, inst).Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{
		Name: identity, HeadSHA: sha, Status: github.String("completed"), Conclusion: github.String("success"),
		Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String(summary)},
	})
	must(t, err)
	if st, err := e.sm.ObservedStateAtSHA(ctx, e.gh, e.res, sha); err != nil || st != nil {
		t.Fatalf("ObservedStateAtSHA = %+v, %v; want nil", st, err)
	}
}

func TestValidationBeforeAnyRequest(t *testing.T) {
	tests := []struct {
		name string
		st   *statusmanager.Status[details]
	}{
		{"nil", nil},
		{"empty status", &statusmanager.Status[details]{}},
		{"unknown status", &statusmanager.Status[details]{Status: "done"}},
		{"status waiting is Actions' only", &statusmanager.Status[details]{Status: "waiting"}},
		{"completed without conclusion", &statusmanager.Status[details]{Status: "completed"}},
		{"completed stale", &statusmanager.Status[details]{Status: "completed", Conclusion: "stale"}},
		{"completed bad conclusion", &statusmanager.Status[details]{Status: "completed", Conclusion: "ok"}},
		{"conclusion while in progress", &statusmanager.Status[details]{Status: "in_progress", Conclusion: "success"}},
		{"conclusion while queued", &statusmanager.Status[details]{Status: "queued", Conclusion: "failure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			err := e.session().SetActualState(context.Background(), "t", tt.st)
			if !errors.Is(err, statusmanager.ErrInvalidStatus) {
				t.Fatalf("err = %v, want ErrInvalidStatus", err)
			}
			if n := len(e.srv.Requests()); n != 0 {
				t.Errorf("%d requests made before validation failed", n)
			}
		})
	}
}

type badAnnotations struct{ anns []*github.CheckRunAnnotation }

func (b badAnnotations) Annotations() []*github.CheckRunAnnotation { return b.anns }

func TestInvalidAnnotationsRefusedBeforeAnyRequest(t *testing.T) {
	ann := func(mut func(a *github.CheckRunAnnotation)) []*github.CheckRunAnnotation {
		a := &github.CheckRunAnnotation{Path: github.String("a.go"), StartLine: github.Int(1), EndLine: github.Int(1),
			AnnotationLevel: github.String("warning"), Message: github.String("m")}
		mut(a)
		return []*github.CheckRunAnnotation{a}
	}
	tests := map[string][]*github.CheckRunAnnotation{
		"nil":           {nil},
		"no path":       ann(func(a *github.CheckRunAnnotation) { a.Path = nil }),
		"line 0":        ann(func(a *github.CheckRunAnnotation) { a.StartLine = github.Int(0) }),
		"end before":    ann(func(a *github.CheckRunAnnotation) { a.StartLine = github.Int(5) }),
		"bad level":     ann(func(a *github.CheckRunAnnotation) { a.AnnotationLevel = github.String("error") }),
		"no message":    ann(func(a *github.CheckRunAnnotation) { a.Message = nil }),
		"long title":    ann(func(a *github.CheckRunAnnotation) { a.Title = github.String(strings.Repeat("t", 256)) }),
		"columns multi": ann(func(a *github.CheckRunAnnotation) { a.EndLine = github.Int(2); a.StartColumn = github.Int(1) }),
	}
	for name, anns := range tests {
		t.Run(name, func(t *testing.T) {
			srv := githubtest.NewTestServer(t)
			srv.AddRepo(owner, repo)
			sm, err := statusmanager.NewStatusManager[badAnnotations](context.Background(), identity, statusmanager.WithAppID(srv.App().ID))
			must(t, err)
			res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
			err = sm.NewSession(srv.Client(), res, sha).SetActualState(context.Background(), "t",
				&statusmanager.Status[badAnnotations]{Status: "completed", Conclusion: "failure", Details: badAnnotations{anns}})
			if !errors.Is(err, statusmanager.ErrInvalidStatus) {
				t.Fatalf("err = %v, want ErrInvalidStatus", err)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%d requests made", n)
			}
		})
	}
}

func TestCorruptSummaryReadsAsNoStatus(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	corrupt := "report\n<!--" + identity + "-status-->\n<!--\n{\"observedGeneration\": \"" + sha + "\", \"status\": \n-->\n<!--/" + identity + "-status-->"
	run, _, err := e.gh.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{
		Name: identity, HeadSHA: sha, Status: github.String("completed"), Conclusion: github.String("success"),
		Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String(corrupt)},
	})
	must(t, err)
	st, err := e.session().ObservedState(ctx)
	if err != nil || st != nil {
		t.Fatalf("ObservedState = %+v, %v; want nil, nil for a corrupt marker", st, err)
	}
	if _, err := statusmanager.DecodeSummary[details](identity, run.GetOutput().GetSummary()); !errors.Is(err, statusmanager.ErrCorruptStatus) {
		t.Fatalf("DecodeSummary err = %v, want ErrCorruptStatus", err)
	}
}

func TestHugeMarkdownIsCutAndStatusReadBack(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	d := details{Files: 1, Pad: 40000} // 80,000 bytes of Markdown
	must(t, e.session().SetActualState(ctx, "Big", completed("failure", d)))
	r := e.runs(t)[0]
	if len(r.Summary) > statusmanager.MaxSummaryBytes || !strings.Contains(r.Summary, "truncated") {
		t.Fatalf("summary %d bytes, truncation note %v", len(r.Summary), strings.Contains(r.Summary, "truncated"))
	}
	st, err := e.session().ObservedState(ctx)
	must(t, err)
	if st == nil || st.Details.Pad != d.Pad || st.Details.Files != d.Files {
		t.Fatal("the status did not survive the cut Markdown")
	}
}

func TestStatusTooLargeIsAnErrorBeforeAnyRequest(t *testing.T) {
	e := newEnv(t)
	d := details{Notes: []string{strings.Repeat("x", statusmanager.MaxSummaryBytes)}}
	err := e.session().SetActualState(context.Background(), "t", completed("failure", d))
	if !errors.Is(err, statusmanager.ErrStatusTooLarge) {
		t.Fatalf("err = %v, want ErrStatusTooLarge", err)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests made", n)
	}
}

func assertAnnotationsOnce(t *testing.T, r githubtest.CheckRun, n int) {
	t.Helper()
	if len(r.Annotations) != n {
		t.Fatalf("run has %d annotations, want %d", len(r.Annotations), n)
	}
	for i, a := range r.Annotations {
		if a.GetStartLine() != i+1 {
			t.Fatalf("annotation %d is for line %d: written twice or out of order", i, a.GetStartLine())
		}
	}
}

func TestAnnotationsBatchedExactlyOnce(t *testing.T) {
	for _, n := range []int{0, 1, 50, 51, 120} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			s := e.session()
			_, err := s.ObservedState(ctx)
			must(t, err)
			must(t, s.SetActualState(ctx, "Working", inProgress(details{})))
			must(t, s.SetActualState(ctx, "Done", completed("failure", details{Lines: n})))
			r := e.runs(t)
			if len(r) != 1 || r[0].Status != "completed" {
				t.Fatalf("runs = %+v", r)
			}
			assertAnnotationsOnce(t, r[0], n)
			wantUpdates := max(1, (n+49)/50)
			if got := e.srv.Count(githubtest.RouteUpdateCheckRun); got != wantUpdates {
				t.Errorf("%d updates, want %d", got, wantUpdates)
			}
		})
	}
}

func TestAnnotationsOnCreateOver50(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.session().SetActualState(ctx, "Done", completed("failure", details{Lines: 120})))
	r := e.runs(t)
	if len(r) != 1 || r[0].Status != "completed" || r[0].Conclusion != "failure" {
		t.Fatalf("runs = %+v", r)
	}
	assertAnnotationsOnce(t, r[0], 120)
}

func TestRetriedWriteWritesAnnotationsOnce(t *testing.T) {
	tests := []struct {
		name   string
		route  githubtest.Route
		status int
	}{
		{"502 on an update", githubtest.RouteUpdateCheckRun, 502},
		{"500 on the create", githubtest.RouteCreateCheckRun, 500},
		{"secondary rate limit on an update", githubtest.RouteUpdateCheckRun, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			if tt.status == 403 {
				e.srv.FailNextSecondaryRateLimit(tt.route, 1, 403, 0)
			} else {
				e.srv.FailNext(tt.route, 1, tt.status)
			}
			s := e.session()
			must(t, s.SetActualState(ctx, "Working", inProgress(details{})))
			must(t, s.SetActualState(ctx, "Done", completed("failure", details{Lines: 120})))
			r := e.runs(t)
			if len(r) != 1 {
				t.Fatalf("%d runs, want 1", len(r))
			}
			assertAnnotationsOnce(t, r[0], 120)
		})
	}
}

// The session retries only what its classifier calls worth it, and nothing without one.
func TestWriteRetryClassifier(t *testing.T) {
	for _, tt := range []struct {
		name      string
		retry     func(error) bool
		status    int
		wantErr   bool
		wantCalls int // requests of the failing route
	}{
		{"no classifier: the error at once", nil, 502, true, 1},
		{"githubapp.IsTransient: a 502 retried", githubapp.IsTransient, 502, false, 2},
		{"githubapp.IsTransient: a 422 not retried", githubapp.IsTransient, 422, true, 1},
		{"a classifier that retries nothing", func(error) bool { return false }, 502, true, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.sm.NewSession(e.gh, e.res, sha)
			if tt.retry != nil {
				s.SetRetry(tt.retry)
			}
			e.srv.FailNext(githubtest.RouteCreateCheckRun, 1, tt.status)
			err := s.SetActualState(context.Background(), "Working", inProgress(details{}))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if n := e.srv.Count(githubtest.RouteCreateCheckRun); n != tt.wantCalls {
				t.Errorf("%d creates, want %d", n, tt.wantCalls)
			}
		})
	}
}

// A worker that dies between annotation batches leaves an in-progress run; the next attempt
// continues it and writes only the missing annotations.
func TestRedoneAttemptContinuesAnnotations(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// The first attempt's connection breaks after its first annotation batch lands.
	rt := &breakAfter{base: e.gh.Client().Transport, patches: 1}
	broken := github.NewClient(&http.Client{Transport: rt})
	broken.BaseURL = e.gh.BaseURL
	s := e.sm.NewSession(broken, e.res, sha)
	must(t, s.SetActualState(ctx, "Working", inProgress(details{})))
	if err := s.SetActualState(ctx, "Done", completed("failure", details{Lines: 120})); err == nil {
		t.Fatal("the broken attempt succeeded")
	}
	if r := e.runs(t)[0]; r.Status != "in_progress" || len(r.Annotations) != 50 {
		t.Fatalf("after the broken attempt: %s with %d annotations, want in_progress with 50", r.Status, len(r.Annotations))
	}
	s2 := e.session()
	st, err := s2.ObservedState(ctx)
	must(t, err)
	if st == nil || st.Status != "in_progress" {
		t.Fatalf("read %+v, want the in-progress status", st)
	}
	must(t, s2.SetActualState(ctx, "Done", completed("failure", details{Lines: 120})))
	r := e.runs(t)
	if len(r) != 1 || r[0].Status != "completed" {
		t.Fatalf("runs = %+v", r)
	}
	assertAnnotationsOnce(t, r[0], 120)
}

// breakAfter lets the first `patches` PATCH requests through and fails every later one as a
// dropped connection would.
type breakAfter struct {
	base    http.RoundTripper
	mu      sync.Mutex
	patches int
}

func (b *breakAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPatch {
		b.mu.Lock()
		b.patches--
		left := b.patches
		b.mu.Unlock()
		if left < 0 {
			return nil, io.ErrUnexpectedEOF
		}
	}
	return b.base.RoundTrip(r)
}

func TestCompletedRunNeverReopened(t *testing.T) {
	ctx := context.Background()
	srv := githubtest.NewTestServer(t, githubtest.WithStrictCompleted())
	srv.AddRepo(owner, repo)
	sm, err := statusmanager.NewStatusManager[details](ctx, identity, statusmanager.WithAppID(srv.App().ID))
	must(t, err)
	res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	s := sm.NewSession(srv.Client(), res, sha)
	must(t, s.SetActualState(ctx, "Done", completed("failure", details{Files: 1})))
	// The same session, and a later one that read the completed run, both start a new run.
	must(t, s.SetActualState(ctx, "Again", inProgress(details{})))
	s2 := sm.NewSession(srv.Client(), res, sha)
	_, err = s2.ObservedState(ctx)
	must(t, err)
	must(t, s2.SetActualState(ctx, "Done again", completed("success", details{Files: 2})))
	must(t, s2.SetActualState(ctx, "Rerun", inProgress(details{})))
	runs := srv.CheckRuns(owner, repo, sha)
	if len(runs) != 3 {
		t.Fatalf("%d runs, want 3 (history kept, nothing reopened)", len(runs))
	}
	if runs[0].Status != "completed" || runs[0].Conclusion != "failure" || runs[1].Conclusion != "success" || runs[2].Status != "in_progress" {
		t.Errorf("runs: %s/%s, %s/%s, %s", runs[0].Status, runs[0].Conclusion, runs[1].Status, runs[1].Conclusion, runs[2].Status)
	}
	st, err := sm.NewSession(srv.Client(), res, sha).ObservedState(ctx)
	must(t, err)
	if st == nil || st.Status != "in_progress" {
		t.Errorf("the newest run is what is read: got %+v", st)
	}
}

func TestResetForRerunStartsANewRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.session()
	must(t, s.SetActualState(ctx, "Working", inProgress(details{})))
	s.ResetForRerun()
	must(t, s.SetActualState(ctx, "Working again", inProgress(details{})))
	if n := len(e.runs(t)); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
}

func TestDetailsURL(t *testing.T) {
	res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	link := statusmanager.DetailsURL("my-proj", "worker", res, sha)
	getenv := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		opts []statusmanager.Option
		want string
	}{
		{"project option", []statusmanager.Option{statusmanager.WithProject("my-proj", "worker")}, link},
		{"environment", []statusmanager.Option{statusmanager.WithGetenv(getenv(map[string]string{"GOOGLE_CLOUD_PROJECT": "my-proj", "K_SERVICE": "worker"}))}, link},
		{"off GCP: omitted", []statusmanager.Option{statusmanager.WithGetenv(getenv(nil))}, ""},
		{"override", []statusmanager.Option{statusmanager.WithDetailsURL("https://ci.example.com/x"), statusmanager.WithProject("my-proj", "w")}, "https://ci.example.com/x"},
		{"none", []statusmanager.Option{statusmanager.WithProject("my-proj", "w"), statusmanager.WithoutDetailsURL()}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := githubtest.NewTestServer(t)
			srv.AddRepo(owner, repo)
			opts := append([]statusmanager.Option{statusmanager.WithAppID(srv.App().ID)}, tt.opts...)
			sm, err := statusmanager.NewStatusManager[details](context.Background(), identity, opts...)
			must(t, err)
			must(t, sm.NewSession(srv.Client(), res, sha).SetActualState(context.Background(), "t", inProgress(details{})))
			if got := withoutWindow(srv.CheckRuns(owner, repo, sha)[0].DetailsURL); got != tt.want {
				t.Errorf("details URL = %q, want %q", got, tt.want)
			}
		})
	}
}

// withoutWindow removes the time window from a Logs Explorer link, the part that depends on
// when the run was written.
func withoutWindow(link string) string {
	return regexp.MustCompile(`;timeRange=[^;?]*`).ReplaceAllString(link, "")
}

func TestDetailsURLQuery(t *testing.T) {
	res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	link := statusmanager.DetailsURL("my-proj", "worker", res, sha)
	prefix := "https://console.cloud.google.com/logs/query;query="
	if !strings.HasPrefix(link, prefix) || !strings.HasSuffix(link, ";storageScope=project?project=my-proj") {
		t.Fatalf("link = %s", link)
	}
	enc := strings.TrimSuffix(strings.TrimPrefix(link, prefix), ";storageScope=project?project=my-proj")
	if strings.ContainsAny(enc, ";/?#+ ()") {
		t.Errorf("encoded query has a character that breaks the link: %s", enc)
	}
	q, err := url.PathUnescape(enc)
	must(t, err)
	want := `resource.type="cloud_run_revision"` + "\n" + `resource.labels.service_name="worker"` + "\n" +
		`labels.pr_url="https://github.com/octo-org/hello-world/pull/7"` + "\n" + `labels.sha="` + sha + `"`
	if q != want || q != statusmanager.LogQuery("worker", res, sha) {
		t.Errorf("query = %q, want %q", q, want)
	}
}

func TestConditionalReads(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.session().SetActualState(ctx, "Working", inProgress(details{})))
	_, err := e.session().ObservedState(ctx)
	must(t, err)
	e.srv.ResetCounters()
	for i := 0; i < 3; i++ {
		st, err := e.session().ObservedState(ctx)
		must(t, err)
		if st == nil || st.Status != "in_progress" {
			t.Fatalf("read %+v", st)
		}
	}
	if got := e.srv.Count(githubtest.RouteListCheckRunsForRef); got != 3 {
		t.Errorf("%d list requests, want 3 (always revalidated)", got)
	}
	if used := e.srv.RateLimitUsed(); used != 0 {
		t.Errorf("unchanged reads used %d rate-limit points, want 0", used)
	}
	// After a write the next read sees it: never served stale.
	must(t, e.session().SetActualState(ctx, "x", inProgress(details{Files: 5})))
	s := e.session()
	st, err := s.ObservedState(ctx)
	must(t, err)
	// That session had not read, so it created a second run; the newest is what is read.
	if st == nil || st.Details.Files != 5 {
		t.Fatalf("read %+v after a write, want Files 5", st)
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.session().SetActualState(ctx, "Done", completed("success", details{Files: 4})))
	ro, err := statusmanager.NewStatusManager[details](ctx, identity, statusmanager.WithAppID(e.srv.App().ID), statusmanager.ReadOnly())
	must(t, err)
	e.srv.ResetCounters()
	s := ro.NewSession(e.gh, e.res, sha)
	if err := s.SetActualState(ctx, "x", inProgress(details{})); !errors.Is(err, statusmanager.ErrReadOnly) {
		t.Fatalf("err = %v, want ErrReadOnly", err)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests by a read-only write", n)
	}
	st, err := ro.ObservedStateAtSHA(ctx, e.gh, e.res, strings.ToUpper(sha))
	must(t, err)
	if st == nil || st.Details.Files != 4 {
		t.Fatalf("ObservedStateAtSHA = %+v", st)
	}
}

func TestNewStatusManagerErrors(t *testing.T) {
	ctx := context.Background()
	noEnv := statusmanager.WithGetenv(func(string) string { return "" })
	tests := []struct {
		name     string
		identity string
		opts     []statusmanager.Option
		want     string
	}{
		{"no app id", "x", []statusmanager.Option{noEnv}, "no GitHub App id"},
		{"bad env app id", "x", []statusmanager.Option{statusmanager.WithGetenv(func(k string) string { return map[string]string{"GITHUB_APP_ID": "abc"}[k] })}, "GITHUB_APP_ID"},
		{"empty identity", "", []statusmanager.Option{statusmanager.WithAppID(1)}, "identity"},
		{"identity with marker characters", "a-->b", []statusmanager.Option{statusmanager.WithAppID(1)}, "identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := statusmanager.NewStatusManager[details](ctx, tt.identity, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want mention of %q", err, tt.want)
			}
		})
	}
	sm, err := statusmanager.NewStatusManager[details](ctx, "x", statusmanager.WithGetenv(func(k string) string { return map[string]string{"GITHUB_APP_ID": "42"}[k] }))
	must(t, err)
	if sm.AppID() != 42 {
		t.Errorf("AppID = %d, want 42 from GITHUB_APP_ID", sm.AppID())
	}
}

type ptrDetails struct{ N int }

func (d *ptrDetails) Markdown() string { return fmt.Sprintf("pointer receiver %d", d.N) }

func TestMarkdownOnPointerReceiver(t *testing.T) {
	srv := githubtest.NewTestServer(t)
	srv.AddRepo(owner, repo)
	sm, err := statusmanager.NewStatusManager[ptrDetails](context.Background(), identity, statusmanager.WithAppID(srv.App().ID))
	must(t, err)
	res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	must(t, sm.NewSession(srv.Client(), res, sha).SetActualState(context.Background(), "t",
		&statusmanager.Status[ptrDetails]{Status: statusmanager.StatusCompleted, Conclusion: statusmanager.ConclusionSuccess, Details: ptrDetails{N: 3}}))
	if s := srv.CheckRuns(owner, repo, sha)[0].Summary; !strings.HasPrefix(s, "pointer receiver 3") {
		t.Errorf("summary = %q", s)
	}
}

// On Cloud Run (K_SERVICE set) without GOOGLE_CLOUD_PROJECT the project is looked up once,
// by cloudlog.Project, and given with WithProject; the manager itself asks no metadata server.
func TestDetailsURLProjectFromMetadataServer(t *testing.T) {
	var hits atomic.Int32
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Metadata-Flavor") != "Google" || r.URL.Path != "/computeMetadata/v1/project/project-id" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "meta-proj")
	}))
	defer md.Close()
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(md.URL, "http://"))
	cloudRun := func(k string) string {
		return map[string]string{"K_SERVICE": "worker", "GCE_METADATA_HOST": strings.TrimPrefix(md.URL, "http://")}[k]
	}
	res, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	for _, tt := range []struct {
		name     string
		opts     func() []statusmanager.Option
		wantURL  string
		wantHits int32
	}{
		{"no project given: no link, no lookup", func() []statusmanager.Option {
			return []statusmanager.Option{statusmanager.WithGetenv(cloudRun)}
		}, "", 0},
		{"the project of cloudlog.Project", func() []statusmanager.Option {
			return []statusmanager.Option{statusmanager.WithProject(cloudlog.Project(context.Background(), cloudRun), cloudlog.Service(cloudRun))}
		}, statusmanager.DetailsURL("meta-proj", "worker", res, sha), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			srv := githubtest.NewTestServer(t)
			srv.AddRepo(owner, repo)
			sm, err := statusmanager.NewStatusManager[details](context.Background(), identity,
				append(tt.opts(), statusmanager.WithAppID(srv.App().ID))...)
			must(t, err)
			must(t, sm.NewSession(srv.Client(), res, sha).SetActualState(context.Background(), "t", inProgress(details{})))
			if got := withoutWindow(srv.CheckRuns(owner, repo, sha)[0].DetailsURL); got != tt.wantURL {
				t.Errorf("details URL = %q, want %q", got, tt.wantURL)
			}
			if n := hits.Load(); n != tt.wantHits {
				t.Errorf("%d metadata requests, want %d", n, tt.wantHits)
			}
		})
	}
}

// A write that GitHub applied but whose answer was lost (a 502 from a proxy, a reset
// connection) is not sent twice: the session re-reads the run and sends only what is missing.
func TestWriteAppliedButAnswerLost(t *testing.T) {
	tests := []struct {
		name  string
		route githubtest.Route
		skip  int // requests of the route that go through before the fault
	}{
		{"the create", githubtest.RouteCreateCheckRun, 0},
		{"an interim annotation batch", githubtest.RouteUpdateCheckRun, 0},
		{"the final update", githubtest.RouteUpdateCheckRun, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			s := e.session()
			if tt.route == githubtest.RouteUpdateCheckRun {
				must(t, s.SetActualState(ctx, "Working", inProgress(details{})))
			}
			if tt.skip > 0 {
				// Let the first batches through by arming the fault after them.
				rt := &armAfter{base: e.gh.Client().Transport, after: tt.skip, arm: func() { e.srv.FailNextAfterApply(tt.route, 1, 502) }}
				c := github.NewClient(&http.Client{Transport: rt})
				c.BaseURL = e.gh.BaseURL
				s = e.sm.NewSession(c, e.res, sha)
				s.SetRetry(githubapp.IsTransient)
				_, err := s.ObservedState(ctx)
				must(t, err)
			} else {
				e.srv.FailNextAfterApply(tt.route, 1, 502)
			}
			must(t, s.SetActualState(ctx, "Done", completed("failure", details{Lines: 120})))
			r := e.runs(t)
			if len(r) != 1 || r[0].Status != "completed" || r[0].Conclusion != "failure" {
				t.Fatalf("runs = %+v", r)
			}
			assertAnnotationsOnce(t, r[0], 120)
		})
	}
}

// armAfter calls arm once, after `after` PATCH requests went through.
type armAfter struct {
	base  http.RoundTripper
	mu    sync.Mutex
	after int
	arm   func()
}

func (a *armAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(r)
	if r.Method == http.MethodPatch {
		a.mu.Lock()
		a.after--
		if a.after == 0 {
			a.arm()
		}
		a.mu.Unlock()
	}
	return resp, err
}

// The caller's deadline ends a write GitHub applied before its answer arrived: the session
// knows it does not know, and its next write re-reads the run first.
func TestWriteAppliedWhenTheContextEnded(t *testing.T) {
	e := newEnv(t)
	ctx1, cancel := context.WithCancel(context.Background())
	rt := &cancelAfterPatch{base: e.gh.Client().Transport, cancel: cancel}
	c := github.NewClient(&http.Client{Transport: rt})
	c.BaseURL = e.gh.BaseURL
	s := e.sm.NewSession(c, e.res, sha)
	must(t, s.SetActualState(ctx1, "Working", inProgress(details{})))
	rt.armed = true
	if err := s.SetActualState(ctx1, "Done", completed("success", details{Lines: 3})); err == nil {
		t.Fatal("the write reported success although its answer never arrived")
	}
	if r := e.runs(t); len(r) != 1 || r[0].Status != "completed" || len(r[0].Annotations) != 3 {
		t.Fatalf("GitHub should hold the completed run: %+v", r)
	}
	rt.armed = false
	// The same write again (a retry by the caller) is recognised as done.
	must(t, s.SetActualState(context.Background(), "Done", completed("success", details{Lines: 3})))
	r := e.runs(t)
	if len(r) != 1 {
		t.Fatalf("%d runs, want 1", len(r))
	}
	assertAnnotationsOnce(t, r[0], 3)
}

type cancelAfterPatch struct {
	base   http.RoundTripper
	cancel func()
	armed  bool
}

func (c *cancelAfterPatch) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if c.armed && r.Method == http.MethodPatch && err == nil {
		resp.Body.Close()
		c.cancel()
		return nil, context.Canceled
	}
	return resp, err
}

// The external_id of every run names its pull request (events.RunRef), with the caller's
// reference after it: a check_run event of a fork's pull request lists no pull requests, and
// this is how a rerun of such a run finds its pull request.
func TestExternalID(t *testing.T) {
	cases := []struct {
		name   string
		res    events.Resource
		ref    string
		wantID string
	}{
		{"caller's reference", events.Resource{Owner: owner, Repo: repo, Number: 7, URL: "https://github.com/octo-org/hello-world/pull/7"}, "delivery-1", "pr:7 delivery-1"},
		{"no caller's reference", events.Resource{Owner: owner, Repo: repo, Number: 7, URL: "https://github.com/octo-org/hello-world/pull/7"}, "", "pr:7"},
		{"number from the URL", events.Resource{Owner: owner, Repo: repo, URL: "https://ghe.example/octo-org/hello-world/pull/12"}, "r", "pr:12 r"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.sm.NewSession(e.gh, &tc.res, sha)
			s.SetExternalID(tc.ref)
			must(t, s.SetActualState(context.Background(), "Working", inProgress(details{})))
			must(t, s.SetActualState(context.Background(), "Done", completed("success", details{})))
			if got := e.runs(t)[0].ExternalID; got != tc.wantID {
				t.Fatalf("external_id = %q, want %q", got, tc.wantID)
			}
			st := e.session()
			_, err := st.ObservedState(context.Background())
			must(t, err)
			got := events.ParseRunRef(st.CheckRun().GetExternalID())
			if got.Ref != tc.ref || got.Number != tc.res.Number && tc.res.Number != 0 {
				t.Errorf("read back %+v, want the reference %q", got, tc.ref)
			}
		})
	}
}

// A completed status where the session has no run of ours to update creates the run
// completed: one request up to 50 annotations, then one more per 50, and no read.
func TestCompletedCreateInOneWrite(t *testing.T) {
	for _, n := range []int{0, 1, 50, 51, 120} {
		for _, tt := range []struct {
			name string
			prep func(t *testing.T, e *env, s *statusmanager.Session[details])
		}{
			{"a session that never read", func(*testing.T, *env, *statusmanager.Session[details]) {}},
			{"a session that read no run", func(t *testing.T, e *env, s *statusmanager.Session[details]) {
				_, err := s.ObservedState(context.Background())
				must(t, err)
			}},
			{"a session whose run is completed (a rerun)", func(t *testing.T, e *env, s *statusmanager.Session[details]) {
				must(t, e.session().SetActualState(context.Background(), "Done", completed("success", details{})))
				_, err := s.ObservedState(context.Background())
				must(t, err)
			}},
		} {
			t.Run(fmt.Sprintf("%d annotations, %s", n, tt.name), func(t *testing.T) {
				e := newEnv(t)
				s := e.session()
				tt.prep(t, e, s)
				e.srv.ResetCounters()
				must(t, s.SetActualState(context.Background(), "Done", completed("failure", details{Lines: n})))
				wantUpdates := max(0, (n+49)/50-1)
				if c, u, all := e.srv.Count(githubtest.RouteCreateCheckRun), e.srv.Count(githubtest.RouteUpdateCheckRun), len(e.srv.Requests()); c != 1 || u != wantUpdates || all != 1+wantUpdates {
					t.Errorf("%d creates, %d updates, %d requests; want 1, %d, %d", c, u, all, wantUpdates, 1+wantUpdates)
				}
				runs := e.runs(t)
				r := runs[len(runs)-1]
				if r.Status != "completed" || r.Conclusion != "failure" || r.Title != "Done" {
					t.Fatalf("newest run %s/%s %q", r.Status, r.Conclusion, r.Title)
				}
				assertAnnotationsOnce(t, r, n)
			})
		}
	}
}

// A worker that dies after the create of a completed run with more than 50 annotations
// leaves it open with the first 50; the next attempt completes it with the rest.
func TestRedoneDirectCreateContinuesAnnotations(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	rt := &breakAfter{base: e.gh.Client().Transport, patches: 0}
	broken := github.NewClient(&http.Client{Transport: rt})
	broken.BaseURL = e.gh.BaseURL
	if err := e.sm.NewSession(broken, e.res, sha).SetActualState(ctx, "Done", completed("failure", details{Lines: 120})); err == nil {
		t.Fatal("the broken attempt succeeded")
	}
	if r := e.runs(t); len(r) != 1 || r[0].Status != "in_progress" || len(r[0].Annotations) != 50 {
		t.Fatalf("after the broken attempt: %+v, want one in_progress run with 50 annotations", r)
	}
	s := e.session()
	st, err := s.ObservedState(ctx)
	must(t, err)
	if st == nil || st.Status != "in_progress" {
		t.Fatalf("read %+v, want the open status", st)
	}
	must(t, s.SetActualState(ctx, "Done", completed("failure", details{Lines: 120})))
	r := e.runs(t)
	if len(r) != 1 || r[0].Status != "completed" {
		t.Fatalf("runs = %+v", r)
	}
	assertAnnotationsOnce(t, r[0], 120)
}
