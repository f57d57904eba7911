package config_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
)

// TestLogFormat: Validate accepts what cloudlog.ParseFormat accepts, empty included (the
// terminal decides), and refuses the rest by the variable's name.
func TestLogFormat(t *testing.T) {
	tests := []struct {
		value   string
		wantErr string
	}{
		{"", ""},
		{"json", ""},
		{" Text ", ""},
		{"xml", `LOG_FORMAT: "xml" is not json or text`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			_, err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{
				"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY_FILE": "/k", "IDENTITY": "x", "LOG_FORMAT": tt.value,
			}))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
