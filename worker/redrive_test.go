package worker_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
	"github.com/prreconciler/prreconciler/redrive"
	"github.com/prreconciler/prreconciler/worker"
)

// TestRedriveCommand: every reconciler binary has `redrive`; its dry run lists a dead-lettered
// reconcile request with its source, topic and ordering key, and leaves it there.
func TestRedriveCommand(t *testing.T) {
	ctx := context.Background()
	emu := pubsubemu.Shared(t)
	project := emu.Project("redrive-cmd")
	ps, err := emu.Client(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	topic, err := pubsubemu.CreateTopic(ctx, ps, "reconcile")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pubsubemu.CreateSubscription(ctx, ps, pubsubemu.SubscriptionConfig{ID: "reconcile", Topic: topic}); err != nil {
		t.Fatal(err)
	}
	dlqTopic, _, err := pubsubemu.DeadLetter(ctx, ps, "dead-letter")
	if err != nil {
		t.Fatal(err)
	}
	// As Pub/Sub dead-letters it: the data and the source attributes.
	if _, err := pubsubemu.Publish(ctx, ps, dlqTopic, request("1", 7, sha1, false).Data, map[string]string{
		redrive.AttrSourceSubscription: "reconcile", redrive.AttrSourceSubscriptionProject: project, redrive.AttrSourceDeliveryCount: "15",
	}); err != nil {
		t.Fatal(err)
	}

	gh := githubtest.NewTestServer(t)
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{"dry run", []string{"redrive", "-dry-run", "-limit", "1", "-idle", "30s", "dead-letter"}, "would redrive message", ""},
		{"no subscription", []string{"redrive", "-dry-run"}, "", "one dead-letter subscription is needed"},
		{"bad flag", []string{"redrive", "-now", "dead-letter"}, "", "flag provided but not defined: -now"},
		{"bad name", []string{"redrive", "topics/x"}, "", "neither a short name nor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := appEnv(gh, map[string]string{"GOOGLE_CLOUD_PROJECT": project}, tt.args...)
			var out bytes.Buffer
			env.Stdout = &out
			env.PubSubOptions = emu.ClientOptions()
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			err := worker.Run(ctx, worker.App[notes]{Reconcile: succeed}, env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Run = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{tt.want, "(projects/" + project + "/subscriptions/reconcile, 15 deliveries)",
				"→ " + topic, "key octo-org/hello-world@" + sha1, "1 messages seen: 1 would be redriven"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}
