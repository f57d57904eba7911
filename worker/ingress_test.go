package worker_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/sethvargo/go-envconfig"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/prreconciler/prreconciler/webhook"
	"github.com/prreconciler/prreconciler/worker"
)

// TestIngressHandlerRoutes: the public ingress serves POST /webhook and GET/HEAD /healthz,
// 405 with Allow for other methods on them, and 404 everywhere else, the worker's paths
// included.
func TestIngressHandlerRoutes(t *testing.T) {
	hook := http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusTeapot) })
	h := worker.IngressHandler(hook)
	tests := []struct {
		method, path string
		want         int
		allow        string
	}{
		{http.MethodPost, "/webhook", http.StatusTeapot, ""},
		{http.MethodGet, "/healthz", 200, ""},
		{http.MethodHead, "/healthz", 200, ""},
		{http.MethodGet, "/webhook", 405, "POST"},
		{http.MethodPut, "/webhook", 405, "POST"},
		{http.MethodPost, "/healthz", 405, "GET, HEAD"},
		{http.MethodPost, "/intake", 404, ""},
		{http.MethodPost, "/reconcile", 404, ""},
		{http.MethodPost, "/", 404, ""},
		{http.MethodPost, "/webhook/", 404, ""},
		{http.MethodGet, "/metrics", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rw := httptest.NewRecorder()
			h.ServeHTTP(rw, httptest.NewRequest(tt.method, tt.path, strings.NewReader("{}")))
			if rw.Code != tt.want || rw.Header().Get("Allow") != tt.allow {
				t.Errorf("answered %d, Allow %q; want %d, %q", rw.Code, rw.Header().Get("Allow"), tt.want, tt.allow)
			}
		})
	}
}

// ingressEnv is MODE=ingress on an in-process Pub/Sub with the relay topic and a subscription.
func ingressEnv(t *testing.T, extra map[string]string, args ...string) (worker.Env, *pubsub.Client) {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx := context.Background()
	c, err := pubsub.NewClient(ctx, "p", option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/p/topics/github"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: "projects/p/subscriptions/intake",
		Topic: "projects/p/topics/github", AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"MODE": "ingress", "WEBHOOK_SECRET": "current", "WEBHOOK_SECRET_PREVIOUS": "previous",
		"RELAY_TOPIC": "github", "GOOGLE_CLOUD_PROJECT": "p", "LOG_DESTINATION": "stdout", "RELAY_TYPE_PREFIX": "com.example.github"}
	for k, v := range extra {
		vars[k] = v
	}
	return worker.Env{Args: args, Lookuper: envconfig.MapLookuper(vars), Stdout: io.Discard,
		PubSubOptions: []option.ClientOption{option.WithGRPCConn(conn)}}, c
}

// TestStartIngress: MODE=ingress starts without the App, the key or IDENTITY, and its
// Webhook publishes to RELAY_TOPIC with both secrets and the configured type prefix.
func TestStartIngress(t *testing.T) {
	ctx := context.Background()
	env, c := ingressEnv(t, nil)
	p, err := worker.Start(ctx, worker.App[struct{}]{}, env)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Webhook == nil || p.Worker != nil || p.Intake != nil {
		t.Fatalf("webhook %v, worker %v, intake %v", p.Webhook, p.Worker, p.Intake)
	}
	body := []byte(`{"action":"opened","number":7,"pull_request":{"number":7},"repository":{"full_name":"octo-org/hello-world"}}`)
	for _, secret := range []string{"current", "previous"} {
		req := httptest.NewRequest(http.MethodPost, "/webhook", strings.NewReader(string(body)))
		req.Header.Set(webhook.HeaderEvent, "pull_request")
		req.Header.Set(webhook.HeaderDelivery, "d-"+secret)
		req.Header.Set(webhook.HeaderSignature, webhook.Sign(body, secret))
		rw := httptest.NewRecorder()
		worker.IngressHandler(p.Webhook).ServeHTTP(rw, req)
		if rw.Code != 200 {
			t.Fatalf("signed with %s: %d %s", secret, rw.Code, rw.Body.String())
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got := map[string]string{}
	err = c.Subscriber("projects/p/subscriptions/intake").Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		got[m.Attributes["ce-id"]] = m.Attributes["ce-type"]
		if len(got) == 2 {
			cancel()
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if got["d-current"] != "com.example.github.pull_request" || got["d-previous"] != "com.example.github.pull_request" {
		t.Errorf("relay topic has %v", got)
	}
}

// TestIngressRunsNoSubcommand: a reconciler's own subcommands get the started worker process,
// which the ingress is not. (The built-in ones, redrive and redeliver, read only what they use.)
func TestIngressRunsNoSubcommand(t *testing.T) {
	env, _ := ingressEnv(t, nil, "mine")
	app := worker.App[struct{}]{Commands: map[string]worker.Command[struct{}]{
		"mine": func(context.Context, *worker.Process[struct{}], []string) error { return nil },
	}}
	err := worker.Run(context.Background(), app, env)
	if err == nil || !strings.Contains(err.Error(), "MODE=worker") {
		t.Errorf("a subcommand in MODE=ingress: %v", err)
	}
}
