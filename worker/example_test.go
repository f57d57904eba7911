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

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/statusmanager/githubtest"
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
