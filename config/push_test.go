package config_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
)

// Push token checks fail closed: an audience alone would accept a token of any Google identity.
func TestPushAuthentication(t *testing.T) {
	base := map[string]string{
		"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY_FILE": "/k.pem", "IDENTITY": "x",
	}
	for _, tc := range []struct {
		name     string
		audience string
		accounts string
		want     []string // "" ones: accepted, with these accounts
		errs     []string
	}{
		{name: "neither"},
		{name: "both", audience: "https://w.example.com", accounts: "push@p.iam.gserviceaccount.com", want: []string{"push@p.iam.gserviceaccount.com"}},
		{name: "a rotation", audience: "https://w.example.com", accounts: " old@p.iam.gserviceaccount.com, new@p.iam.gserviceaccount.com ,",
			want: []string{"old@p.iam.gserviceaccount.com", "new@p.iam.gserviceaccount.com"}},
		{name: "the audience alone", audience: "https://w.example.com", errs: []string{"PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT"}},
		{name: "the accounts alone", accounts: "push@p.iam.gserviceaccount.com", errs: []string{"PUSH_SERVICE_ACCOUNT: needs PUSH_AUDIENCE"}},
		{name: "not an email", audience: "https://w.example.com", accounts: "push", errs: []string{`PUSH_SERVICE_ACCOUNT: "push" is not`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"PUSH_AUDIENCE": tc.audience, "PUSH_SERVICE_ACCOUNT": tc.accounts}
			for k, v := range base {
				env[k] = v
			}
			cfg, err := config.Load(context.Background(), envconfig.MapLookuper(env))
			if len(tc.errs) > 0 {
				if err == nil {
					t.Fatal("loaded, want an error")
				}
				for _, w := range tc.errs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.PushServiceAccounts(), ","); got != strings.Join(tc.want, ",") {
				t.Errorf("PushServiceAccounts = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIngressMode(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // each error names these; none when empty
	}{
		{"ingress without the App", map[string]string{"MODE": "ingress", "WEBHOOK_SECRET": "s3cret-value", "RELAY_TOPIC": "projects/p/topics/github"}, nil},
		{"ingress with a short topic and a project", map[string]string{"MODE": "ingress", "WEBHOOK_SECRET": "s", "RELAY_TOPIC": "github", "GOOGLE_CLOUD_PROJECT": "p"}, nil},
		{"ingress missing everything", map[string]string{"MODE": "ingress"}, []string{"WEBHOOK_SECRET", "RELAY_TOPIC"}},
		{"ingress, short topic without a project", map[string]string{"MODE": "ingress", "WEBHOOK_SECRET": "s3cret-value", "RELAY_TOPIC": "github"}, []string{"RELAY_TOPIC", "GOOGLE_CLOUD_PROJECT"}},
		{"ingress, publish timeout at GitHub's", map[string]string{"MODE": "ingress", "WEBHOOK_SECRET": "s", "RELAY_TOPIC": "projects/p/topics/t", "WEBHOOK_PUBLISH_TIMEOUT": "10s"}, []string{"WEBHOOK_PUBLISH_TIMEOUT"}},
		{"ingress, publish timeout 0", map[string]string{"MODE": "ingress", "WEBHOOK_SECRET": "s", "RELAY_TOPIC": "projects/p/topics/t", "WEBHOOK_PUBLISH_TIMEOUT": "0s"}, []string{"WEBHOOK_PUBLISH_TIMEOUT"}},
		{"ingress never pulls", map[string]string{"MODE": "ingress", "WEBHOOK_SECRET": "s", "RELAY_TOPIC": "projects/p/topics/t", "PUBSUB_SUBSCRIPTION": "projects/p/subscriptions/s"}, []string{"PUBSUB_SUBSCRIPTION"}},
		{"unknown mode", map[string]string{"MODE": "relay", "GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY_FILE": "/k.pem", "IDENTITY": "x"}, []string{"MODE"}},
		{"worker mode still needs the App", map[string]string{"MODE": "worker", "WEBHOOK_SECRET": "s"}, []string{"GITHUB_APP_ID", "IDENTITY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(context.Background(), envconfig.MapLookuper(tt.env))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
			if v := tt.env["WEBHOOK_SECRET"]; len(v) > 3 && strings.Contains(err.Error(), v) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
}
