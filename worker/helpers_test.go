package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/logbuf"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

const (
	owner    = "octo-org"
	repo     = "hello-world"
	identity = "test-reconciler"
	sha1     = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	sha2     = "1111111111111111111111111111111111111111"
	sha3     = "2222222222222222222222222222222222222222"
	sha4     = "3333333333333333333333333333333333333333"
	details  = "https://example.com/logs"
)

func prURL(n int) string { return fmt.Sprintf("https://github.com/%s/%s/pull/%d", owner, repo, n) }

// notes are the details of the test reconciler: a Markdown summary and annotations.
type notes struct {
	Files   int      `json:"files"`
	Message string   `json:"message,omitempty"`
	Lines   []string `json:"lines,omitempty"`
}

func (n notes) Markdown() string { return fmt.Sprintf("Looked at %d files. %s", n.Files, n.Message) }

func (n notes) Annotations() []*github.CheckRunAnnotation {
	var anns []*github.CheckRunAnnotation
	for i, l := range n.Lines {
		anns = append(anns, &github.CheckRunAnnotation{
			Path: github.String("README.md"), StartLine: github.Int(i + 1), EndLine: github.Int(i + 1),
			AnnotationLevel: github.String("warning"), Message: github.String(l),
		})
	}
	return anns
}

// fakeClients hands out the fake's client for every installation.
type fakeClients struct{ s *githubtest.Server }

func (f fakeClients) Client(context.Context, string, string, int64) (*github.Client, error) {
	return f.s.Client(), nil
}

// env is a GitHub fake with one PR, a status manager and a worker around a reconciler.
type env struct {
	t   *testing.T
	gh  *githubtest.Server
	w   *worker.Worker[notes]
	log *logbuf.Buffer
}

func newEnv(t *testing.T, rec worker.Reconciler[notes]) *env {
	t.Helper()
	gh := githubtest.NewTestServer(t)
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: sha1,
		Files: []githubtest.File{{Filename: "README.md", Patch: "@@ -0,0 +1 @@\n+hello"}}})
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 8, HeadSHA: sha1})
	sm, err := statusmanager.NewStatusManager[notes](context.Background(), identity,
		statusmanager.WithAppID(gh.App().ID), statusmanager.WithDetailsURL(details))
	if err != nil {
		t.Fatal(err)
	}
	buf := &logbuf.Buffer{}
	w := &worker.Worker[notes]{
		Manager:             sm,
		Clients:             fakeClients{gh},
		Reconcile:           rec,
		Logger:              slog.New(cloudlog.NewHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Timeout:             10 * time.Second,
		MaxDeliveryAttempts: 5,
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", buf.String())
		}
	})
	return &env{t: t, gh: gh, w: w, log: buf}
}

// runs are the check runs of the test identity on sha.
func (e *env) runs(sha string) []githubtest.CheckRun {
	var rs []githubtest.CheckRun
	for _, r := range e.gh.CheckRuns(owner, repo, sha) {
		if r.Name == identity {
			rs = append(rs, r)
		}
	}
	return rs
}

// request is a reconcile request message.
func request(id string, pr int, sha string, rerun bool) *events.Message {
	data, _ := json.Marshal(map[string]any{"owner": owner, "repo": repo, "url": prURL(pr), "sha": sha, "rerun": rerun})
	return &events.Message{ID: id, Data: data, Attributes: map[string]string{}}
}

// checkSuite is a relay CloudEvent of a check suite (re)requested for PRs 7 and 8.
func checkSuite(id, action string, sha string) *events.Message {
	body := map[string]any{
		"action": action,
		"check_suite": map[string]any{"head_sha": sha, "app": map[string]any{"id": 1},
			"pull_requests": []any{map[string]any{"number": 7}, map[string]any{"number": 8}}},
		"repository":   map[string]any{"name": repo, "full_name": owner + "/" + repo, "owner": map[string]any{"login": owner}, "html_url": "https://github.com/" + owner + "/" + repo},
		"installation": map[string]any{"id": 1},
	}
	data, _ := json.Marshal(map[string]any{"when": "2026-01-01T00:00:00Z", "headers": map[string]any{"event": "check_suite", "delivery_id": "gh-" + id}, "body": body})
	return &events.Message{ID: id, Data: data, Attributes: map[string]string{
		"ce-id": "gh-" + id, "ce-type": events.DefaultTypePrefix + ".check_suite", "ce-subject": owner + "/" + repo, "ce-action": action}}
}

// counter is a reconciler that counts its calls and returns what fn says.
type counter struct {
	mu    sync.Mutex
	calls int
	fn    func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error)
}

func (c *counter) reconcile(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	if c.fn == nil {
		return succeed(ctx, req, gh)
	}
	return c.fn(ctx, req, gh)
}

func (c *counter) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// succeed reads the PR's files through GitHub and reports one annotation per file.
func succeed(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
	files, _, err := gh.PullRequests.ListFiles(ctx, req.Resource.Owner, req.Resource.Repo, req.Resource.Number, nil)
	if err != nil {
		return nil, err
	}
	n := notes{Files: len(files)}
	for _, f := range files {
		n.Lines = append(n.Lines, "looked at "+f.GetFilename())
	}
	return &worker.Result[notes]{Conclusion: "success", Title: fmt.Sprintf("%d files", len(files)), Details: n}, nil
}

func contains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("%s = %q, want it to contain %q", what, got, want)
	}
}
