package worker_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/worker"
)

// Help, version and every built-in command's -h need no configuration at all.
func TestRunWithoutConfiguration(t *testing.T) {
	app := worker.App[notes]{Reconcile: succeed, Variables: []config.Variable{{Name: "OWN_LIMIT", Default: "3", Description: "a limit of its own"}}}
	tests := []struct {
		args  []string
		want  []string
		usage bool // a *UsageError
	}{
		{[]string{"-h"}, []string{"usage: BINARY", "redeliver", "redrive", "GITHUB_APP_ID", "(required)", "ACK_DEADLINE", "10m", "OWN_LIMIT", "a limit of its own"}, false},
		{[]string{"--help"}, []string{"usage: BINARY"}, false},
		{[]string{"help"}, []string{"Environment"}, false},
		{[]string{"version"}, []string{"(commit "}, false},
		{[]string{"-version"}, []string{", built "}, false},
		{[]string{"redrive", "-h"}, []string{"usage: BINARY redrive"}, false},
		{[]string{"redeliver", "-h"}, []string{"usage: BINARY redeliver", "-since"}, false},
		{[]string{"redeliver", "--help"}, []string{"usage: BINARY redeliver"}, false},
		{[]string{"-x"}, nil, true},
		{[]string{"redeliver", "-since"}, nil, true},
		{[]string{"redeliver", "-since", "100h"}, nil, true},
		{[]string{"redrive", "-now", "dlq"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := worker.Run(context.Background(), app, worker.Env{Args: tt.args, Lookuper: envconfig.MapLookuper(nil), Stdout: &out})
			var usage *worker.UsageError
			if tt.usage {
				if !errors.As(err, &usage) || !strings.Contains(err.Error(), "usage: BINARY") {
					t.Fatalf("Run = %v, want a *UsageError with the usage", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// redrive needs no App key nor IDENTITY, and redeliver nothing but the App: what each lacks
// is named, and nothing else.
func TestSubcommandsNeedOnlyTheirConfiguration(t *testing.T) {
	err := worker.Run(context.Background(), worker.App[notes]{Reconcile: succeed},
		worker.Env{Args: []string{"redrive", "-dry-run", "dlq"}, Lookuper: envconfig.MapLookuper(nil)})
	if err == nil || !strings.Contains(err.Error(), "GOOGLE_CLOUD_PROJECT") || strings.Contains(err.Error(), "GITHUB_APP") || strings.Contains(err.Error(), "IDENTITY") {
		t.Errorf("redrive without configuration: %v, want only the project named", err)
	}
	err = worker.Run(context.Background(), worker.App[notes]{Reconcile: succeed},
		worker.Env{Args: []string{"redeliver", "-dry-run"}, Lookuper: envconfig.MapLookuper(nil)})
	if err == nil || !strings.Contains(err.Error(), "GITHUB_APP_ID") || !strings.Contains(err.Error(), "GITHUB_APP_PRIVATE_KEY") || strings.Contains(err.Error(), "IDENTITY") {
		t.Errorf("redeliver without configuration: %v, want only the App named", err)
	}
}

// `redeliver` with only the App's variables redelivers the failed delivery, once.
func TestRedeliverCommand(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	gh.AddHookDelivery(gh.App(), githubtest.HookDelivery{GUID: "g-ok", StatusCode: 200, Event: "pull_request", Action: "opened"})
	gh.AddHookDelivery(gh.App(), githubtest.HookDelivery{GUID: "g-failed", StatusCode: 502, Event: "pull_request", Action: "synchronize"})
	env := envconfig.MapLookuper(map[string]string{
		"GITHUB_APP_ID": strconv.FormatInt(gh.App().ID, 10), "GITHUB_APP_PRIVATE_KEY": string(gh.App().PrivateKeyPEM), "GITHUB_API_URL": gh.URL() + "/",
	})
	for run, want := range []string{"1 redelivered", "0 redelivered"} {
		var out bytes.Buffer
		if err := worker.Run(context.Background(), worker.App[notes]{Reconcile: succeed}, worker.Env{Args: []string{"redeliver", "-since", "1h"}, Lookuper: env, Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("run %d: %q not in\n%s", run+1, want, out.String())
		}
	}
	ds := gh.HookDeliveries(gh.App())
	if len(ds) != 3 || ds[2].GUID != "g-failed" || !ds[2].Redelivery {
		t.Errorf("deliveries %+v, want one redelivery of g-failed", ds)
	}
}

// Start checks the App's id and key with GitHub once: a wrong one stops it, naming the
// variables and GitHub's answer.
func TestStartChecksTheApp(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	other := gh.AddApp("another-app")
	tests := []struct {
		name  string
		extra map[string]string
		want  []string
	}{
		{"wrong App id", map[string]string{"GITHUB_APP_ID": "999"}, []string{"GITHUB_APP_ID 999 or GITHUB_APP_PRIVATE_KEY", "401", "A JSON web token could not be decoded"}},
		{"wrong key", map[string]string{"GITHUB_APP_PRIVATE_KEY": string(other.PrivateKeyPEM)}, []string{"GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "401"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := worker.Start(context.Background(), worker.App[notes]{Reconcile: succeed}, appEnv(gh, tt.extra))
			if err == nil {
				p.Close()
				t.Fatal("started")
			}
			var ce *worker.AppCredentialsError
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not an *AppCredentialsError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// GitHub down: logged, and the start goes on.
	gh.SetOutage(503)
	p, err := worker.Start(context.Background(), worker.App[notes]{Reconcile: succeed}, appEnv(gh, nil))
	if err != nil {
		t.Fatalf("Start with GitHub answering 503: %v", err)
	}
	p.Close()
}
