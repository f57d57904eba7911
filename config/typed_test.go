package config_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/config"
)

// The accessors hand out what their users take, zero's meaning applied once.
func TestTypedAccessors(t *testing.T) {
	c := &config.Worker{LogLevel: "WARN", LogDestination: "api", LogFormat: "text"}
	if c.Level() != slog.LevelWarn || c.Destination() != cloudlog.API || c.Format() != cloudlog.Text {
		t.Errorf("Level, Destination, Format = %v, %v, %v", c.Level(), c.Destination(), c.Format())
	}
	for _, tc := range []struct {
		reserve, wantReserve int
		d, wantD             time.Duration
	}{
		{0, -1, 0, -1}, // the configuration's 0 is "none": githubapp's and the worker's negative
		{25, 25, 5 * time.Second, 5 * time.Second},
	} {
		c := &config.Worker{BudgetReserve: tc.reserve, ResetJitter: tc.d, InProgressAfter: tc.d}
		if got := c.GitHubBudgetReserve(); got != tc.wantReserve {
			t.Errorf("GitHubBudgetReserve(%d) = %d, want %d", tc.reserve, got, tc.wantReserve)
		}
		if got := c.GitHubResetJitter(); got != tc.wantD {
			t.Errorf("GitHubResetJitter(%s) = %s, want %s", tc.d, got, tc.wantD)
		}
		if got := c.WorkerInProgressAfter(); got != tc.wantD {
			t.Errorf("WorkerInProgressAfter(%s) = %s, want %s", tc.d, got, tc.wantD)
		}
	}
}
