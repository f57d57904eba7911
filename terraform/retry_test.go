package terraform_test

// The retry window: how long Pub/Sub keeps redelivering a message that is nacked each time,
// between its first and its last delivery. It must outlast GitHub's hourly rate-limit reset, so
// a message that keeps meeting an exhausted rate limit is still retried after the reset.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/zclconf/go-cty/cty"

	"github.com/prreconciler/prreconciler/config"
)

// minRetryWindow is what the window must cover: GitHub's primary rate limit resets hourly.
const minRetryWindow = time.Hour

// retryWindow is the module README's formula: between delivery k and k+1 (k = 1 .. attempts-1)
// Pub/Sub waits min(maximum, minimum * 2^(k-1)); the window is the sum of those waits (the
// handling time of each delivery not counted, and Pub/Sub's backoff is best effort).
func retryWindow(minimum, maximum time.Duration, attempts int) time.Duration {
	var window time.Duration
	wait := minimum
	for k := 1; k < attempts; k++ {
		window += min(wait, maximum)
		if wait < maximum {
			wait *= 2
		}
	}
	return window
}

func TestRetryWindowFormula(t *testing.T) {
	for _, tc := range []struct {
		minimum, maximum time.Duration
		attempts         int
		want             time.Duration
	}{
		{10 * time.Second, 600 * time.Second, 5, 150 * time.Second},   // 10+20+40+80
		{10 * time.Second, 600 * time.Second, 10, 2430 * time.Second}, // the "about 40 minutes"
		{10 * time.Second, 600 * time.Second, 12, 3630 * time.Second},
		{10 * time.Second, 600 * time.Second, 15, 5430 * time.Second},
		{10 * time.Second, 600 * time.Second, 100, 56430 * time.Second},
		{600 * time.Second, 600 * time.Second, 7, 3600 * time.Second},
		{0, 600 * time.Second, 100, 0},
		{time.Second, 10 * time.Second, 1, 0},
	} {
		if got := retryWindow(tc.minimum, tc.maximum, tc.attempts); got != tc.want {
			t.Errorf("retryWindow(%s, %s, %d) = %s, want %s", tc.minimum, tc.maximum, tc.attempts, got, tc.want)
		}
	}
}

// retrySetting is one retry policy and dead-letter policy.
type retrySetting struct {
	attempts         int64
	minimum, maximum string
}

// retryGrid returns every combination of the given values with minimum <= maximum.
func retryGrid(attempts []int64, backoffs []string) []retrySetting {
	var out []retrySetting
	for _, n := range attempts {
		for _, lo := range backoffs {
			for _, hi := range backoffs {
				l, _ := time.ParseDuration(lo)
				h, _ := time.ParseDuration(hi)
				if l <= h {
					out = append(out, retrySetting{n, lo, hi})
				}
			}
		}
	}
	return out
}

// smallRetryGrid is what checkModule tries on every (mutated) module: around the hour at the
// default backoffs, Pub/Sub's limits, no backoff, and a low maximum backoff.
var smallRetryGrid = []retrySetting{
	{4, "600s", "600s"}, {5, "0s", "0s"}, {6, "600s", "600s"}, {7, "600s", "600s"}, {101, "600s", "600s"},
	{5, "0s", "10s"}, {10, "10s", "600s"}, {11, "10s", "600s"}, {12, "10s", "600s"}, {15, "10s", "600s"},
	{100, "10s", "30s"}, {100, "10s", "600s"},
}

// checkRetryWindow: the module's validations accept exactly the settings of grid whose retry
// window (retryWindow) covers minRetryWindow, and its defaults are such a setting.
func checkRetryWindow(c *tfConfig, attemptsVar, minVar, maxVar string, grid []retrySetting) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	defaults := c.defaults()
	defAttempts, defMin, defMax := defaults[attemptsVar], defaults[minVar], defaults[maxVar]
	if defAttempts == cty.NilVal || defMin == cty.NilVal || defMax == cty.NilVal {
		bad("retry window: %s, %s and %s need defaults", attemptsVar, minVar, maxVar)
		return problems
	}
	n, _ := defAttempts.AsBigFloat().Int64()
	lo, err1 := time.ParseDuration(defMin.AsString())
	hi, err2 := time.ParseDuration(defMax.AsString())
	if err1 != nil || err2 != nil {
		bad("retry window: the default backoffs %s, %s are not Go durations", defMin.AsString(), defMax.AsString())
		return problems
	}
	if w := retryWindow(lo, hi, int(n)); w < minRetryWindow {
		bad("retry window: the defaults (%d attempts, %s..%s) give %s, less than %s", n, lo, hi, w, minRetryWindow)
	}

	mismatches := 0
	for _, g := range grid {
		lo, _ := time.ParseDuration(g.minimum)
		hi, _ := time.ParseDuration(g.maximum)
		window := retryWindow(lo, hi, int(g.attempts))
		want := g.attempts >= 5 && g.attempts <= 100 && window >= minRetryWindow
		refused, err := c.refused(map[string]cty.Value{
			attemptsVar: cty.NumberIntVal(g.attempts), minVar: cty.StringVal(g.minimum), maxVar: cty.StringVal(g.maximum),
		})
		if err != nil {
			bad("retry window: %v", err)
			return problems
		}
		if got := len(refused) == 0; got != want {
			mismatches++
			if mismatches <= 5 {
				bad("retry window: %s = %d with backoffs %s..%s (window %s): accepted=%v, want %v (refused by %v)",
					attemptsVar, g.attempts, g.minimum, g.maximum, window, got, want, refused)
			}
		}
	}
	if mismatches > 5 {
		bad("retry window: %d more settings where the validation and retryWindow disagree", mismatches-5)
	}
	return problems
}

// The validation and retryWindow agree on a wider grid than checkModule tries.
func TestRetryWindowValidationMatchesFormula(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	grid := retryGrid([]int64{4, 5, 6, 7, 8, 10, 11, 12, 13, 15, 20, 50, 100, 101},
		[]string{"0s", "1s", "10s", "12.5s", "30s", "60s", "300s", "600s"})
	if testing.Short() {
		grid = smallRetryGrid
	}
	for _, p := range checkRetryWindow(c, "max_delivery_attempts", "retry_minimum_backoff", "retry_maximum_backoff", grid) {
		t.Error(p)
	}
}

// The README's table of the window at the default backoffs is what retryWindow computes, and it
// shows the default.
func TestReadmeRetryWindowTable(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	d := c.defaults()
	lo, err := time.ParseDuration(d["retry_minimum_backoff"].AsString())
	if err != nil {
		t.Fatal(err)
	}
	hi, err := time.ParseDuration(d["retry_maximum_backoff"].AsString())
	if err != nil {
		t.Fatal(err)
	}
	def, _ := d["max_delivery_attempts"].AsBigFloat().Int64()

	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile(`^\| (\*\*)?(\d+)(\*\*)? \| (\*\*)?(\d+) s\b`)
	in, rows, sawDefault := false, 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			in = strings.Contains(strings.ToLower(l), "retry window")
			continue
		}
		if !in {
			continue
		}
		m := row.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		rows++
		attempts, _ := strconv.Atoi(m[2])
		secs, _ := strconv.Atoi(m[5])
		if want := retryWindow(lo, hi, attempts); time.Duration(secs)*time.Second != want {
			t.Errorf("README: %d attempts: window %d s, retryWindow gives %s", attempts, secs, want)
		}
		accepted := retryWindow(lo, hi, attempts) >= minRetryWindow
		if strings.Contains(l, "refused") == accepted {
			t.Errorf("README: %d attempts: the row says refused=%v, the window %s says %v", attempts, strings.Contains(l, "refused"), retryWindow(lo, hi, attempts), !accepted)
		}
		if int64(attempts) == def {
			sawDefault = true
			if !strings.Contains(l, "default") {
				t.Errorf("README: the row of the default %d attempts does not say so: %s", def, l)
			}
		}
	}
	if rows < 5 {
		t.Fatalf("README: want a table of at least 5 rows (attempts | window) under a \"retry window\" heading, found %d", rows)
	}
	if !sawDefault {
		t.Errorf("README: the retry window table has no row for the default max_delivery_attempts %d", def)
	}
}

// Every variable validation, run by Terraform itself: the module's variables.tf alone needs no
// provider, so `terraform plan` can evaluate them offline. Skipped without terraform on PATH.
func TestVariableValidationsWithTerraform(t *testing.T) {
	run := offlineTerraform(t).run
	for _, tc := range []struct {
		vars    []string
		ok      bool
		message string
	}{
		{nil, true, ""},
		{[]string{"max_delivery_attempts=10"}, false, "is 2430 s, shorter than"},
		{[]string{"max_delivery_attempts=11"}, false, "is 3030 s"},
		{[]string{"max_delivery_attempts=12"}, true, ""},
		{[]string{"max_delivery_attempts=6", "retry_minimum_backoff=600s"}, false, "is 3000 s"},
		{[]string{"max_delivery_attempts=7", "retry_minimum_backoff=600s"}, true, ""},
		{[]string{"max_delivery_attempts=100", "retry_maximum_backoff=30s"}, false, "is 2940 s"},
		{[]string{"max_delivery_attempts=101"}, false, "from 5 to 100"},
		{[]string{"retry_minimum_backoff=60s", "retry_maximum_backoff=30s"}, false, "retry_maximum_backoff (30s) must not be below retry_minimum_backoff (60s)"},
		{[]string{"relay_topics={reconcile=\"t-topic\"}"}, false, "taken by the module's own subscriptions"},
		{[]string{"reconcile_publishers=[\"allUsers\"]"}, false, "reconcile_publishers must be IAM members"},
		{[]string{"reconcile_publishers=[\"serviceAccount:ci@acme-ci-prod.iam.gserviceaccount.com\"]"}, true, ""},
		{[]string{`reconciler_env={HYGIENE_MAX_FILE_LINES="300",GITHUB_RETRY_BUDGET="1m"}`}, true, ""},
		{[]string{`reconciler_env={LOG_DESTINATION="api"}`}, false, "reconciler_env must not set LOG_DESTINATION"},
		// cpu, memory and concurrency together, against Cloud Run's limits.
		{[]string{"cpu=0.5", "concurrency=1"}, true, ""},
		{[]string{"cpu=500m", "concurrency=1", "memory=1Gi"}, true, ""},
		{[]string{"cpu=0.5"}, false, `concurrency = 10 needs cpu of at least 1 (cpu is 0.5)`},
		{[]string{"cpu=3"}, false, `cpu = "3" is not a Cloud Run CPU limit`},
		{[]string{"cpu=one"}, false, `cpu = "one" is not a Cloud Run CPU limit`},
		{[]string{"cpu=4", "memory=2Gi"}, true, ""},
		{[]string{"cpu=4"}, false, `memory = "512Mi" does not fit cpu = "4": Cloud Run needs at least 2Gi with 4 CPUs`},
		{[]string{"cpu=6", "memory=3Gi"}, false, `memory = "3Gi" does not fit cpu = "6"`},
		{[]string{"cpu=8", "memory=4Gi"}, true, ""},
		{[]string{"cpu=1", "memory=8Gi"}, false, `memory = "8Gi" does not fit cpu = "1"`},
		{[]string{"cpu=0.25", "concurrency=1", "memory=1Gi"}, false, `at most 512Mi below 0.5 CPU`},
		{[]string{"memory=512MB"}, false, `memory = "512MB" is not a size from 128Mi to 32Gi`},
		{[]string{"memory=64Mi"}, false, `memory = "64Mi" is not a size`},
		{[]string{"log_destination=api"}, true, ""},
		{[]string{"log_destination=file"}, false, "log_destination must be auto, stdout or api"},
		{[]string{`notification_channels=["projects/acme-ci-prod/notificationChannels/123"]`}, true, ""},
		{[]string{`notification_channels=["oncall@acme.example"]`}, false, "notification_channels must be channel ids"},
		{[]string{"alert_push_error_ratio=20"}, false, "alert_push_error_ratio must be between 0 and 1"},
		{[]string{"alert_unacked_age_seconds=30"}, false, "alert_unacked_age_seconds must be at least 60"},
		{[]string{"alert_backlog_messages=0"}, false, "alert_backlog_messages must be at least 1"},
		{[]string{"alert_github_remaining_points=0"}, false, "alert_github_remaining_points must be at least 1"},
		{[]string{"alert_unacked_age_seconds=600", "alert_backlog_messages=50", "alert_github_remaining_points=1000", "alert_push_error_ratio=0.05"}, true, ""},
		{[]string{`reconciler_env={HYGIENE_MAX_FILE_LINES="300",GITHUB_APP_ID="1",K_SERVICE="x"}`}, false, "reconciler_env must not set GITHUB_APP_ID, K_SERVICE: the module sets it"},
		{[]string{`reconciler_env={"hygiene-max-lines"="300"}`}, false, "reconciler_env names must be environment variable names"},
		// The webhook ingress: off by default; on, it needs the secret and bounded limits.
		{[]string{`webhook_ingress={enabled=true,secret="gh-webhook"}`}, true, ""},
		{[]string{`webhook_ingress={enabled=true,secret="gh-webhook"}`, `relay_topics={}`}, true, ""},
		{[]string{`relay_topics={}`}, false, "relay_topics must name at least one topic, unless webhook_ingress.enabled"},
		{[]string{`relay_topics={ingress="t-topic"}`}, false, `"ingress" is webhook_ingress's topic`},
		{[]string{`webhook_ingress={enabled=true}`}, false, "webhook_ingress.secret must name the Secret Manager secret"},
		{[]string{`webhook_ingress={enabled=true,secret="a/b"}`}, false, "webhook_ingress.secret and webhook_ingress.previous_secret must be a secret id"},
		{[]string{`webhook_ingress={enabled=true,secret="s",previous_secret="projects/p/secrets/old",previous_secret_version="3"}`}, true, ""},
		{[]string{`webhook_ingress={enabled=true,secret="s",previous_secret="s"}`}, false, "webhook_ingress.previous_secret must differ from webhook_ingress.secret"},
		{[]string{`webhook_ingress={enabled=true,secret="s",secret_version="v1"}`}, false, `webhook_ingress.secret_version and webhook_ingress.previous_secret_version must be "latest"`},
		{[]string{`webhook_ingress={enabled=true,secret="s",topic="projects/p/subscriptions/x"}`}, false, "webhook_ingress.topic must be a topic name"},
		{[]string{`webhook_ingress={enabled=true,secret="s",topic="projects/acme-relay/topics/github-events",publish_timeout="8s"}`}, true, ""},
		{[]string{`webhook_ingress={enabled=true,secret="s",publish_timeout="10s"}`}, false, "below GitHub's 10s delivery timeout"},
		{[]string{`webhook_ingress={enabled=true,secret="s",publish_timeout="5m"}`}, false, "webhook_ingress.publish_timeout must be a duration"},
		{[]string{`webhook_ingress={enabled=true,secret="s",max_instances=0}`}, false, "webhook_ingress.min_instances and webhook_ingress.max_instances must be integers"},
		{[]string{`webhook_ingress={enabled=true,secret="s",min_instances=4,max_instances=3}`}, false, "0 <= min_instances <= max_instances"},
		{[]string{`webhook_ingress={enabled=true,secret="s",concurrency=0}`}, false, "webhook_ingress.concurrency must be an integer from 1 to 1000"},
		// The redeliver job: off by default; its schedule, time zone and window checked.
		{[]string{`redeliver={enabled=true}`}, true, ""},
		{[]string{`redeliver={enabled=true,schedule="*/30 * * * *",since="90m",time_zone="Europe/Berlin"}`}, true, ""},
		{[]string{`redeliver={enabled=true,schedule="every 6 hours"}`}, false, "redeliver.schedule must be a cron schedule of 5 fields"},
		{[]string{`redeliver={enabled=true,time_zone="UTC+2"}`}, false, "redeliver.time_zone must be an IANA time zone"},
		{[]string{`redeliver={enabled=true,since="4d"}`}, false, "redeliver.since must be a duration in hours or minutes"},
		{[]string{`redeliver={enabled=true,since="73h"}`}, false, "from 10m to 72h"},
		{[]string{`redeliver={enabled=true,since="5m"}`}, false, "from 10m to 72h"},
	} {
		args := []string{"plan", "-input=false", "-no-color", "-lock=false", "-var-file=required.tfvars.json"}
		for _, v := range tc.vars {
			args = append(args, "-var", v)
		}
		out, err := run(args...)
		if tc.ok != (err == nil) {
			t.Errorf("terraform plan %v: ok=%v, want %v\n%s", tc.vars, err == nil, tc.ok, out)
			continue
		}
		// Terraform wraps long messages: compare with the line breaks undone.
		if flat := strings.Join(strings.Fields(out), " "); tc.message != "" && !strings.Contains(flat, tc.message) {
			t.Errorf("terraform plan %v: the output does not say %q:\n%s", tc.vars, tc.message, out)
		}
	}
}

// offlineTerraform prepares a directory with the module's variables.tf alone (it needs no
// provider, so Terraform runs offline) and required.tfvars.json (the required inputs), runs
// terraform init there. It skips the test without terraform on PATH or with -short.
func offlineTerraform(t *testing.T) offlineTF {
	t.Helper()
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not installed")
	}
	if testing.Short() {
		t.Skip("runs terraform; skipped with -short")
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(moduleDir, "variables.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "variables.tf"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	required := `{
  "project_id": "acme-ci-prod",
  "region": "europe-west1",
  "image": "europe-west1-docker.pkg.dev/acme-ci-prod/prreconciler/worker@sha256:0000000000000000000000000000000000000000000000000000000000000000",
  "github_app_id": 123456,
  "github_app_private_key_secret": "prreconciler-github-app-key",
  "identity": "prreconciler",
  "relay_topics": {"github": "projects/acme-ci-prod/topics/github-webhooks"}
}`
	if err := os.WriteFile(filepath.Join(dir, "required.tfvars.json"), []byte(required), 0o644); err != nil {
		t.Fatal(err)
	}
	o := offlineTF{tf: tf, dir: dir}
	if out, err := o.run("init", "-input=false", "-no-color", "-backend=false"); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, out)
	}
	return o
}

// offlineTF is a directory prepared by offlineTerraform.
type offlineTF struct{ tf, dir string }

// run runs terraform there, offline and without prompts.
func (o offlineTF) run(args ...string) (string, error) { return o.runWith("", args...) }

// console evaluates expr with `terraform console`, the required inputs and vars (NAME=VALUE)
// set, and returns what it printed.
func (o offlineTF) console(expr string, vars ...string) (string, error) {
	args := []string{"console", "-var-file=required.tfvars.json"}
	for _, v := range vars {
		args = append(args, "-var", v)
	}
	return o.runWith(expr+"\n", args...)
}

func (o offlineTF) runWith(stdin string, args ...string) (string, error) {
	cmd := exec.Command(o.tf, args...)
	cmd.Dir = o.dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0",
		"TF_DATA_DIR="+filepath.Join(o.dir, ".terraform"))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if stdin != "" {
		// console: its result alone (stderr has Terraform's warnings).
		if err != nil {
			return stdout.String() + stderr.String(), err
		}
		return stdout.String(), nil
	}
	return stdout.String() + stderr.String(), err
}

// The worker checks the same window at start-up (config.RetryWindow, MIN_RETRY_WINDOW): the
// formulas agree, its default minimum is the module's, and for every setting within Pub/Sub's
// limits the worker starts with the module's environment exactly when the module accepts it.
func TestRetryWindowAgreesWithWorker(t *testing.T) {
	grid := retryGrid([]int64{5, 6, 7, 8, 10, 11, 12, 13, 15, 20, 100},
		[]string{"0s", "1s", "10s", "12.5s", "60s", "300s", "600s"})
	for _, g := range grid {
		lo, _ := time.ParseDuration(g.minimum)
		hi, _ := time.ParseDuration(g.maximum)
		if a, b := retryWindow(lo, hi, int(g.attempts)), config.RetryWindow(lo, hi, int(g.attempts)); a != b {
			t.Errorf("%d attempts, %s..%s: the README's window %s, the worker's %s", g.attempts, lo, hi, a, b)
		}
	}
	found := false
	for _, v := range config.Variables() {
		if v.Name == "MIN_RETRY_WINDOW" {
			found = true
			if d, err := time.ParseDuration(v.Default); err != nil || d != minRetryWindow {
				t.Errorf("the worker's MIN_RETRY_WINDOW defaults to %q, the module requires %s", v.Default, minRetryWindow)
			}
		}
	}
	if !found {
		t.Fatal("config.Variables has no MIN_RETRY_WINDOW")
	}

	c := loadModule(t, readTF(t, moduleDir))
	required := map[string]cty.Value{
		"project_id":                    cty.StringVal("acme-ci-prod"),
		"region":                        cty.StringVal("europe-west1"),
		"image":                         cty.StringVal("europe-west1-docker.pkg.dev/acme-ci-prod/prreconciler/worker:1"),
		"github_app_id":                 cty.NumberIntVal(123456),
		"github_app_private_key_secret": cty.StringVal("prreconciler-github-app-key"),
		"identity":                      cty.StringVal("prreconciler"),
		"relay_topics":                  cty.MapVal(map[string]cty.Value{"github": cty.StringVal("github-webhooks")}),
	}
	for _, g := range retryGrid([]int64{5, 7, 10, 11, 12, 15, 100}, []string{"0s", "10s", "30s", "600s"}) {
		set := map[string]cty.Value{
			"max_delivery_attempts": cty.NumberIntVal(g.attempts),
			"retry_minimum_backoff": cty.StringVal(g.minimum),
			"retry_maximum_backoff": cty.StringVal(g.maximum),
		}
		for k, v := range required {
			set[k] = v
		}
		refused, err := c.refused(set)
		if err != nil {
			t.Fatal(err)
		}
		env, err := moduleEnv(c, set)
		if err != nil {
			t.Fatal(err)
		}
		_, loadErr := config.Load(t.Context(), envconfig.MapLookuper(env))
		if (len(refused) == 0) != (loadErr == nil) {
			t.Errorf("%d attempts, %s..%s: the module refuses=%v, the worker: %v", g.attempts, g.minimum, g.maximum, refused, loadErr)
		}
	}
}
