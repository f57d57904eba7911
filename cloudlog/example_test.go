package cloudlog_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/prreconciler/prreconciler/cloudlog"
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
