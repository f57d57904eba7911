package cloudlog_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/cloudlog/cloudlogtest"
)

func Example() {
	fixed := time.Date(2026, 11, 23, 23, 19, 17, 631554582, time.UTC)
	h := cloudlog.NewHandler(os.Stdout, &slog.HandlerOptions{
		// A fixed time for the example; production code leaves ReplaceAttr nil.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				a.Value = slog.TimeValue(fixed)
			}
			return a
		},
	})
	log := slog.New(h).With(
		cloudlog.Label("pr_url", "https://github.com/octo-org/hello-world/pull/7"),
		cloudlog.Label("sha", "6dcb09b5b57875f334f61aebed695e2e4193db5e"),
	)
	log.WithGroup("github").Warn("check run update failed", "attempt", 3, cloudlog.Label("outcome", "retry"))
	// Output:
	// {"time":"2026-11-23T23:19:17.631554582Z","severity":"WARNING","message":"check run update failed","logging.googleapis.com/labels":{"pr_url":"https://github.com/octo-org/hello-world/pull/7","sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e","outcome":"retry"},"github":{"attempt":3}}
}

func ExampleProject() {
	project := cloudlog.Project(context.Background(), func(k string) string {
		return map[string]string{"GOOGLE_CLOUD_PROJECT": "my-project", "K_SERVICE": "prreconciler"}[k]
	})
	slog.New(cloudlog.NewHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(g []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(g) == 0 {
			return slog.Attr{}
		}
		return a
	}})).Info("starting", "project", project, cloudlog.Label("service", cloudlog.Service(func(k string) string {
		return map[string]string{"K_SERVICE": "prreconciler"}[k]
	})))
	// Output:
	// {"severity":"INFO","message":"starting","logging.googleapis.com/labels":{"service":"prreconciler"},"project":"my-project"}
}

// Auto picks stdout on Cloud Run, and the Cloud Logging API off Google Cloud when credentials
// are found; the environment is injected.
func ExampleChoose() {
	env := func(vars map[string]string) cloudlog.Env {
		return cloudlog.Env{
			Getenv: func(k string) string { return vars[k] },
			Credentials: func(context.Context) (cloudlog.Credentials, error) {
				return cloudlog.Credentials{Source: "GOOGLE_APPLICATION_CREDENTIALS (sa.json)", Project: "my-project"}, nil
			},
		}
	}
	for _, vars := range []map[string]string{{"K_SERVICE": "prreconciler"}, {}} {
		c, err := cloudlog.Choose(context.Background(), cloudlog.Auto, "", env(vars))
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %q: %s\n", c.Destination, c.Project, c.Reason)
	}
	// Output:
	// stdout "": on Cloud Run (K_SERVICE), which ingests stdout
	// api "my-project": not on Cloud Run or GKE; credentials from GOOGLE_APPLICATION_CREDENTIALS (sa.json)
}

// Records written through the Cloud Logging API (here the in-process fake) become entries with
// the same severity and labels as the stdout JSON lines, on a generic_task resource.
func ExampleNew() {
	fake := cloudlogtest.NewServer()
	defer fake.Close()
	ctx := context.Background()
	logs, err := cloudlog.New(ctx, cloudlog.Options{
		Destination: cloudlog.API, Project: "my-project", Stdout: os.Stdout,
		Env:           cloudlog.Env{Getenv: func(string) string { return "" }},
		Job:           "diff-hygiene",
		TaskID:        "vm-1",
		ClientOptions: fake.ClientOptions(),
	})
	if err != nil {
		panic(err)
	}
	slog.New(logs.Handler()).Warn("check run update failed", "attempt", 3,
		cloudlog.Label("sha", "6dcb09b5b57875f334f61aebed695e2e4193db5e"))
	if err := logs.Close(ctx); err != nil { // flushes
		panic(err)
	}
	for _, e := range fake.Entries()[1:] { // the first says where logs go
		fmt.Println(e.GetLogName(), e.GetResource().GetType(), e.GetResource().GetLabels()["job"], e.GetSeverity())
		fmt.Println(e.GetLabels(), e.GetJsonPayload().AsMap())
	}
	// Output:
	// projects/my-project/logs/prreconciler generic_task diff-hygiene WARNING
	// map[sha:6dcb09b5b57875f334f61aebed695e2e4193db5e] map[attempt:3 message:check run update failed]
}

func ExampleParseDestination() {
	for _, s := range []string{"", "API", "file"} {
		d, err := cloudlog.ParseDestination(s)
		fmt.Printf("%q %v\n", d, err)
	}
	// Output:
	// "auto" <nil>
	// "api" <nil>
	// "" cloudlog: log destination "file" is not auto, stdout or api
}

// Text lines are for people at a terminal (LOG_FORMAT=text): the labels come first after the
// message, without the groups of the record.
func ExampleNewTextHandler() {
	// Without the time, for an output that does not change.
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}
	log := slog.New(cloudlog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	log.With(cloudlog.Label("pr_url", "https://github.com/octo-org/hello-world/pull/7")).WithGroup("github").
		Warn("check run update failed", "attempt", 3, cloudlog.Label("outcome", "retry"))
	// Output:
	// level=WARN msg="check run update failed" pr_url=https://github.com/octo-org/hello-world/pull/7 outcome=retry github.attempt=3
}

func ExampleParseFormat() {
	for _, s := range []string{"", "Text", "xml"} {
		f, err := cloudlog.ParseFormat(s)
		fmt.Printf("%q %v\n", f, err)
	}
	// Output:
	// "" <nil>
	// "text" <nil>
	// "" "xml" is not json or text
}
