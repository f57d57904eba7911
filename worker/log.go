package worker

import (
	"context"
	"log/slog"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/config"
)

// Fields of the outcome records, which the worker writes once per request and once per
// message that asks for none (invalid or ignored). Log-based metrics, which terraform/
// defines from these names, and log queries read them. They are jsonPayload fields. The
// outcome, pull request, SHA and delivery are labels instead (statusmanager's LogLabel
// constants). Only these records carry LogFieldStage, so "jsonPayload.stage:*" selects each
// outcome once.
const (
	// LogFieldStage is the stage that wrote the record: StageIntake or StageReconcile.
	LogFieldStage = "stage"
	// LogFieldDuration is the seconds the request took, as a number, waits for GitHub
	// included.
	LogFieldDuration = "duration_seconds"
	// LogFieldGitHubRequests is the requests the reconcile sent to GitHub, retries included.
	LogFieldGitHubRequests = "github_requests"
	// LogFieldGitHubPoints is the rate-limit points those requests cost (see githubapp.Usage).
	LogFieldGitHubPoints = "github_points"
	// LogFieldGitHubRemaining is the points the installation had left after the last answer
	// that told. It is absent when none did.
	LogFieldGitHubRemaining = "github_remaining"
	// LogFieldInstallationID is the GitHub App installation the budget belongs to. It is
	// absent when unknown.
	LogFieldInstallationID = "installation_id"
)

// Values of LogFieldStage.
const (
	// StageIntake is the intake stage (Intake), which publishes to the reconcile topic.
	StageIntake = "intake"
	// StageReconcile is the reconcile stage (Worker.Handle).
	StageReconcile = "reconcile"
)

// label is a Cloud Logging label of a record about a message (names from statusmanager).
func label(key, value string) slog.Attr { return cloudlog.Label(key, value) }

// newLogging returns the process's logging for cfg (LOG_DESTINATION, LOG_FORMAT, LOG_LEVEL,
// the project) in env, looking for the platform in cloud. It writes lines on stdout, or
// entries through the Cloud Logging API. Off Cloud Run, the API's generic_task resource
// names the identity as its job.
func newLogging(ctx context.Context, cfg *config.Worker, env Env, cloud cloudlog.Env) (*cloudlog.Logging, error) {
	return cloudlog.New(ctx, cloudlog.Options{
		Destination:   cfg.Destination(),
		Format:        cfg.Format(),
		Project:       cfg.Project,
		Stdout:        env.stdout(),
		Handler:       &slog.HandlerOptions{Level: cfg.Level()},
		Env:           cloud,
		Job:           cfg.Identity,
		ClientOptions: env.LoggingOptions,
	})
}

// closeLogging flushes the API's entries at shutdown, within cloudlog.DefaultFlushTimeout
// after the in-flight work's grace. Close reports on stdout the entries it could not write.
func closeLogging(logs *cloudlog.Logging) {
	ctx, cancel := context.WithTimeout(context.Background(), cloudlog.DefaultFlushTimeout)
	defer cancel()
	_ = logs.Close(ctx) // its drops are already reported; nothing more to do on the way out
}

// newProcess returns a Process of cfg with its logging, set up from logCfg, and the cloud Env
// the logging looked at.
func newProcess[T any](ctx context.Context, cfg, logCfg *config.Worker, env Env) (*Process[T], cloudlog.Env, error) {
	cloud := env.cloud()
	logs, err := newLogging(ctx, logCfg, env, cloud)
	if err != nil {
		return nil, cloud, err
	}
	return &Process[T]{Config: cfg, Logger: slog.New(logs.Handler()), Logging: logs}, cloud, nil
}
