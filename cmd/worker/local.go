package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/statusmanager/githubtest"
	"github.com/prreconciler/prreconciler/worker"
)

// The local run's embedded defaults.
const (
	localProject  = "local-project"
	localTopic    = "projects/" + localProject + "/topics/github-events"
	localSub      = "projects/" + localProject + "/subscriptions/worker"
	localDLQ      = "projects/" + localProject + "/topics/github-events-dead-letter"
	localDLQSub   = "projects/" + localProject + "/subscriptions/github-events-dead-letter"
	localIdentity = "diff-hygiene"
	localOwner    = "octo-org"
	localRepo     = "hello-world"
	localPR       = 7
	localSHA1     = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	localSHA2     = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
	localAttempts = 5
)

// runLocal runs the whole pipeline in this process on embedded defaults: pstest as Pub/Sub,
// the GitHub fake seeded with a pull request whose diff has findings, and the real worker
// pulling in between. It needs no credentials and nothing installed.
func runLocal(ctx context.Context, out io.Writer, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("local takes no arguments, got %q", args)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	say := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }

	say("== Starting an in-process GitHub (fake) and Pub/Sub (pstest)")
	gh := githubtest.NewServer()
	defer gh.Close()
	gh.AddRepo(localOwner, localRepo)
	gh.AddPullRequest(localOwner, localRepo, githubtest.PullRequest{
		Number: localPR, Title: "Add the greeting service", HeadSHA: localSHA1, HeadRef: "greeting", BaseRef: "main",
		Files: localFiles(),
	})
	say("   GitHub fake at %s: %s/%s#%d at %.12s, %d changed files", gh.URL(), localOwner, localRepo, localPR, localSHA1, len(localFiles()))

	ps := pstest.NewServer()
	defer ps.Close()
	conn, err := grpc.NewClient(ps.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("local pubsub: %w", err)
	}
	defer conn.Close()
	client, err := pubsub.NewClient(ctx, localProject, option.WithGRPCConn(conn))
	if err != nil {
		return fmt.Errorf("local pubsub: %w", err)
	}
	defer client.Close()
	if err := createLocalTopology(ctx, client); err != nil {
		return err
	}
	say("   Pub/Sub: topic %s, subscription %s (dead letter after %d attempts to %s)", localTopic, localSub, localAttempts, localDLQ)

	cfg := &config.Worker{
		AppID: gh.App().ID, PrivateKey: string(gh.App().PrivateKeyPEM), APIURL: gh.URL() + "/",
		Identity: localIdentity, MaxInFlight: 4, ReconcileTimeout: 30 * time.Second, ShutdownGrace: 5 * time.Second,
		MaxDeliveryAttempts: localAttempts, RetryBudget: 10 * time.Second, RelayTypePrefix: events.DefaultTypePrefix,
		MaxFileBytes: hygiene.DefaultMaxFileBytes, MaxFileLines: 200, Port: 8080, LogLevel: "warn",
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	// The worker's own records (Cloud Logging JSON in production) would repeat what the
	// outcome lines below say; set LOG_LEVEL=debug to see them.
	logger := slog.New(slog.DiscardHandler)
	if lvl := os.Getenv("LOG_LEVEL"); lvl != "" {
		logger = newLogger(out, lvl)
	}
	w, err := newWorker(ctx, cfg, "", "", logger)
	if err != nil {
		return err
	}
	outcomes := newOutcomeLog()
	w.OnOutcome = outcomes.record

	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	done := make(chan error, 1)
	go func() {
		done <- w.Pull(wctx, client.Subscriber(localSub), worker.PullOptions{MaxInFlight: cfg.MaxInFlight, ShutdownGrace: cfg.ShutdownGrace})
	}()
	say("== Worker %q pulling from %s (App %d)", localIdentity, localSub, cfg.AppID)

	pub := client.Publisher(localTopic)
	defer pub.Stop()
	publish := func(what string, m *pubsub.Message) (string, error) {
		id, err := pub.Publish(ctx, m).Get(ctx)
		if err != nil {
			return "", fmt.Errorf("publish %s: %w", what, err)
		}
		say("\n-> published %s (message %s)", what, id)
		return id, nil
	}
	request := func(sha string) *pubsub.Message {
		b, _ := json.Marshal(map[string]any{"owner": localOwner, "repo": localRepo, "sha": sha,
			"url": fmt.Sprintf("%s/%s/%s/pull/%d", gh.WebURL(), localOwner, localRepo, localPR)})
		return &pubsub.Message{Data: b}
	}

	steps := []struct {
		what string
		msg  func() *pubsub.Message
		want func(events.Message, worker.Outcome) bool
	}{
		{"a reconcile request for " + localSHA1[:12], func() *pubsub.Message { return request(localSHA1) }, final},
		{"the same request again (a duplicate)", func() *pubsub.Message { return request(localSHA1) }, final},
		{"a webhook-relay pull_request synchronize event for " + localSHA2[:12], func() *pubsub.Message {
			gh.PushHead(localOwner, localRepo, localPR, localSHA2, localFiles()[:2])
			return synchronizeEvent(gh)
		}, final},
		{"a malformed message", func() *pubsub.Message {
			return &pubsub.Message{Data: []byte(`{"owner":"octo-org","repo":"../etc","sha":"xyz"}`)}
		}, nil},
	}
	for _, step := range steps {
		id, err := publish(step.what, step.msg())
		if err != nil {
			return err
		}
		if step.want == nil {
			// Invalid messages are nacked, never acked silently, until the subscription's
			// dead-letter policy moves them aside.
			if err := waitDeadLetter(ctx, client, id, outcomes, say); err != nil {
				return err
			}
			continue
		}
		if err := outcomes.wait(ctx, id, say); err != nil {
			return err
		}
	}

	stopWorker()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("worker: %w", err)
	}

	say("\n== Check runs on %s/%s", localOwner, localRepo)
	for _, sha := range []string{localSHA1, localSHA2} {
		for _, r := range gh.CheckRuns(localOwner, localRepo, sha) {
			say("   %-13s %.12s  %-11s %-8s %-32q %d annotations", r.Name, r.HeadSHA, r.Status, r.Conclusion, r.Title, len(r.Annotations))
		}
	}
	if runs := gh.CheckRuns(localOwner, localRepo, localSHA1); len(runs) > 0 {
		say("\n   annotations of the run on %.12s:", localSHA1)
		for _, a := range runs[0].Annotations {
			say("   %-8s %s:%d  %s", a.GetAnnotationLevel(), a.GetPath(), a.GetStartLine(), a.GetMessage())
		}
	}
	say("\n== Pointing the same binary at a real GitHub App and subscription")
	say(`   GITHUB_APP_ID=<app id> GITHUB_APP_PRIVATE_KEY_FILE=<key.pem> IDENTITY=diff-hygiene \
   GOOGLE_CLOUD_PROJECT=<project> PUBSUB_SUBSCRIPTION=<subscription> go run ./cmd/worker
   (without PUBSUB_SUBSCRIPTION it serves Pub/Sub pushes on PORT, as on Cloud Run; see README "Configuration" and "Deploy")`)
	return nil
}

func final(events.Message, worker.Outcome) bool { return true }

func createLocalTopology(ctx context.Context, c *pubsub.Client) error {
	for _, t := range []string{localTopic, localDLQ} {
		if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: t}); err != nil {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	subs := []*pubsubpb.Subscription{
		{Name: localSub, Topic: localTopic, AckDeadlineSeconds: 60,
			DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{DeadLetterTopic: localDLQ, MaxDeliveryAttempts: localAttempts}},
		{Name: localDLQSub, Topic: localDLQ, AckDeadlineSeconds: 10},
	}
	for _, s := range subs {
		if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, s); err != nil {
			return fmt.Errorf("create subscription %s: %w", s.Name, err)
		}
	}
	return nil
}

// outcomeLog collects the worker's outcome of each message, so the run can wait for one
// and print it.
type outcomeLog struct {
	mu      sync.Mutex
	changed chan struct{}
	seen    map[string][]string
}

func newOutcomeLog() *outcomeLog {
	return &outcomeLog{changed: make(chan struct{}), seen: map[string][]string{}}
}

// outcomeNotes say what an outcome means on GitHub, for the local run's reader.
var outcomeNotes = map[worker.Outcome]string{
	worker.OutcomeReconciled: "check run written in_progress, then completed; acked",
	worker.OutcomeSkipped:    "completed at this SHA already, nothing written; acked",
	worker.OutcomeIgnored:    "not an event we reconcile; acked",
}

func (l *outcomeLog) record(m *events.Message, o worker.Outcome, err error) {
	line := string(o)
	if err != nil {
		line += ": " + err.Error()
	} else if note := outcomeNotes[o]; note != "" {
		line += " (" + note + ")"
	}
	l.mu.Lock()
	l.seen[m.ID] = append(l.seen[m.ID], line)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// wait prints the outcomes of message id until one says it may be acked.
func (l *outcomeLog) wait(ctx context.Context, id string, say func(string, ...any)) error {
	printed := 0
	for {
		l.mu.Lock()
		lines, ch := l.seen[id], l.changed
		l.mu.Unlock()
		for ; printed < len(lines); printed++ {
			say("   attempt %d: %s", printed+1, lines[printed])
			if acked(lines[printed]) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("message %s: %w", id, ctx.Err())
		case <-ch:
		}
	}
}

func acked(line string) bool {
	for _, o := range []worker.Outcome{worker.OutcomeReconciled, worker.OutcomeSkipped, worker.OutcomeIgnored, worker.OutcomeFailed, worker.OutcomeGaveUp} {
		if strings.HasPrefix(line, string(o)) {
			return true
		}
	}
	return false
}

// waitDeadLetter prints the rejections of message id and waits for it on the dead-letter
// subscription.
func waitDeadLetter(ctx context.Context, c *pubsub.Client, id string, outcomes *outcomeLog, say func(string, ...any)) error {
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var got *pubsub.Message
	var once sync.Once
	err := c.Subscriber(localDLQSub).Receive(dctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		once.Do(func() { got = m; cancel() })
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("dead-letter subscription: %w", err)
	}
	outcomes.mu.Lock()
	lines := outcomes.seen[id]
	outcomes.mu.Unlock()
	for i, line := range lines {
		say("   attempt %d: %s", i+1, line)
	}
	if got == nil {
		return fmt.Errorf("message %s did not reach the dead-letter topic", id)
	}
	say("   dead-lettered to %s after %d attempts: %q", localDLQ, len(lines), got.Data)
	return nil
}

// synchronizeEvent is what the webhook relay publishes when the PR's branch gets a new
// commit: a CloudEvent in Pub/Sub's binding around the GitHub webhook.
func synchronizeEvent(gh *githubtest.Server) *pubsub.Message {
	prURL := fmt.Sprintf("%s/%s/%s/pull/%d", gh.WebURL(), localOwner, localRepo, localPR)
	body := map[string]any{
		"action": "synchronize", "number": localPR, "before": localSHA1, "after": localSHA2,
		"pull_request": map[string]any{"number": localPR, "html_url": prURL, "state": "open",
			"head": map[string]any{"sha": localSHA2, "ref": "greeting"}},
		"repository": map[string]any{"id": 1, "name": localRepo, "full_name": localOwner + "/" + localRepo,
			"html_url": gh.WebURL() + "/" + localOwner + "/" + localRepo, "owner": map[string]any{"login": localOwner}},
		"installation": map[string]any{"id": gh.InstallationID(gh.App(), localOwner)},
	}
	data, _ := json.Marshal(map[string]any{
		"when":    time.Now().UTC().Format(time.RFC3339),
		"headers": map[string]any{"event": "pull_request", "delivery_id": "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		"body":    body,
	})
	return &pubsub.Message{Data: data, Attributes: map[string]string{
		"ce-id": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "ce-type": events.DefaultTypePrefix + ".pull_request",
		"ce-subject": localOwner + "/" + localRepo, "ce-action": "synchronize", "ce-pullrequesturl": prURL,
	}}
}

// localFiles is the seeded pull request's diff: a conflict marker left in, a committed key,
// a file over the local line limit, and a clean one.
func localFiles() []githubtest.File {
	var big strings.Builder
	big.WriteString("@@ -0,0 +1,250 @@\n")
	for i := 1; i <= 250; i++ {
		fmt.Fprintf(&big, "+fixture line %d\n", i)
	}
	// The key header is assembled so this source file itself does not look like a key.
	keyHeader := "-----BEGIN " + "RSA PRIVATE KEY-----"
	return []githubtest.File{
		{Filename: "greeting/greeting.go", Status: "modified", Patch: "@@ -1,5 +1,9 @@\n package greeting\n \n func Hello() string {\n+<<<<<<< HEAD\n \treturn \"hello\"\n+=======\n+\treturn \"hi\"\n+>>>>>>> feature\n }"},
		{Filename: "deploy/key.pem", Status: "added", Patch: "@@ -0,0 +1,3 @@\n+" + keyHeader + "\n+MIIEowIBAAKCAQEAnotarealkeynotarealkey\n+-----END " + "RSA PRIVATE KEY-----"},
		{Filename: "testdata/fixture.txt", Status: "added", Patch: strings.TrimSuffix(big.String(), "\n")},
		{Filename: "README.md", Status: "modified", Patch: "@@ -1,2 +1,3 @@\n # hello-world\n+Greets people.\n \n"},
	}
}
