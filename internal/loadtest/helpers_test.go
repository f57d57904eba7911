package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

func TestMain(m *testing.M) { os.Exit(pubsubemu.Run(m)) }

// loadEnv is the switch of the heavy runs: scripts/benchmarks sets PRRECONCILER_LOAD=1.
const loadEnv = "PRRECONCILER_LOAD"

func needLoad(t testing.TB) {
	t.Helper()
	if os.Getenv(loadEnv) == "" {
		t.Skipf("heavy load run: set %s=1 (scripts/benchmarks does)", loadEnv)
	}
}

const (
	identity = "loadtest"
	owner    = "load-org"
	repo     = "load-repo"
)

// sha returns a distinct commit SHA for n.
func sha(n int) string { return fmt.Sprintf("%040x", 0xc0ffee0000+n) }

func prURL(o, r string, n int) string {
	return fmt.Sprintf("https://github.com/%s/%s/pull/%d", o, r, n)
}

// report is the reconciler's details: n annotations and a Markdown line per annotation, so
// that big results exercise the summary cut.
type report struct {
	N      int    `json:"annotations"`
	Note   string `json:"note,omitempty"`
	Forged string `json:"-"`
}

func (r report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Checked, %d annotations.\n\n", r.N)
	for i := range r.N {
		fmt.Fprintf(&b, "- finding %d on line %d of README.md\n", i, i+1)
	}
	b.WriteString(r.Forged)
	return b.String()
}

func (r report) Annotations() []*github.CheckRunAnnotation {
	anns := make([]*github.CheckRunAnnotation, r.N)
	for i := range anns {
		anns[i] = &github.CheckRunAnnotation{
			Path: github.String("README.md"), StartLine: github.Int(i + 1), EndLine: github.Int(i + 1),
			AnnotationLevel: github.String("warning"), Message: github.String(fmt.Sprintf("finding %d", i)),
		}
	}
	return anns
}

// env is a GitHub fake, the real githubapp factory on its App key, a status manager and a
// worker around a reconciler.
type env struct {
	gh      *githubtest.Server
	clients *githubapp.Factory
	w       *worker.Worker[report]
}

type envOpts struct {
	reconcile worker.Reconciler[report]
	fake      []githubtest.Option
	budget    time.Duration
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	gh := githubtest.NewTestServer(t, append([]githubtest.Option{githubtest.WithRateLimit(1 << 30)}, o.fake...)...)
	gh.AddRepo(owner, repo)
	e := &env{gh: gh}
	e.restart(t, o)
	return e
}

// restart replaces the worker, its status manager and its client factory with new ones: what
// a new process would have (no ETags, no tokens, no flights).
func (e *env) restart(t testing.TB, o envOpts) {
	t.Helper()
	budget := o.budget
	if budget == 0 {
		budget = 10 * time.Second
	}
	// No jitter after a pause: one process, and a secondary limit injected near the end of a
	// run must not hold its installation's admissions for up to 30 s more.
	f, err := githubapp.New(e.gh.App().ID, e.gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: e.gh.URL() + "/", RetryBudget: budget,
		ResetJitter: -1})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := statusmanager.NewStatusManager[report](context.Background(), identity,
		statusmanager.WithAppID(e.gh.App().ID), statusmanager.WithoutDetailsURL())
	if err != nil {
		t.Fatal(err)
	}
	rec := o.reconcile
	if rec == nil {
		rec = annotate(0)
	}
	e.clients = f
	e.w = &worker.Worker[report]{
		Manager: sm, Clients: f, Reconcile: rec,
		Decoder:             &events.Decoder{AppID: e.gh.App().ID, Identity: identity},
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
		Timeout:             30 * time.Second,
		GitHubTimeout:       30 * time.Second,
		MaxDeliveryAttempts: 5,
	}
}

// annotate is a reconciler that makes no GitHub request and reports n annotations.
func annotate(n int) worker.Reconciler[report] {
	return func(context.Context, *events.Request, *github.Client) (*worker.Result[report], error) {
		return &worker.Result[report]{Conclusion: "success", Title: fmt.Sprintf("%d annotations", n), Details: report{N: n}}, nil
	}
}

// readFiles is a reconciler that reads the PR's files (one GET), as the diff hygiene
// reconciler does, and reports no annotation.
func readFiles(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[report], error) {
	files, _, err := gh.PullRequests.ListFiles(ctx, req.Resource.Owner, req.Resource.Repo, req.Resource.Number, &github.ListOptions{PerPage: 100})
	if err != nil {
		return nil, err
	}
	return &worker.Result[report]{Conclusion: "success", Title: fmt.Sprintf("%d files", len(files)), Details: report{Note: "read files"}}, nil
}

// addPR adds PR n of owner/repo at head sha with one small file.
func (e *env) addPR(o, r string, n int, head string) {
	e.gh.AddPullRequest(o, r, githubtest.PullRequest{Number: n, HeadSHA: head,
		Files: []githubtest.File{{Filename: "README.md", Patch: "@@ -0,0 +1 @@\n+hello"}}})
}

// request is a reconcile request message for PR n of owner/repo at head.
func request(id string, o, r string, n int, head string, installation int64, rerun bool) *events.Message {
	data, _ := json.Marshal(map[string]any{"owner": o, "repo": r, "url": prURL(o, r, n), "sha": head,
		"installationId": installation, "rerun": rerun})
	return &events.Message{ID: id, Data: data, Attributes: map[string]string{}}
}

// ours are the check runs of our identity and App on sha.
func (e *env) ours(o, r, head string) []githubtest.CheckRun {
	var rs []githubtest.CheckRun
	for _, c := range e.gh.CheckRuns(o, r, head) {
		if c.Name == identity && c.AppID == e.gh.App().ID {
			rs = append(rs, c)
		}
	}
	return rs
}

// cost is what the fake logged since the last reset.
type cost struct {
	requests, ratelimit, etagHits, tokens int
}

func (e *env) cost() cost {
	var c cost
	for _, r := range e.gh.Requests() {
		c.requests++
		if r.ETagHit {
			c.etagHits++
		}
		if r.Route == string(githubtest.RouteCreateInstallationToken) || r.Route == string(githubtest.RouteGetRepoInstallation) {
			c.tokens++
		}
	}
	c.ratelimit = e.gh.RateLimitUsed()
	return c
}

// outcomes counts the worker's outcomes, per outcome and per message id.
type outcomes struct {
	mu    sync.Mutex
	by    map[worker.Outcome]int
	acked map[string]bool
	errs  []string
}

func newOutcomes() *outcomes {
	return &outcomes{by: map[worker.Outcome]int{}, acked: map[string]bool{}}
}

func (c *outcomes) record(m *events.Message, o worker.Outcome, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.by[o]++
	if o.Ack() {
		c.acked[m.ID] = true
	}
	if err != nil && len(c.errs) < 20 {
		c.errs = append(c.errs, fmt.Sprintf("%s: %s: %v", m.ID, o, err))
	}
}

// addPRIn adds PR n of o/repo at head.
func (e *env) addPRIn(o string, n int, head string) { e.addPR(o, repo, n, head) }

// oursIn are the check runs of ours on sha in o/repo.
func (e *env) oursIn(o, head string) []githubtest.CheckRun { return e.ours(o, repo, head) }
