package config

import (
	"log/slog"
	"time"

	"github.com/prreconciler/prreconciler/cloudlog"
)

// The accessors below hand out the validated configuration as the types its users take, with
// the meaning of zero applied once here. On a Worker that Validate refused they return the
// defaults.

// Level is LOG_LEVEL.
func (c *Worker) Level() slog.Level {
	l, _ := ParseLogLevel(c.LogLevel)
	return l
}

// Destination is LOG_DESTINATION.
func (c *Worker) Destination() cloudlog.Destination {
	d, _ := cloudlog.ParseDestination(c.LogDestination)
	return d
}

// Format is LOG_FORMAT.
func (c *Worker) Format() cloudlog.Format {
	f, _ := cloudlog.ParseFormat(c.LogFormat)
	return f
}

// GitHubBudgetReserve is GITHUB_BUDGET_RESERVE as githubapp.Options.BudgetReserve takes it.
// A reserve of 0 is returned as a negative value, which means none there.
func (c *Worker) GitHubBudgetReserve() int { return noneAsNegative(c.BudgetReserve) }

// GitHubResetJitter is GITHUB_RESET_JITTER as githubapp.Options.ResetJitter takes it. A
// jitter of 0 is returned as a negative value, which means none there.
func (c *Worker) GitHubResetJitter() time.Duration { return noneAsNegative(c.ResetJitter) }

// WorkerInProgressAfter is IN_PROGRESS_AFTER as worker.Worker.InProgressAfter takes it. A
// value of 0 is returned as a negative value, which means in_progress before every reconcile
// there.
func (c *Worker) WorkerInProgressAfter() time.Duration { return noneAsNegative(c.InProgressAfter) }

func noneAsNegative[N int | time.Duration](v N) N {
	if v == 0 {
		return -1
	}
	return v
}
