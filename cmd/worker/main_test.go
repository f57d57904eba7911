package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := pubsubemu.Run(m)
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// workerBinary builds this command once per test binary.
func workerBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "worker-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "worker")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// documentedVariables returns the variables of docs/configuration.md's tables.
func documentedVariables(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(configurationDoc)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		names = append(names, m[1])
	}
	return names
}

// variables are what this command reads: the worker's environment and diff hygiene's own.
func variables() []config.Variable {
	return append(config.Variables(), config.VariablesOf(hygiene.Config{})...)
}

func TestDocumentsEveryVariable(t *testing.T) {
	var want []string
	for _, v := range variables() {
		want = append(want, v.Name)
	}
	got := documentedVariables(t)
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("docs/configuration.md documents %v\nthe worker reads %v", got, want)
	}
}

// TestEveryDocumentedVariable sets every variable docs/configuration.md documents and checks that each
// one reaches the configuration.
func TestEveryDocumentedVariable(t *testing.T) {
	key := string(githubtest.NewTestServer(t).App().PrivateKeyPEM)
	values := map[string]string{
		"GITHUB_APP_ID": "4242", "GITHUB_APP_PRIVATE_KEY": key, "GITHUB_APP_PRIVATE_KEY_FILE": "",
		"GITHUB_API_URL": "https://ghe.example.com/api/v3/", "IDENTITY": "diff-hygiene", "PORT": "9090",
		"PUBSUB_SUBSCRIPTION": "worker-sub", "GOOGLE_CLOUD_PROJECT": "my-proj", "PUBSUB_EMULATOR_HOST": "127.0.0.1:8085",
		"MAX_IN_FLIGHT": "7", "RECONCILE_TIMEOUT": "2m", "SHUTDOWN_GRACE": "9s", "MAX_DELIVERY_ATTEMPTS": "12",
		"GITHUB_RETRY_BUDGET": "45s", "RELAY_TYPE_PREFIX": "com.example.github", "PUSH_AUDIENCE": "https://worker.example.com",
		"PUSH_SERVICE_ACCOUNT": "push@my-proj.iam.gserviceaccount.com", "HYGIENE_MAX_FILE_BYTES": "2048",
		"HYGIENE_MAX_FILE_LINES": "300", "LOG_LEVEL": "debug", "LOG_DESTINATION": "api", "LOG_FORMAT": "text",
		"INTAKE_SUBSCRIPTION": "projects/relay-proj/subscriptions/intake", "RECONCILE_TOPIC": "reconcile", "ACK_DEADLINE": "5m",
		"RETRY_MINIMUM_BACKOFF": "60s", "RETRY_MAXIMUM_BACKOFF": "300s", "MIN_RETRY_WINDOW": "30m",
		"GITHUB_BUDGET_RESERVE": "25", "GITHUB_RESET_JITTER": "5s", "IN_PROGRESS_AFTER": "1500ms",
		"DETAILS_URL_TEMPLATE": "https://logs.example.com/?sha={{.SHA}}",
		// The ingress's, read in either mode (checked in MODE=ingress).
		"MODE": "worker", "WEBHOOK_SECRET": "s3cret", "WEBHOOK_SECRET_PREVIOUS": "old-s3cret", "RELAY_TOPIC": "projects/relay-proj/topics/github",
		"WEBHOOK_PUBLISH_TIMEOUT": "5s",
	}
	for _, name := range documentedVariables(t) {
		if _, ok := values[name]; !ok {
			t.Errorf("docs/configuration.md documents %s but this test does not set it", name)
		}
	}
	cfg, err := config.Load(context.Background(), envconfig.MapLookuper(values))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Worker{
		AppID: 4242, PrivateKey: key, APIURL: "https://ghe.example.com/api/v3/", Identity: "diff-hygiene", Port: 9090,
		Subscription: "worker-sub", Project: "my-proj", EmulatorHost: "127.0.0.1:8085", MaxInFlight: 7,
		ReconcileTimeout: 2 * time.Minute, ShutdownGrace: 9 * time.Second, MaxDeliveryAttempts: 12, RetryBudget: 45 * time.Second,
		RelayTypePrefix: "com.example.github", PushAudience: "https://worker.example.com",
		PushServiceAccount: "push@my-proj.iam.gserviceaccount.com", LogLevel: "debug",
		LogDestination: "api", LogFormat: "text", IntakeSubscription: "projects/relay-proj/subscriptions/intake", ReconcileTopic: "reconcile",
		AckDeadline: 5 * time.Minute, RetryMinBackoff: time.Minute, RetryMaxBackoff: 5 * time.Minute, MinRetryWindow: 30 * time.Minute,
		BudgetReserve: 25, ResetJitter: 5 * time.Second, InProgressAfter: 1500 * time.Millisecond,
		DetailsURLTemplate: "https://logs.example.com/?sha={{.SHA}}",
		Mode:               "worker", WebhookSecret: "s3cret", WebhookSecretPrevious: "old-s3cret", RelayTopic: "projects/relay-proj/topics/github",
		WebhookPublishTimeout: 5 * time.Second,
	}
	if *cfg != want {
		t.Errorf("loaded %+v\nwant %+v", *cfg, want)
	}
	hc, err := hygiene.LoadConfig(context.Background(), envconfig.MapLookuper(values))
	if err != nil || hc != (hygiene.Config{MaxFileBytes: 2048, MaxFileLines: 300}) {
		t.Errorf("hygiene configuration %+v, %v", hc, err)
	}
	if !cfg.Pull() || cfg.SubscriptionName() != "projects/my-proj/subscriptions/worker-sub" {
		t.Errorf("pull %v on %q", cfg.Pull(), cfg.SubscriptionName())
	}
	if cfg.IntakeSubscriptionName() != "projects/relay-proj/subscriptions/intake" || cfg.ReconcileTopicName() != "projects/my-proj/topics/reconcile" {
		t.Errorf("intake %q, reconcile topic %q", cfg.IntakeSubscriptionName(), cfg.ReconcileTopicName())
	}
}

func TestConfigErrorsNameEveryBadVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing set", map[string]string{}, []string{"GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "IDENTITY"}},
		{"bad values", map[string]string{"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY": "not a key", "IDENTITY": "x",
			"MAX_IN_FLIGHT": "0", "MAX_DELIVERY_ATTEMPTS": "101", "LOG_LEVEL": "loud", "PUBSUB_SUBSCRIPTION": "short"},
			[]string{"GITHUB_APP_PRIVATE_KEY", "MAX_IN_FLIGHT", "MAX_DELIVERY_ATTEMPTS", "LOG_LEVEL", "PUBSUB_SUBSCRIPTION"}},
		{"unparsable", map[string]string{"PORT": "eighty"}, []string{"PORT"}},
		{"malformed subscription", map[string]string{"PUBSUB_SUBSCRIPTION": "projects/"}, []string{"PUBSUB_SUBSCRIPTION"}},
		{"subscription path", map[string]string{"PUBSUB_SUBSCRIPTION": "topics/x", "GOOGLE_CLOUD_PROJECT": "p"}, []string{"PUBSUB_SUBSCRIPTION"}},
		{"reconcile longer than the ack deadline allows", map[string]string{"RECONCILE_TIMEOUT": "7m51s"}, []string{"RECONCILE_TIMEOUT", "at most 7m50s"}},
		{"reconcile longer than a shorter ack deadline allows", map[string]string{"RECONCILE_TIMEOUT": "5m", "ACK_DEADLINE": "5m"}, []string{"RECONCILE_TIMEOUT", "at most 2m50s"}},
		{"in_progress after a negative delay", map[string]string{"IN_PROGRESS_AFTER": "-1s"}, []string{"IN_PROGRESS_AFTER"}},
		{"in_progress after the reconcile timeout", map[string]string{"IN_PROGRESS_AFTER": "3m", "RECONCILE_TIMEOUT": "2m"}, []string{"IN_PROGRESS_AFTER", "RECONCILE_TIMEOUT 2m0s"}},
		{"ack deadline out of range", map[string]string{"ACK_DEADLINE": "11m"}, []string{"ACK_DEADLINE"}},
		{"intake without a topic", map[string]string{"INTAKE_SUBSCRIPTION": "projects/p/subscriptions/i"}, []string{"INTAKE_SUBSCRIPTION", "needs RECONCILE_TOPIC"}},
		{"one subscription for both stages", map[string]string{"INTAKE_SUBSCRIPTION": "s", "PUBSUB_SUBSCRIPTION": "s", "RECONCILE_TOPIC": "t", "GOOGLE_CLOUD_PROJECT": "p"},
			[]string{"INTAKE_SUBSCRIPTION", "a subscription each"}},
		{"reconcile topic path", map[string]string{"RECONCILE_TOPIC": "projects/p/subscriptions/x"}, []string{"RECONCILE_TOPIC"}},
		{"short topic without a project", map[string]string{"RECONCILE_TOPIC": "reconcile"}, []string{"RECONCILE_TOPIC", "GOOGLE_CLOUD_PROJECT"}},
		{"both keys", map[string]string{"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----", "GITHUB_APP_PRIVATE_KEY_FILE": "/k", "IDENTITY": "x"},
			[]string{"GITHUB_APP_PRIVATE_KEY_FILE are both set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(context.Background(), envconfig.MapLookuper(tt.env))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

// TestBinaryRefusesToStartWithoutItsConfiguration starts the real binary with a variable
// missing and checks that it exits with a message naming it.
func TestBinaryRefusesToStartWithoutItsConfiguration(t *testing.T) {
	bin := workerBinary(t)
	key := string(githubtest.NewTestServer(t).App().PrivateKeyPEM)
	tests := []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{"no App id", nil, []string{"GITHUB_APP_PRIVATE_KEY=" + key, "IDENTITY=x"}, []string{"GITHUB_APP_ID"}},
		{"no identity nor key", nil, []string{"GITHUB_APP_ID=3"}, []string{"IDENTITY", "GITHUB_APP_PRIVATE_KEY"}},
		{"bad duration", nil, []string{"GITHUB_APP_ID=3", "GITHUB_APP_PRIVATE_KEY=" + key, "IDENTITY=x", "RECONCILE_TIMEOUT=soon"}, []string{"RECONCILE_TIMEOUT"}},
		{"bad worker and hygiene variables, in one error", nil, []string{"GITHUB_APP_ID=3", "GITHUB_APP_PRIVATE_KEY=" + key, "IDENTITY=x",
			"MAX_IN_FLIGHT=0", "HYGIENE_MAX_FILE_LINES=0"}, []string{"MAX_IN_FLIGHT", "HYGIENE_MAX_FILE_LINES"}},
		{"a key that is not one", nil, []string{"GITHUB_APP_ID=3", "GITHUB_APP_PRIVATE_KEY=-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----", "IDENTITY=x"},
			[]string{"GITHUB_APP_PRIVATE_KEY: is not a PEM-encoded RSA private key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tt.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; stderr: %s", err, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q does not name %s", stderr.String(), w)
				}
			}
			if strings.Contains(stderr.String(), "PRIVATE KEY-----\n") || strings.Contains(stderr.String(), key[40:80]) {
				t.Error("the private key was printed")
			}
		})
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

const (
	testOwner = "octo-org"
	testRepo  = "hello-world"
	testSHA   = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
)

// seededGitHub is a fake GitHub with a PR whose 100 files each add a conflict marker: 100
// annotations, two batches of 50.
func seededGitHub(t *testing.T) *githubtest.Server {
	t.Helper()
	gh := githubtest.NewTestServer(t)
	gh.AddRepo(testOwner, testRepo)
	gh.AddPullRequest(testOwner, testRepo, githubtest.PullRequest{Number: 7, HeadSHA: testSHA, Files: hundredMarkers()})
	return gh
}

// hundredMarkers are 100 changed files that each add a conflict marker.
func hundredMarkers() []githubtest.File {
	var files []githubtest.File
	for i := range 100 {
		files = append(files, githubtest.File{Filename: fmt.Sprintf("pkg/f%03d.go", i), Status: "modified",
			Patch: "@@ -1,1 +1,2 @@\n package pkg\n+<<<<<<< HEAD"})
	}
	return files
}

func requestJSON(gh *githubtest.Server) []byte {
	b, _ := json.Marshal(map[string]any{"owner": testOwner, "repo": testRepo, "sha": testSHA,
		"url": gh.WebURL() + "/" + testOwner + "/" + testRepo + "/pull/7"})
	return b
}

// process is a running worker binary whose output is kept for failure messages.
type process struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func startWorker(t *testing.T, env ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(workerBinary(t))}
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("worker output:\n%s", p.output())
		}
	})
	return p
}

func appEnv(gh *githubtest.Server) []string {
	return []string{
		fmt.Sprintf("GITHUB_APP_ID=%d", gh.App().ID), "GITHUB_APP_PRIVATE_KEY=" + string(gh.App().PrivateKeyPEM),
		"GITHUB_API_URL=" + gh.URL() + "/", "IDENTITY=diff-hygiene", "SHUTDOWN_GRACE=3s",
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBinaryPushModeAndSIGTERM runs the binary as Cloud Run does: push on PORT. One pushed
// request gives a completed check run; SIGTERM makes it exit 0.
func TestBinaryPushModeAndSIGTERM(t *testing.T) {
	gh := seededGitHub(t)
	port := freePort(t)
	p := startWorker(t, append(appEnv(gh), "PORT="+strconv.Itoa(port), "GOOGLE_CLOUD_PROJECT=my-proj")...)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, 20*time.Second, "/healthz", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	envelope, _ := json.Marshal(map[string]any{"subscription": "projects/my-proj/subscriptions/s",
		"message": map[string]any{"data": base64.StdEncoding.EncodeToString(requestJSON(gh)), "messageId": "101", "attributes": map[string]string{}}})
	resp, err := http.Post(base+"/", "application/json", bytes.NewReader(envelope))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("push answered %d, want 204", resp.StatusCode)
	}
	runs := gh.CheckRuns(testOwner, testRepo, testSHA)
	if len(runs) != 1 || runs[0].Status != "completed" || runs[0].Conclusion != "failure" || len(runs[0].Annotations) != 100 {
		t.Fatalf("runs = %+v", runs)
	}
	if !strings.HasPrefix(runs[0].DetailsURL, "https://console.cloud.google.com/logs/query;query=") || !strings.Contains(runs[0].DetailsURL, "project=my-proj") {
		t.Errorf("details URL = %q", runs[0].DetailsURL)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the worker did not exit after SIGTERM")
	}
	// The output is complete once the process has exited.
	// Every log line is Cloud Logging JSON carrying the request's labels.
	sawLabels := false
	sc := bufio.NewScanner(strings.NewReader(p.output()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if l, ok := rec["logging.googleapis.com/labels"].(map[string]any); ok && l["sha"] == testSHA && l["delivery_id"] == "101" {
			sawLabels = true
		}
	}
	if !sawLabels {
		t.Error("no log record carried the sha and delivery_id labels")
	}
}

// TestCrashMidReconcile kills the worker (SIGKILL) between the annotation batches of its
// completed write; a restarted worker gets the message again and completes the same run,
// writing only the annotations that were missing.
func TestCrashMidReconcile(t *testing.T) {
	ctx := context.Background()
	emu := pubsubemu.Shared(t)
	project := emu.Project("crash")
	ps, err := emu.Client(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	topic, err := pubsubemu.CreateTopic(ctx, ps, "crash-topic")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := pubsubemu.CreateSubscription(ctx, ps, pubsubemu.SubscriptionConfig{ID: "crash-sub", Topic: topic, AckDeadline: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gh := seededGitHub(t)
	// Slow GitHub down so the gap between the two annotation batches is wide enough to kill in.
	gh.SetLatency(400 * time.Millisecond)
	env := append(appEnv(gh), "LOG_LEVEL=debug", "PUBSUB_SUBSCRIPTION="+sub, "PUBSUB_EMULATOR_HOST="+emu.Host, "GOOGLE_CLOUD_PROJECT="+project)

	first := startWorker(t, env...)
	if _, err := pubsubemu.Publish(ctx, ps, topic, requestJSON(gh), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the first annotation batch", func() bool {
		runs := gh.CheckRuns(testOwner, testRepo, testSHA)
		return len(runs) == 1 && runs[0].Status == "in_progress" && len(runs[0].Annotations) == 50
	})
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	runs := gh.CheckRuns(testOwner, testRepo, testSHA)
	if len(runs) != 1 || runs[0].Status != "in_progress" || len(runs[0].Annotations) != 50 {
		t.Fatalf("after the kill: %d runs, %s, %d annotations; the kill missed the window", len(runs), runs[0].Status, len(runs[0].Annotations))
	}

	gh.SetLatency(0)
	second := startWorker(t, env...)
	restarted := time.Now()
	defer func() {
		t.Logf("redelivered and completed %s after the restart", time.Since(restarted).Round(time.Millisecond))
		if t.Failed() {
			for _, r := range gh.Requests() {
				t.Logf("github: %s %s -> %d", r.Method, r.Path, r.Status)
			}
		}
	}()
	// The emulator usually redelivers within a second of the kill (the stream broke), but
	// on a loaded machine it has been seen to wait for the lease to lapse and then some:
	// the deadline is generous because only the outcome is asserted, never the time.
	waitFor(t, 5*time.Minute, "the restarted worker to complete the run", func() bool {
		runs := gh.CheckRuns(testOwner, testRepo, testSHA)
		return len(runs) > 0 && runs[len(runs)-1].Status == "completed"
	})
	oneRunEveryAnnotationOnce(t, gh)
	second.cmd.Process.Signal(syscall.SIGTERM)
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("restarted worker after SIGTERM: %v, want exit 0", err)
	}
}

// The production binary links no test code: the GitHub fake, pstest and the testing
// packages belong to ./cmd/local and the tests.
func TestBinaryLinksNoTestCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "testing" || strings.HasPrefix(dep, "testing/") || dep == "net/http/httptest" ||
			strings.HasSuffix(dep, "/pstest") || strings.HasSuffix(dep, "/githubtest") || strings.HasSuffix(dep, "/cloudlogtest") {
			t.Errorf("./cmd/worker links %s", dep)
		}
	}
}

// oneRunEveryAnnotationOnce checks what seededGitHub's commit must end with, however many
// workers were killed on the way: one check run, completed as a failure, with each of its
// 100 annotations exactly once.
func oneRunEveryAnnotationOnce(t *testing.T, gh *githubtest.Server) {
	t.Helper()
	runs := gh.CheckRuns(testOwner, testRepo, testSHA)
	if len(runs) != 1 {
		t.Fatalf("%d check runs, want exactly one", len(runs))
	}
	if runs[0].Conclusion != "failure" || len(runs[0].Annotations) != 100 {
		t.Fatalf("run: %s, %d annotations; want failure with 100", runs[0].Conclusion, len(runs[0].Annotations))
	}
	seen := map[string]bool{}
	for _, a := range runs[0].Annotations {
		k := fmt.Sprintf("%s:%d", a.GetPath(), a.GetStartLine())
		if seen[k] {
			t.Fatalf("annotation %s written twice", k)
		}
		seen[k] = true
	}
}
