package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/worker"
)

// appEnv is an Env of the fake's App, in push mode, with extra variables on top.
func appEnv(gh *githubtest.Server, extra map[string]string, args ...string) worker.Env {
	vars := map[string]string{
		"GITHUB_APP_ID": strconv.FormatInt(gh.App().ID, 10), "GITHUB_APP_PRIVATE_KEY": string(gh.App().PrivateKeyPEM),
		"GITHUB_API_URL": gh.URL() + "/", "IDENTITY": identity, "LOG_DESTINATION": "stdout",
	}
	maps.Copy(vars, extra)
	return worker.Env{Args: args, Lookuper: envconfig.MapLookuper(vars), Stdout: io.Discard}
}

// Start refuses what cannot work, with one error naming every problem, before anything runs.
func TestStartRefusesWhatCannotWork(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	newFails := func(context.Context, envconfig.Lookuper) (worker.Reconciler[notes], error) {
		return nil, errors.New("POLICY_FILE: is required")
	}
	tests := []struct {
		name  string
		app   worker.App[notes]
		extra map[string]string
		want  []string
	}{
		{"no reconciler", worker.App[notes]{}, nil, []string{"no reconciler"}},
		{"both Reconcile and New", worker.App[notes]{Reconcile: succeed, New: newFails}, nil, []string{"not both"}},
		{"the reconciler's and the worker's configuration, in one error", worker.App[notes]{New: newFails},
			map[string]string{"IDENTITY": "", "MAX_IN_FLIGHT": "0"}, []string{"POLICY_FILE", "IDENTITY", "MAX_IN_FLIGHT"}},
		{"a key that is not one", worker.App[notes]{Reconcile: succeed},
			map[string]string{"GITHUB_APP_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"}, []string{"GITHUB_APP_PRIVATE_KEY: is not a PEM-encoded RSA private key"}},
		{"a key file that is not there", worker.App[notes]{Reconcile: succeed},
			map[string]string{"GITHUB_APP_PRIVATE_KEY": "", "GITHUB_APP_PRIVATE_KEY_FILE": "/nonexistent/app.pem"}, []string{"GITHUB_APP_PRIVATE_KEY_FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := worker.Start(context.Background(), tt.app, appEnv(gh, tt.extra))
			if err == nil {
				p.Close()
				t.Fatal("started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

// Run dispatches its arguments to the App's commands, each given the started process, and
// refuses any other argument, naming the commands.
func TestRunSubcommands(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	var got []string
	app := worker.App[notes]{Reconcile: succeed, Commands: map[string]worker.Command[notes]{
		"redrive": func(_ context.Context, p *worker.Process[notes], args []string) error {
			got = append(args, p.Config.Identity, strconv.FormatBool(p.Worker != nil))
			return nil
		},
		"fail": func(context.Context, *worker.Process[notes], []string) error { return errors.New("it failed") },
	}}
	tests := []struct {
		args []string
		want string // error
		got  []string
	}{
		{[]string{"redrive", "--dry-run"}, "", []string{"--dry-run", identity, "true"}},
		{[]string{"fail"}, "it failed", nil},
		{[]string{"local"}, `unknown argument "local"`, nil},
	}
	for _, tt := range tests {
		got = nil
		err := worker.Run(context.Background(), app, appEnv(gh, nil, tt.args...))
		if (err == nil) != (tt.want == "") || (err != nil && !strings.HasPrefix(err.Error(), tt.want)) {
			t.Errorf("Run %v = %v, want %q", tt.args, err, tt.want)
		}
		if strings.Join(got, " ") != strings.Join(tt.got, " ") {
			t.Errorf("Run %v ran the command with %v, want %v", tt.args, got, tt.got)
		}
	}
	// An unknown argument is a usage error (exit 2), whose usage names every command.
	var usage *worker.UsageError
	if err := worker.Run(context.Background(), app, appEnv(gh, nil, "local")); !errors.As(err, &usage) ||
		!strings.Contains(usage.Usage, "one of: fail, help, redeliver, redrive, version") {
		t.Errorf("Run local = %v, want a *UsageError naming the commands", err)
	}
}

// The started process wires what the environment says: the decoder knows the App and check
// run (another App's Re-run is ignored), and RECONCILE_TOPIC gives an intake stage.
func TestStartWiresTheEnvironment(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: sha1})
	p, err := worker.Start(context.Background(), worker.App[notes]{Reconcile: succeed}, appEnv(gh, map[string]string{
		"RECONCILE_TOPIC": "projects/p/topics/reconcile", "PUBSUB_EMULATOR_HOST": "127.0.0.1:1",
		"MAX_DELIVERY_ATTEMPTS": "7", "MIN_RETRY_WINDOW": "0", "RECONCILE_TIMEOUT": "1m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if p.Intake == nil || p.PubSub == nil || p.Worker.MaxDeliveryAttempts != 7 || p.Worker.Timeout.String() != "1m0s" {
		t.Errorf("process %+v", p)
	}
	if err := p.Intake.Validate(); err != nil {
		t.Error(err)
	}
	o, err := p.Worker.Handle(context.Background(), checkRunRerequested("1", gh.App().ID+1, identity))
	if o != worker.OutcomeIgnored || err != nil {
		t.Errorf("another App's Re-run: %s, %v; want ignored", o, err)
	}
	if o, err := p.Worker.Handle(context.Background(), request("2", 7, sha1, false)); o != worker.OutcomeReconciled {
		t.Errorf("a request: %s, %v", o, err)
	}
}

// reconcileFiles is a reconciler of the example below: it counts the pull request's files.
func reconcileFiles(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[Summary], error) {
	files, _, err := gh.PullRequests.ListFiles(ctx, req.Resource.Owner, req.Resource.Repo, req.Resource.Number, nil)
	if err != nil {
		return nil, err
	}
	return &worker.Result[Summary]{Title: "Looks good", Details: Summary{Files: len(files)}}, nil
}

// What a reconciler logs through Logger(ctx) carries its request's labels, so the check
// run's details link selects it.
func TestReconcilerLogsCarryTheRequestLabels(t *testing.T) {
	e := newEnv(t, func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[notes], error) {
		worker.Logger(ctx).Info("sized the pull request", "files", 3)
		return succeed(ctx, req, gh)
	})
	if worker.Logger(context.Background()) != slog.Default() {
		t.Error("Logger outside a reconcile is not slog.Default()")
	}
	if o, err := e.w.Handle(context.Background(), request("m1", 7, sha1, false)); o != worker.OutcomeReconciled {
		t.Fatalf("%s, %v", o, err)
	}
	// The documented labels: pr_url, sha and delivery_id on every record of a message, which
	// the details link selects by; outcome only on the record of its outcome, written once it
	// is known.
	var reconciler, outcome string
	for _, line := range strings.Split(e.log.String(), "\n") {
		switch {
		case strings.Contains(line, "sized the pull request"):
			reconciler = line
		case strings.Contains(line, `"outcome":"reconciled"`):
			outcome = line
		}
	}
	if reconciler == "" || outcome == "" {
		t.Fatalf("want a record of the reconciler and one of the outcome in the log:\n%s", e.log.String())
	}
	for _, l := range []string{`"pr_url":"` + prURL(7) + `"`, `"sha":"` + sha1 + `"`, `"delivery_id":"m1"`} {
		contains(t, "the reconciler's record", reconciler, l)
		contains(t, "the outcome record", outcome, l)
	}
	contains(t, "the reconciler's record", reconciler, `"files":3`)
	if strings.Contains(reconciler, `"outcome"`) {
		t.Errorf("the reconciler's record carries an outcome before it is known: %s", reconciler)
	}
}

// The details link template comes from the reconciler (App.DetailsURLTemplate) or, over it,
// from DETAILS_URL_TEMPLATE; one that does not parse stops start-up.
func TestStartDetailsURLTemplate(t *testing.T) {
	tests := []struct {
		name, app, env string
		want           string
		wantErr        bool
	}{
		{"the reconciler's", "https://a.example/{{.SHA}}", "", "https://a.example/" + sha1, false},
		{"the configuration's wins", "https://a.example/{{.SHA}}", "https://b.example/{{.Number}}", "https://b.example/7", false},
		{"refused", "", "https://b.example/{{.Nope}}", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gh := githubtest.NewTestServer(t)
			gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: sha1})
			extra := map[string]string{}
			if tt.env != "" {
				extra["DETAILS_URL_TEMPLATE"] = tt.env
			}
			p, err := worker.Start(context.Background(), worker.App[notes]{Reconcile: succeed, DetailsURLTemplate: tt.app}, appEnv(gh, extra))
			if tt.wantErr {
				if err == nil {
					p.Close()
					t.Fatal("started with a template that does not execute")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			if o, err := p.Worker.Handle(context.Background(), request("1", 7, sha1, false)); o != worker.OutcomeReconciled {
				t.Fatalf("%s, %v", o, err)
			}
			if got := gh.CheckRuns(owner, repo, sha1)[0].DetailsURL; got != tt.want {
				t.Errorf("details URL %q, want %q", got, tt.want)
			}
		})
	}
}
