package statusmanager_test

import (
	"context"
	"fmt"
	"log"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/statusmanager"
)

// MyDetails is a reconciler's own status; its Markdown is what people see on the check run.
type MyDetails struct {
	FilesProcessed int      `json:"filesProcessed"`
	Errors         []string `json:"errors,omitempty"`
}

func (d MyDetails) Markdown() string {
	return fmt.Sprintf("Processed %d files", d.FilesProcessed)
}

// The seed's usage: a manager per reconciler identity, a session per PR and SHA, read the
// observed state, write in_progress, then completed.
func Example() {
	ctx := context.Background()
	gh := githubtest.NewServer() // GitHub, in-process, for the example
	defer gh.Close()
	gh.AddRepo("octo-org", "hello-world")

	sm, err := statusmanager.NewStatusManager[MyDetails](ctx, "my-reconciler", statusmanager.WithAppID(gh.App().ID))
	if err != nil {
		log.Fatal(err)
	}
	pr, err := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	if err != nil {
		log.Fatal(err)
	}
	sha := "6dcb09b5b57875f334f61aebed695e2e4193db5e"

	session := sm.NewSession(gh.Client(), pr, sha)
	status, err := session.ObservedState(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if status != nil && status.Status == "completed" && status.ObservedGeneration == sha {
		fmt.Println("already reconciled")
		return
	}
	if err := session.SetActualState(ctx, "Processing", &statusmanager.Status[MyDetails]{Status: "in_progress"}); err != nil {
		log.Fatal(err)
	}
	// ... perform reconciliation ...
	if err := session.SetActualState(ctx, "Complete", &statusmanager.Status[MyDetails]{
		Status: "completed", Conclusion: "success", Details: MyDetails{FilesProcessed: 3},
	}); err != nil {
		log.Fatal(err)
	}

	// The next delivery for the same SHA reads it back.
	again, err := sm.NewSession(gh.Client(), pr, sha).ObservedState(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.Status, again.Conclusion, again.ObservedGeneration == sha, again.Details.FilesProcessed)
	// Output: completed success true 3
}

// ObservedStateAtSHA reads history without a session; a read-only manager cannot write.
func ExampleStatusManager_ObservedStateAtSHA() {
	ctx := context.Background()
	gh := githubtest.NewServer()
	defer gh.Close()
	gh.AddRepo("octo-org", "hello-world")
	pr, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")

	writer, _ := statusmanager.NewStatusManager[MyDetails](ctx, "my-reconciler", statusmanager.WithAppID(gh.App().ID))
	for i, sha := range []string{"1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"} {
		_ = writer.NewSession(gh.Client(), pr, sha).SetActualState(ctx, "Done",
			&statusmanager.Status[MyDetails]{Status: "completed", Conclusion: "success", Details: MyDetails{FilesProcessed: i + 1}})
	}

	reader, _ := statusmanager.NewStatusManager[MyDetails](ctx, "my-reconciler", statusmanager.WithAppID(gh.App().ID), statusmanager.ReadOnly())
	for _, sha := range []string{"1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222", "3333333333333333333333333333333333333333"} {
		st, err := reader.ObservedStateAtSHA(ctx, gh.Client(), pr, sha)
		if err != nil {
			log.Fatal(err)
		}
		if st == nil {
			fmt.Printf("%.7s: not reconciled\n", sha)
			continue
		}
		fmt.Printf("%.7s: %s, %d files\n", sha, st.Conclusion, st.Details.FilesProcessed)
	}
	// Output:
	// 1111111: success, 1 files
	// 2222222: success, 2 files
	// 3333333: not reconciled
}

// DecodeSummary tells callers why a summary carries no usable status.
func ExampleDecodeSummary() {
	summary := "Report\n\n<!--lint-status-->\n<!--\n{\"observedGeneration\":\"abc\",\"status\":\"completed\",\"conclusion\":\"success\",\"details\":{}}\n-->\n<!--/lint-status-->"
	st, err := statusmanager.DecodeSummary[struct{}]("lint", summary)
	fmt.Println(st.Status, st.Conclusion, err)
	_, err = statusmanager.DecodeSummary[struct{}]("lint", "no marker here")
	fmt.Println(err)
	// Output:
	// completed success <nil>
	// statusmanager: no status marker
}

// DetailsURL links a check run to the worker's logs of that PR and SHA.
func ExampleDetailsURL() {
	pr, _ := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	fmt.Println(statusmanager.LogQuery("worker", pr, "6dcb09b5b57875f334f61aebed695e2e4193db5e"))
	// Output:
	// resource.type="cloud_run_revision"
	// resource.labels.service_name="worker"
	// labels.pr_url="https://github.com/octo-org/hello-world/pull/7"
	// labels.sha="6dcb09b5b57875f334f61aebed695e2e4193db5e"
}
