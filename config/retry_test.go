package config_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
)

func TestRetryWindow(t *testing.T) {
	tests := []struct {
		min, max time.Duration
		attempts int
		want     time.Duration
	}{
		{10 * time.Second, 600 * time.Second, 1, 0},
		{10 * time.Second, 600 * time.Second, 2, 10 * time.Second},
		{10 * time.Second, 600 * time.Second, 10, 2430 * time.Second},
		{10 * time.Second, 600 * time.Second, 15, 5430 * time.Second},
		{60 * time.Second, 600 * time.Second, 8, (60 + 120 + 240 + 480 + 600 + 600 + 600) * time.Second},
		{0, 0, 100, 0},
		{600 * time.Second, 600 * time.Second, 100, 99 * 600 * time.Second},
	}
	for _, tt := range tests {
		if got := config.RetryWindow(tt.min, tt.max, tt.attempts); got != tt.want {
			t.Errorf("RetryWindow(%s, %s, %d) = %s, want %s", tt.min, tt.max, tt.attempts, got, tt.want)
		}
	}
}

func TestRetryWindowCheck(t *testing.T) {
	base := map[string]string{"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY_FILE": "/k", "IDENTITY": "x"}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults span 90 minutes", nil, ""},
		{"10 attempts span 40 minutes", map[string]string{"MAX_DELIVERY_ATTEMPTS": "10"}, "MAX_DELIVERY_ATTEMPTS: 10 attempts with backoff 10s to 10m0s span 40m30s"},
		{"check off", map[string]string{"MAX_DELIVERY_ATTEMPTS": "5", "MIN_RETRY_WINDOW": "0"}, ""},
		{"longer backoff", map[string]string{"MAX_DELIVERY_ATTEMPTS": "8", "RETRY_MINIMUM_BACKOFF": "600s"}, ""},
		{"backoff over Pub/Sub's limit", map[string]string{"RETRY_MAXIMUM_BACKOFF": "700s"}, "RETRY_MAXIMUM_BACKOFF: 11m40s must be between"},
		{"backoffs reversed", map[string]string{"RETRY_MINIMUM_BACKOFF": "60s", "RETRY_MAXIMUM_BACKOFF": "30s"}, "is below RETRY_MINIMUM_BACKOFF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := config.Load(context.Background(), envconfig.MapLookuper(env))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
