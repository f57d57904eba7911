package worker

import (
	"log/slog"

	"github.com/prreconciler/prreconciler/cloudlog"
)

// Fields of the records the worker writes once per request (its outcome) and once per
// message that asks for none (invalid or ignored), for log-based metrics (terraform/ defines
// them from these names) and log queries. They are jsonPayload fields; the outcome, pull
// request, SHA and delivery are labels (statusmanager's LogLabel constants). Only these
// records carry LogFieldStage, so "jsonPayload.stage:*" selects each outcome once.
const (
	// LogFieldStage is the stage that wrote the record: StageIntake or StageReconcile.
	LogFieldStage = "stage"
	// LogFieldDuration is the seconds the request took, waits for GitHub included (a number).
	LogFieldDuration = "duration_seconds"
	// LogFieldGitHubRequests is the requests the reconcile sent to GitHub, retries included.
	LogFieldGitHubRequests = "github_requests"
	// LogFieldGitHubPoints is the rate-limit points those requests cost (see githubapp.Usage).
	LogFieldGitHubPoints = "github_points"
	// LogFieldGitHubRemaining is the points the installation had left after the last answer
	// that told; absent when none did.
	LogFieldGitHubRemaining = "github_remaining"
	// LogFieldInstallationID is the GitHub App installation the budget belongs to; absent
	// when unknown.
	LogFieldInstallationID = "installation_id"
)

// Values of LogFieldStage.
const (
	// StageIntake is the intake stage (Intake): decode, publish to the reconcile topic.
	StageIntake = "intake"
	// StageReconcile is the reconcile stage (Worker.Handle).
	StageReconcile = "reconcile"
)

// label is a Cloud Logging label of a record about a message (names from statusmanager).
func label(key, value string) slog.Attr { return cloudlog.Label(key, value) }
