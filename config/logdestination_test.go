package config_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
)

// TestLogDestination: Validate accepts what cloudlog.ParseDestination accepts and refuses the
// rest by the variable's name, in the words it always used.
func TestLogDestination(t *testing.T) {
	tests := []struct {
		value   string
		wantErr string
	}{
		{"auto", ""},
		{"stdout", ""},
		{"API", ""},
		{" api ", ""},
		{"file", `config: LOG_DESTINATION: "file" is not auto, stdout or api`},
		{"std out", `LOG_DESTINATION: "std out" is not auto, stdout or api`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			_, err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{
				"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY_FILE": "/k", "IDENTITY": "x", "LOG_DESTINATION": tt.value,
			}))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
	// A Worker built in code leaves it empty: auto.
	c := config.Worker{AppID: 1, PrivateKeyFile: "/k", Identity: "x", APIURL: "https://api.github.com/", Port: 8080,
		AckDeadline: config.MaxAckDeadline, ReconcileTimeout: config.MaxAckDeadline - config.FinalWritesReserve - config.DeadlineMargin,
		MaxInFlight: 1, MaxDeliveryAttempts: 15, RetryMinBackoff: 10 * time.Second, RetryMaxBackoff: config.MaxBackoff, RelayTypePrefix: "p", LogLevel: "info"}
	if err := c.Validate(); err != nil {
		t.Errorf("empty LOG_DESTINATION: %v", err)
	}
}
