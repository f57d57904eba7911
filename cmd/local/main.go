// Command local runs the whole pipeline of cmd/worker in one process on embedded defaults (it
// is `make local`): an in-process Pub/Sub (pstest) with the deployed topology, the GitHub fake
// seeded with a pull request whose diff has findings, the webhook ingress (MODE=ingress) that
// takes the first event as a signed GitHub delivery, and both stages of the real diff hygiene
// worker, started by worker.Start from the same environment variables as the deployed binary.
// It needs no credentials and nothing installed. It is a command of its own so that the
// production binary links neither pstest nor the fake.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/sethvargo/go-envconfig"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/webhook"
	"github.com/prreconciler/prreconciler/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := runLocal(ctx, os.Stdout, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

// The local run's embedded defaults: the deployed topology in one process.
const (
	localProject        = "local-project"
	localRelayTopic     = "projects/" + localProject + "/topics/github-events"
	localIntakeSub      = "projects/" + localProject + "/subscriptions/intake"
	localReconcileTopic = "projects/" + localProject + "/topics/reconcile"
	localReconcileSub   = "projects/" + localProject + "/subscriptions/reconcile"
	localDLQ            = "projects/" + localProject + "/topics/dead-letter"
	localDLQSub         = "projects/" + localProject + "/subscriptions/dead-letter"
	localIdentity       = "diff-hygiene"
	localOwner          = "octo-org"
	localRepo           = "hello-world"
	localPR             = 7
	localSHA1           = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	localSHA2           = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
	localAttempts       = 5
	localLatency        = 50 * time.Millisecond
	// localWebhookSecret is the local App's webhook secret: the local GitHub delivery is
	// signed with it, as GitHub signs with the one in the App's settings.
	localWebhookSecret = "local webhook secret"
)

// synchronizePayload is GitHub's own example pull_request synchronize delivery (octokit/webhooks
// payload-examples, as in webhook/testdata).
//
//go:embed payloads/pull_request.synchronize.json
var synchronizePayload []byte

// runLocal runs the whole pipeline in this process on embedded defaults: pstest as Pub/Sub
// (a relay topic with its intake subscription, an ordered reconcile topic and its
// subscription, a dead-letter topic), the GitHub fake seeded with a pull request whose diff
// has findings, and both stages of the real worker (worker.Start of hygiene.App, the
// process cmd/worker runs) pulling in between.
func runLocal(ctx context.Context, out io.Writer, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("local takes no arguments, got %q", args)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	say := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }

	say("== Starting an in-process GitHub (fake) and Pub/Sub (pstest)")
	gh := githubtest.NewServer(githubtest.WithLatency(localLatency))
	defer gh.Close()
	gh.AddRepo(localOwner, localRepo)
	gh.AddPullRequest(localOwner, localRepo, githubtest.PullRequest{
		Number: localPR, Title: "Add the greeting service", HeadSHA: localSHA1, HeadRef: "greeting", BaseRef: "main",
		Files: localFiles(),
	})
	say("   GitHub fake at %s (answering in %s): %s/%s#%d at %.12s, %d changed files", gh.URL(), localLatency, localOwner, localRepo, localPR, localSHA1, len(localFiles()))

	ps := pstest.NewServer()
	defer ps.Close()
	conn, err := grpc.NewClient(ps.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("local pubsub: %w", err)
	}
	defer conn.Close()

	// The deployed binary's environment, as Cloud Run would give it, with the fake's App.
	vars := map[string]string{
		"GITHUB_APP_ID": strconv.FormatInt(gh.App().ID, 10), "GITHUB_APP_PRIVATE_KEY": string(gh.App().PrivateKeyPEM),
		"GITHUB_API_URL": gh.URL() + "/", "IDENTITY": localIdentity, "MAX_IN_FLIGHT": "4", "RECONCILE_TIMEOUT": "30s",
		"SHUTDOWN_GRACE": "5s", "MAX_DELIVERY_ATTEMPTS": strconv.Itoa(localAttempts), "GITHUB_RETRY_BUDGET": "10s",
		"ACK_DEADLINE": "3m", "RETRY_MINIMUM_BACKOFF": "1s", "RETRY_MAXIMUM_BACKOFF": "1s", "HYGIENE_MAX_FILE_LINES": "200",
		"PUBSUB_SUBSCRIPTION": localReconcileSub, "INTAKE_SUBSCRIPTION": localIntakeSub, "RECONCILE_TOPIC": localReconcileTopic,
		// pstest redelivers at once, whatever the retry policy says: no window to check.
		"MIN_RETRY_WINDOW": "0",
		// The worker's own records (Cloud Logging JSON in production) would repeat what the
		// outcome lines below say; set LOG_LEVEL=debug to see them.
		"LOG_LEVEL": "warn", "LOG_DESTINATION": "stdout",
	}
	logs := io.Discard
	if lvl := os.Getenv("LOG_LEVEL"); lvl != "" {
		vars["LOG_LEVEL"], logs = lvl, out
	}
	p, err := worker.Start(ctx, hygiene.App(), worker.Env{
		Lookuper: envconfig.MapLookuper(vars), Stdout: logs,
		Cloud:         cloudlog.Env{Getenv: func(k string) string { return vars[k] }}, // not on Google Cloud
		PubSubOptions: []option.ClientOption{option.WithGRPCConn(conn)},
	})
	if err != nil {
		return err
	}
	defer p.Close()
	client := p.PubSub
	if err := createLocalTopology(ctx, client); err != nil {
		return err
	}
	say("   Pub/Sub: relay topic %s → intake subscription %s", localRelayTopic, localIntakeSub)
	say("            reconcile topic %s → ordered subscription %s (one message per commit at a time)", localReconcileTopic, localReconcileSub)
	say("            both dead-letter to %s after %d attempts", localDLQ, localAttempts)

	// The webhook ingress: the same binary in MODE=ingress, with none of the App's variables,
	// publishing GitHub's deliveries to the relay topic; served on loopback as Cloud Run would.
	ingressVars := map[string]string{"MODE": "ingress", "WEBHOOK_SECRET": localWebhookSecret, "RELAY_TOPIC": localRelayTopic,
		"WEBHOOK_PUBLISH_TIMEOUT": "8s", "LOG_LEVEL": vars["LOG_LEVEL"], "LOG_DESTINATION": "stdout"}
	ing, err := worker.Start(ctx, hygiene.App(), worker.Env{
		Lookuper: envconfig.MapLookuper(ingressVars), Stdout: logs,
		Cloud:         cloudlog.Env{Getenv: func(k string) string { return ingressVars[k] }},
		PubSubOptions: []option.ClientOption{option.WithGRPCConn(conn)},
	})
	if err != nil {
		return fmt.Errorf("webhook ingress: %w", err)
	}
	defer ing.Close()
	ingress := httptest.NewServer(worker.IngressHandler(ing.Webhook))
	defer ingress.Close()
	say("   webhook ingress (MODE=ingress) at %s/webhook → relay topic %s", ingress.URL, localRelayTopic)

	outcomes := newOutcomeLog(say)
	p.Worker.OnOutcome = outcomes.recorder("reconcile")
	p.Intake.OnOutcome = outcomes.recorder("intake")
	reconcilePub := client.Publisher(localReconcileTopic)
	reconcilePub.EnableMessageOrdering = true
	defer reconcilePub.Stop()

	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	done := make(chan error, 1)
	go func() { done <- p.Serve(wctx) }()
	say("== Worker %q: the intake stage pulling %s, the reconcile stage pulling %s (App %d)", localIdentity, localIntakeSub, localReconcileSub, p.Config.AppID)

	relayPub := client.Publisher(localRelayTopic)
	defer relayPub.Stop()
	publish := func(pub *pubsub.Publisher, what string, m *pubsub.Message) (string, error) {
		id, err := pub.Publish(ctx, m).Get(ctx)
		if err != nil {
			return "", fmt.Errorf("publish %s: %w", what, err)
		}
		say("-> published %s: message %s", what, id)
		return id, nil
	}
	twin := events.Request{Resource: events.Resource{Owner: localOwner, Repo: localRepo,
		URL: fmt.Sprintf("%s/%s/%s/pull/%d", gh.WebURL(), localOwner, localRepo, localPR)}, SHA: localSHA1}
	twinData, err := twin.MarshalJSON()
	if err != nil {
		return err
	}

	say("\n== 1. GitHub delivers a commit's pull_request event to the webhook ingress, and at the same moment a reconcile request for the same commit is published")
	status, answer, err := deliverWebhook(ctx, ingress.URL+"/webhook", gh, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	if err != nil {
		return err
	}
	say("-> GitHub delivery pull_request synchronize for %s, signed (X-Hub-Signature-256), POST /webhook: %d %s", localSHA1[:12], status, answer)
	if status != http.StatusOK {
		return fmt.Errorf("the webhook ingress answered %d %s", status, answer)
	}
	if _, err := publish(reconcilePub, fmt.Sprintf("its twin, a reconcile request, to the reconcile topic with ordering key %s", twin.OrderingKey()),
		&pubsub.Message{Data: twinData, OrderingKey: twin.OrderingKey()}); err != nil {
		return err
	}
	if err := outcomes.waitAcked(ctx, "reconcile", 2); err != nil {
		return err
	}
	if outcomes.count("reconcile", worker.OutcomeReconciled) == 1 && outcomes.count("reconcile", worker.OutcomeSkipped) == 1 {
		say("   one reconcile: the twin was delivered only once the first was acked, and found the commit completed")
	} else {
		say("   the twins were not serialized: the ordered subscription should have delivered one after the other")
	}

	say("\n== 2. The branch gets a new commit")
	gh.PushHead(localOwner, localRepo, localPR, localSHA2, localFiles()[:2])
	if _, err := publish(relayPub, "a relay pull_request synchronize event for "+localSHA2[:12],
		synchronizeEvent(gh, localSHA1, localSHA2, "8a1c52f6-cc78-11e3-81ab-4c9367dc0958")); err != nil {
		return err
	}
	if err := outcomes.waitAcked(ctx, "reconcile", 3); err != nil {
		return err
	}

	say("\n== 3. A malformed message on the relay topic")
	id, err := publish(relayPub, "a malformed message", &pubsub.Message{Data: []byte(`{"owner":"octo-org","repo":"../etc","sha":"xyz"}`)})
	if err != nil {
		return err
	}
	// Invalid messages are nacked, never acked silently, until the subscription's
	// dead-letter policy moves them aside.
	if err := waitDeadLetter(ctx, client, id, say); err != nil {
		return err
	}

	stopWorker()
	if err := <-done; err != nil {
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
	say("\n== Pointing the same binary at a real GitHub App and subscriptions")
	say(`   GITHUB_APP_ID=<app id> GITHUB_APP_PRIVATE_KEY_FILE=<key.pem> IDENTITY=diff-hygiene GOOGLE_CLOUD_PROJECT=<project> \
   INTAKE_SUBSCRIPTION=<relay topic's subscription> RECONCILE_TOPIC=<reconcile topic> \
   PUBSUB_SUBSCRIPTION=<reconcile topic's ordered subscription> go run ./cmd/worker
   (without the subscriptions it serves Pub/Sub pushes on PORT, as on Cloud Run; see README "Configuration" and "Deploy")
   MODE=ingress WEBHOOK_SECRET=<the App's webhook secret> RELAY_TOPIC=<relay topic> GOOGLE_CLOUD_PROJECT=<project> go run ./cmd/worker
   (the webhook ingress: the App's webhook URL is https://<its host>/webhook; it needs none of the App's other variables)`)
	return nil
}

func createLocalTopology(ctx context.Context, c *pubsub.Client) error {
	for _, t := range []string{localRelayTopic, localReconcileTopic, localDLQ} {
		if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: t}); err != nil {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	dlq := &pubsubpb.DeadLetterPolicy{DeadLetterTopic: localDLQ, MaxDeliveryAttempts: localAttempts}
	subs := []*pubsubpb.Subscription{
		{Name: localIntakeSub, Topic: localRelayTopic, AckDeadlineSeconds: 60, DeadLetterPolicy: dlq},
		{Name: localReconcileSub, Topic: localReconcileTopic, AckDeadlineSeconds: 60, DeadLetterPolicy: dlq, EnableMessageOrdering: true},
		{Name: localDLQSub, Topic: localDLQ, AckDeadlineSeconds: 10},
	}
	for _, s := range subs {
		if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, s); err != nil {
			return fmt.Errorf("create subscription %s: %w", s.Name, err)
		}
	}
	return nil
}

// outcomeLog prints each stage's outcome of each message as it happens, and lets the run
// wait for a number of acked messages of a stage.
type outcomeLog struct {
	say     func(string, ...any)
	start   time.Time
	mu      sync.Mutex
	changed chan struct{}
	acked   map[string]int
	counts  map[string]int      // stage + " " + outcome → messages
	seen    map[string][]string // message id → outcome lines
}

// count is how many messages of stage had outcome o.
func (l *outcomeLog) count(stage string, o worker.Outcome) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[stage+" "+string(o)]
}

func newOutcomeLog(say func(string, ...any)) *outcomeLog {
	return &outcomeLog{say: say, start: time.Now(), changed: make(chan struct{}), acked: map[string]int{}, counts: map[string]int{}, seen: map[string][]string{}}
}

// outcomeNotes say what an outcome means on GitHub, for the local run's reader.
var outcomeNotes = map[worker.Outcome]string{
	worker.OutcomeForwarded:  "published to the reconcile topic, ordering key = the commit; acked",
	worker.OutcomeReconciled: "check run written in_progress, then completed; acked",
	worker.OutcomeSkipped:    "completed at this SHA already, nothing written; acked",
	worker.OutcomeIgnored:    "not an event we reconcile; acked",
	worker.OutcomeInvalid:    "nacked: the dead-letter policy moves it after its attempts",
}

// recorder is the OnOutcome of one stage.
func (l *outcomeLog) recorder(stage string) func(*events.Message, worker.Outcome, error) {
	return func(m *events.Message, o worker.Outcome, err error) {
		what := describe(m)
		line := string(o)
		if note := outcomeNotes[o]; note != "" {
			line += " (" + note + ")"
		}
		if err != nil && o != worker.OutcomeInvalid {
			line += ": " + err.Error()
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.seen[m.ID] = append(l.seen[m.ID], line)
		l.say("   %5.2fs [%-9s] message %s, %s, attempt %d: %s", time.Since(l.start).Seconds(), stage, m.ID, what, len(l.seen[m.ID]), line)
		l.counts[stage+" "+string(o)]++
		if o.Ack() {
			l.acked[stage]++
		}
		close(l.changed)
		l.changed = make(chan struct{})
	}
}

// describe names what a message is about, for the reader.
func describe(m *events.Message) string {
	if t := m.Attributes["ce-type"]; t != "" {
		return fmt.Sprintf("relay %s %s", strings.TrimPrefix(t, events.DefaultTypePrefix+"."), m.Attributes["ce-action"])
	}
	res, err := (&events.Decoder{}).Decode(m)
	if err != nil || len(res.Requests) == 0 {
		return "unreadable"
	}
	return "request " + res.Requests[0].String()
}

// waitAcked waits until stage acked n messages in all.
func (l *outcomeLog) waitAcked(ctx context.Context, stage string, n int) error {
	for {
		l.mu.Lock()
		got, ch := l.acked[stage], l.changed
		l.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d acks of the %s stage (%d so far): %w", n, stage, got, ctx.Err())
		case <-ch:
		}
	}
}

// waitDeadLetter waits for message id on the dead-letter subscription.
func waitDeadLetter(ctx context.Context, c *pubsub.Client, id string, say func(string, ...any)) error {
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
	if got == nil {
		return fmt.Errorf("message %s did not reach the dead-letter topic", id)
	}
	say("   dead-lettered to %s after %d attempts: %q", localDLQ, localAttempts, got.Data)
	return nil
}

// deliverWebhook delivers GitHub's example pull_request synchronize payload to url as GitHub
// does, signed with the local webhook secret, and returns the answer. The payload's
// repository, pull request, head commit and installation are the local fake's; everything
// else is GitHub's example as it is.
func deliverWebhook(ctx context.Context, url string, gh *githubtest.Server, delivery string) (int, string, error) {
	var p map[string]any
	if err := json.Unmarshal(synchronizePayload, &p); err != nil {
		return 0, "", fmt.Errorf("example payload: %w", err)
	}
	repoURL := gh.WebURL() + "/" + localOwner + "/" + localRepo
	prURL := fmt.Sprintf("%s/pull/%d", repoURL, localPR)
	repo := p["repository"].(map[string]any)
	repo["name"], repo["full_name"], repo["html_url"] = localRepo, localOwner+"/"+localRepo, repoURL
	repo["owner"].(map[string]any)["login"] = localOwner
	pr := p["pull_request"].(map[string]any)
	pr["number"], pr["html_url"] = localPR, prURL
	pr["head"].(map[string]any)["sha"] = localSHA1
	p["number"], p["before"], p["after"] = localPR, "0000000000000000000000000000000000000000", localSHA1
	p["installation"].(map[string]any)["id"] = gh.InstallationID(gh.App(), localOwner)
	body, err := json.Marshal(p)
	if err != nil {
		return 0, "", fmt.Errorf("example payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/044aadd")
	req.Header.Set(webhook.HeaderEvent, "pull_request")
	req.Header.Set(webhook.HeaderDelivery, delivery)
	req.Header.Set(webhook.HeaderHookID, "1")
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(body, localWebhookSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("deliver to the webhook ingress: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return resp.StatusCode, strings.TrimSpace(string(answer)), nil
}

// synchronizeEvent is what the webhook relay publishes when the PR's branch gets a new
// commit: a CloudEvent in Pub/Sub's binding around the GitHub webhook.
func synchronizeEvent(gh *githubtest.Server, before, after, delivery string) *pubsub.Message {
	prURL := fmt.Sprintf("%s/%s/%s/pull/%d", gh.WebURL(), localOwner, localRepo, localPR)
	body := map[string]any{
		"action": "synchronize", "number": localPR, "before": before, "after": after,
		"pull_request": map[string]any{"number": localPR, "html_url": prURL, "state": "open",
			"head": map[string]any{"sha": after, "ref": "greeting"}},
		"repository": map[string]any{"id": 1, "name": localRepo, "full_name": localOwner + "/" + localRepo,
			"html_url": gh.WebURL() + "/" + localOwner + "/" + localRepo, "owner": map[string]any{"login": localOwner}},
		"installation": map[string]any{"id": gh.InstallationID(gh.App(), localOwner)},
	}
	data, _ := json.Marshal(map[string]any{
		"when":    time.Now().UTC().Format(time.RFC3339),
		"headers": map[string]any{"event": "pull_request", "delivery_id": delivery},
		"body":    body,
	})
	return &pubsub.Message{Data: data, Attributes: map[string]string{
		"ce-id": delivery, "ce-type": events.DefaultTypePrefix + ".pull_request",
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
