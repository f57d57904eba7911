package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
	"github.com/prreconciler/prreconciler/webhook"
)

const (
	ingressSecret   = "ingress test secret, current"
	ingressPrevious = "ingress test secret, previous"
)

// examplePayload reads one of GitHub's example deliveries (webhook/testdata).
func examplePayload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "webhook", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startIngress starts the binary in MODE=ingress publishing to topic, with none of the
// GitHub App's variables, and waits for its /healthz. It returns its base URL.
func startIngress(t *testing.T, emuHost, project, topic string, extra ...string) (string, *process) {
	t.Helper()
	port := freePort(t)
	env := append([]string{"MODE=ingress", "PORT=" + strconv.Itoa(port), "WEBHOOK_SECRET=" + ingressSecret,
		"WEBHOOK_SECRET_PREVIOUS=" + ingressPrevious, "RELAY_TOPIC=" + topic, "PUBSUB_EMULATOR_HOST=" + emuHost,
		"GOOGLE_CLOUD_PROJECT=" + project, "LOG_DESTINATION=stdout", "SHUTDOWN_GRACE=2s"}, extra...)
	p := startWorker(t, env...)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, 30*time.Second, "the ingress's /healthz", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return base, p
}

// deliver posts body to the ingress as GitHub delivers event, signed with signature ("" for
// none), and returns the status.
func deliver(t *testing.T, base, event, delivery string, body []byte, signature string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/webhook", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/044aadd")
	if event != "" {
		req.Header.Set(webhook.HeaderEvent, event)
	}
	if delivery != "" {
		req.Header.Set(webhook.HeaderDelivery, delivery)
	}
	if signature != "" {
		req.Header.Set(webhook.HeaderSignature, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /webhook: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestBinaryIngressToCheckRun is the whole path from a GitHub delivery to a check run, with
// the binary twice: an ingress process (MODE=ingress, no App) takes GitHub's real
// pull_request opened delivery, signed, and publishes it to the relay topic; a worker process
// pulls it on the intake subscription, publishes the request to the ordered reconcile topic,
// pulls that and completes the check run on the GitHub fake.
func TestBinaryIngressToCheckRun(t *testing.T) {
	ctx := context.Background()
	emu := pubsubemu.Shared(t)
	project := emu.Project("ingress-e2e")
	ps, err := emu.Client(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := pubsubemu.CreateTopic(ctx, ps, "github-events")
	if err != nil {
		t.Fatal(err)
	}
	reconcileTopic, err := pubsubemu.CreateTopic(ctx, ps, "reconcile")
	if err != nil {
		t.Fatal(err)
	}
	intake, err := pubsubemu.CreateSubscription(ctx, ps, pubsubemu.SubscriptionConfig{ID: "intake", Topic: relay, AckDeadline: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	reconcileSub, err := pubsubemu.CreateSubscription(ctx, ps, pubsubemu.SubscriptionConfig{ID: "reconcile", Topic: reconcileTopic, AckDeadline: 60 * time.Second, Ordered: true})
	if err != nil {
		t.Fatal(err)
	}

	// GitHub's example: Codertocat/Hello-World#2 at ec26c3e, on github.com (the fake's web host).
	const owner, repo, sha = "Codertocat", "Hello-World", "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	gh := githubtest.NewTestServer(t)
	gh.AddRepo(owner, repo)
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 2, HeadSHA: sha, BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", Files: hundredMarkers()})
	// The one change to GitHub's payload: its installation id is the fake's (GitHub's example
	// says 1; the fake numbers installations from 1001), or no token could be had for it.
	var payload map[string]any
	if err := json.Unmarshal(examplePayload(t, "pull_request.opened.json"), &payload); err != nil {
		t.Fatal(err)
	}
	payload["installation"].(map[string]any)["id"] = gh.InstallationID(gh.App(), owner)
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}

	w := startWorker(t, append(appEnv(gh), "INTAKE_SUBSCRIPTION="+intake, "PUBSUB_SUBSCRIPTION="+reconcileSub,
		"RECONCILE_TOPIC="+reconcileTopic, "PUBSUB_EMULATOR_HOST="+emu.Host, "GOOGLE_CLOUD_PROJECT="+project)...)
	base, ing := startIngress(t, emu.Host, project, relay)

	// The public service serves nothing of the worker's.
	for _, path := range []string{"/intake", "/reconcile", "/", "/webhook/x"} {
		resp, err := http.Post(base+path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s answered %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, err := http.Get(base + "/webhook"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /webhook answered %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}

	start := time.Now()
	if got := deliver(t, base, "pull_request", "e2e-delivery-1", body, webhook.Sign(body, ingressSecret)); got != http.StatusOK {
		t.Fatalf("the delivery was answered %d, want 200", got)
	}
	t.Logf("delivery answered 200 after %s", time.Since(start).Round(time.Millisecond))
	waitFor(t, 60*time.Second, "the completed check run", func() bool {
		runs := gh.CheckRuns(owner, repo, sha)
		return len(runs) == 1 && runs[0].Status == "completed"
	})
	t.Logf("check run completed %s after the delivery", time.Since(start).Round(time.Millisecond))
	runs := gh.CheckRuns(owner, repo, sha)
	if runs[0].Conclusion != "failure" || len(runs[0].Annotations) != 100 || runs[0].Name != "diff-hygiene" {
		t.Errorf("run %s %s with %d annotations", runs[0].Name, runs[0].Conclusion, len(runs[0].Annotations))
	}

	for _, p := range []*process{ing, w} {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("after SIGTERM: %v, want exit 0", err)
		}
	}
	out := ing.output()
	if n := strings.Count(out, `"outcome":"published"`); n != 1 {
		t.Errorf("%d published records in the ingress's log, want 1:\n%s", n, out)
	}
	for _, want := range []string{`"delivery_id":"e2e-delivery-1"`, `"repository":"Codertocat/Hello-World"`, `"action":"opened"`, `"event":"pull_request"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the ingress's log lacks %s", want)
		}
	}
	if strings.Contains(out, ingressSecret) || strings.Contains(out, ingressPrevious) || strings.Contains(out, "Codertocat/Hello-World/pull") {
		t.Errorf("the ingress's log carries a secret or the body:\n%s", out)
	}
	if !strings.Contains(w.output(), "e2e-delivery-1") {
		t.Error("the worker's log does not name the GitHub delivery")
	}
}

// TestBinaryIngressRefusals posts GitHub's real payload to the ingress binary in each way a
// delivery is refused or accepted, and reads the relay topic: only the accepted deliveries
// are on it.
func TestBinaryIngressRefusals(t *testing.T) {
	ctx := context.Background()
	emu := pubsubemu.Shared(t)
	project := emu.Project("ingress-refusals")
	ps, err := emu.Client(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := pubsubemu.CreateTopic(ctx, ps, "github-events")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := pubsubemu.CreateSubscription(ctx, ps, pubsubemu.SubscriptionConfig{ID: "observer", Topic: relay})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := startIngress(t, emu.Host, project, relay)

	body := examplePayload(t, "pull_request.synchronize.json")
	ghes := examplePayload(t, "ghes-3.5.pull_request.opened.json")
	changed := bytes.Replace(body, []byte(`"synchronize"`), []byte(`"opened"`), 1)
	big := bytes.Repeat([]byte(" "), webhook.MaxBodyBytes+1)
	good := webhook.Sign(body, ingressSecret)
	tests := []struct {
		name, event, delivery string
		body                  []byte
		sig                   string
		want                  int
		published             bool
	}{
		{"wrong signature", "pull_request", "d-wrong", body, webhook.Sign(body, "not our secret"), 401, false},
		{"no signature", "pull_request", "d-none", body, "", 401, false},
		{"body changed after signing", "pull_request", "d-changed", changed, good, 401, false},
		{"signed with the previous secret, during a rotation", "pull_request", "d-previous", body, webhook.Sign(body, ingressPrevious), 200, true},
		{"no X-GitHub-Event", "", "d-noevent", body, good, 400, false},
		{"no X-GitHub-Delivery", "pull_request", "", body, good, 400, false},
		{"over 25 MB", "pull_request", "d-big", big, webhook.Sign(big, ingressSecret), 413, false},
		{"ping", "ping", "d-ping", body, good, 200, false},
		{"GitHub Enterprise", "pull_request", "d-ghes", ghes, webhook.Sign(ghes, ingressSecret), 200, true},
		{"signed with the secret (last: all before it are on the topic when it is)", "pull_request", "d-last", body, good, 200, true},
	}
	for _, tt := range tests {
		if got := deliver(t, base, tt.event, tt.delivery, tt.body, tt.sig); got != tt.want {
			t.Errorf("%s: answered %d, want %d", tt.name, got, tt.want)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var lastAt time.Time
	err = ps.Subscriber(sub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		seen[m.Attributes["ce-id"]]++
		if m.Attributes["ce-id"] == "d-last" && lastAt.IsZero() {
			lastAt = time.Now()
			// A refused delivery published by mistake would be on the topic by now; wait a
			// little longer for one all the same.
			time.AfterFunc(time.Second, cancel)
		}
	})
	if err != nil && rctx.Err() == nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		want := 0
		if tt.published {
			want = 1
		}
		if got := seen[tt.delivery]; got != want {
			t.Errorf("%s: %d messages of delivery %q on the relay topic, want %d", tt.name, got, tt.delivery, want)
		}
	}
	if len(seen) != 3 {
		t.Errorf("the relay topic has the deliveries %v, want d-previous, d-ghes and d-last", seen)
	}
}

// TestBinaryIngressPublishFails: a publish that cannot succeed is answered 5xx within the
// publish deadline, so GitHub records a failed delivery (worker redeliver asks for it again):
// the topic does not exist, or the Pub/Sub service is gone.
func TestBinaryIngressPublishFails(t *testing.T) {
	const deadline = 2 * time.Second
	body := examplePayload(t, "pull_request.opened.json")
	check := func(t *testing.T, base string) {
		t.Helper()
		start := time.Now()
		got := deliver(t, base, "pull_request", "d-fails", body, webhook.Sign(body, ingressSecret))
		took := time.Since(start)
		if got < 500 || got > 599 {
			t.Errorf("answered %d, want a 5xx", got)
		}
		// The deadline plus a margin for a loaded machine: well within GitHub's 10 s.
		if took > deadline+2*time.Second {
			t.Errorf("answered after %s; the publish deadline is %s", took, deadline)
		}
		t.Logf("answered %d after %s", got, took.Round(time.Millisecond))
	}
	t.Run("topic missing", func(t *testing.T) {
		emu := pubsubemu.Shared(t)
		project := emu.Project("ingress-missing")
		base, _ := startIngress(t, emu.Host, project, "projects/"+project+"/topics/never-created", "WEBHOOK_PUBLISH_TIMEOUT="+deadline.String())
		check(t, base)
	})
	t.Run("emulator stopped", func(t *testing.T) {
		ctx := context.Background()
		emu := pubsubemu.Start(t) // its own: this one is stopped
		project := emu.Project("ingress-stopped")
		ps, err := emu.Client(ctx, project)
		if err != nil {
			t.Fatal(err)
		}
		relay, err := pubsubemu.CreateTopic(ctx, ps, "github-events")
		if err != nil {
			t.Fatal(err)
		}
		base, _ := startIngress(t, emu.Host, project, relay, "WEBHOOK_PUBLISH_TIMEOUT="+deadline.String())
		if got := deliver(t, base, "pull_request", "d-before", body, webhook.Sign(body, ingressSecret)); got != 200 {
			t.Fatalf("before the stop: answered %d", got)
		}
		emu.Stop()
		check(t, base)
	})
}

// TestBinaryIngressNeedsItsVariables: MODE=ingress starts without the App, and refuses to
// start without its own variables, naming each.
func TestBinaryIngressNeedsItsVariables(t *testing.T) {
	cmd := startWorker(t, "MODE=ingress", "WEBHOOK_PUBLISH_TIMEOUT=12s", "WEBHOOK_SECRET_PREVIOUS=hush-hush-previous")
	err := cmd.cmd.Wait()
	if err == nil {
		t.Fatal("started")
	}
	for _, want := range []string{"WEBHOOK_SECRET:", "RELAY_TOPIC", "WEBHOOK_PUBLISH_TIMEOUT"} {
		if !strings.Contains(cmd.output(), want) {
			t.Errorf("output %q does not name %s", cmd.output(), want)
		}
	}
	for _, not := range []string{"GITHUB_APP_ID", "IDENTITY", "hush-hush"} {
		if strings.Contains(cmd.output(), not) {
			t.Errorf("output %q names %s", cmd.output(), not)
		}
	}
}
