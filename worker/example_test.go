package worker_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/google/go-github/v60/github"
	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// Summary are the details of the example reconciler's check runs.
type Summary struct{ Files int }

// Markdown renders the check run summary.
func (s Summary) Markdown() string { return fmt.Sprintf("%d files changed", s.Files) }

// clients hands out the fake's installation client (githubapp.Factory in production).
type clients struct{ gh *githubtest.Server }

func (c clients) Client(context.Context, string, string, int64) (*github.Client, error) {
	return c.gh.Client(), nil
}

// A push endpoint backed by the GitHub fake: Pub/Sub POSTs a wrapped envelope, the worker
// writes the completed check run and answers 204, the ack.
func ExampleWorker_PushHandler() {
	ctx := context.Background()
	gh := githubtest.NewServer()
	defer gh.Close()
	gh.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7,
		HeadSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e", Files: []githubtest.File{{Filename: "main.go"}}})

	sm, err := statusmanager.NewStatusManager[Summary](ctx, "example", statusmanager.WithAppID(gh.App().ID),
		statusmanager.WithoutDetailsURL())
	if err != nil {
		panic(err)
	}
	w := &worker.Worker[Summary]{
		Manager: sm,
		Clients: clients{gh},
		Reconcile: func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[Summary], error) {
			files, _, err := gh.PullRequests.ListFiles(ctx, req.Resource.Owner, req.Resource.Repo, req.Resource.Number, nil)
			if err != nil {
				return nil, err // classified: GitHub 5xx and rate limits are retried, 4xx fail the run
			}
			return &worker.Result[Summary]{Conclusion: "success", Title: "Looks good", Details: Summary{Files: len(files)}}, nil
		},
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxDeliveryAttempts: 5,
	}
	srv := httptest.NewServer(w.PushHandler(worker.PushOptions{}))
	defer srv.Close()

	data := `{"owner":"octo-org","repo":"hello-world","url":"https://github.com/octo-org/hello-world/pull/7",` +
		`"sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e"}`
	body := `{"message":{"data":"` + base64.StdEncoding.EncodeToString([]byte(data)) + `","messageId":"1"},"subscription":"projects/p/subscriptions/s"}`
	resp, err := http.Post(srv.URL+"/", "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("push answered", resp.StatusCode)
	for _, r := range gh.CheckRuns("octo-org", "hello-world", "6dcb09b5b57875f334f61aebed695e2e4193db5e") {
		fmt.Println(r.Name, r.Status, r.Conclusion, r.Title)
	}
	// Output:
	// push answered 204
	// example completed success Looks good
}

// Start builds the process a reconciler's main runs (worker.Main) from the environment,
// here a map pointing at the GitHub fake: the same variables as in production.
func ExampleStart() {
	ctx := context.Background()
	gh := githubtest.NewServer()
	defer gh.Close()
	gh.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7,
		HeadSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e", Files: []githubtest.File{{Filename: "main.go"}}})

	env := worker.Env{Stdout: io.Discard, Lookuper: envconfig.MapLookuper(map[string]string{
		"GITHUB_APP_ID": strconv.FormatInt(gh.App().ID, 10), "GITHUB_APP_PRIVATE_KEY": string(gh.App().PrivateKeyPEM),
		"GITHUB_API_URL": gh.URL() + "/", "IDENTITY": "files", "LOG_DESTINATION": "stdout",
	})}
	p, err := worker.Start(ctx, worker.App[Summary]{Reconcile: reconcileFiles}, env)
	if err != nil {
		panic(err)
	}
	defer p.Close()
	// p.Serve(ctx) would now serve pushes on PORT; here one message is handled directly.
	o, err := p.Worker.Handle(ctx, &events.Message{ID: "1", Data: []byte(`{"owner":"octo-org","repo":"hello-world",` +
		`"url":"https://github.com/octo-org/hello-world/pull/7","sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e"}`)})
	fmt.Println(o, err)
	for _, r := range gh.CheckRuns("octo-org", "hello-world", "6dcb09b5b57875f334f61aebed695e2e4193db5e") {
		fmt.Println(r.Name, r.Status, r.Conclusion, r.Title)
	}
	// Output:
	// reconciled <nil>
	// files completed success Looks good
}
