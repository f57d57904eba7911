package worker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"cloud.google.com/go/pubsub/v2"
	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/webhook"
)

// RelayPublisher adapts a Pub/Sub publisher of the relay topic to webhook.Publisher. A
// publish returns once the topic has the message, or when ctx ends.
func RelayPublisher(p *pubsub.Publisher) webhook.Publisher {
	return webhook.PublisherFunc(func(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
		id, err := p.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
		if err != nil {
			return "", fmt.Errorf("publish to the relay topic: %w", err)
		}
		return id, nil
	})
}

// IngressHandler routes the webhook ingress's two paths: POST /webhook to hook, and GET or
// HEAD /healthz. Another method on them is answered 405 with Allow. Every other path is
// answered 404, /intake and /reconcile included, because the public ingress never serves
// the worker's stages.
func IngressHandler(hook http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			healthz(rw, r)
		case "/webhook":
			if r.Method != http.MethodPost {
				rw.Header().Set("Allow", "POST")
				reply(rw, http.StatusMethodNotAllowed, "POST a GitHub webhook delivery")
				return
			}
			hook.ServeHTTP(rw, r)
		default:
			reply(rw, http.StatusNotFound, "not found: POST /webhook, GET /healthz")
		}
	})
}

// ingressMode reports whether lookup's MODE is ingress, read before the configuration is
// validated so that an ingress's errors are not mixed with a reconciler's own.
func ingressMode(lookup envconfig.Lookuper) bool {
	mode, _ := lookup.Lookup("MODE")
	return mode == config.ModeIngress
}

// startIngress builds the webhook ingress process of cfg: logging, the Pub/Sub client, a
// publisher on RELAY_TOPIC and the webhook handler. No GitHub App is needed.
func startIngress[T any](ctx context.Context, cfg *config.Worker, env Env) (_ *Process[T], err error) {
	logCfg := *cfg
	if logCfg.Identity == "" {
		logCfg.Identity = "webhook-ingress" // the job of its log entries off Cloud Run
	}
	p, _, err := newProcess[T](ctx, cfg, &logCfg, env)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.PubSub, err = newPubSubClient(ctx, cfg, env, cfg.RelayTopicName()); err != nil {
		return nil, err
	}
	p.publisher = p.PubSub.Publisher(cfg.RelayTopicName())
	p.Webhook = &webhook.Handler{
		Secrets:        cfg.WebhookSecrets(),
		Publisher:      RelayPublisher(p.publisher),
		TypePrefix:     cfg.RelayTypePrefix,
		Logger:         p.Logger,
		PublishTimeout: cfg.WebhookPublishTimeout,
	}
	return p, nil
}

// newPubSubClient returns the one Pub/Sub client of a process. Every name it serves is a full
// resource name, whatever its project. The client's project is GOOGLE_CLOUD_PROJECT, else the
// project of the first name that is set.
func newPubSubClient(ctx context.Context, cfg *config.Worker, env Env, names ...string) (*pubsub.Client, error) {
	clientProject := cfg.Project
	for _, name := range names {
		if clientProject == "" && name != "" {
			clientProject = strings.Split(name, "/")[1]
		}
	}
	c, err := pubsub.NewClient(ctx, clientProject, pubsubOptions(cfg.EmulatorHost, env)...)
	if err != nil {
		return nil, fmt.Errorf("pubsub client: %w", err)
	}
	return c, nil
}

// serveIngress serves IngressHandler(p.Webhook) on PORT until ctx is done, then lets
// in-flight deliveries finish for SHUTDOWN_GRACE.
func (p *Process[T]) serveIngress(ctx context.Context) error {
	cfg := p.Config
	l, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("webhook ingress: listen: %w", err)
	}
	p.Logger.Info("webhook ingress listening: POST /webhook", "port", cfg.Port, "relay_topic", cfg.RelayTopicName(),
		"type_prefix", cfg.RelayTypePrefix, "secrets", len(cfg.WebhookSecrets()), "publish_timeout", cfg.WebhookPublishTimeout)
	err = serve(ctx, l, IngressHandler(p.Webhook), cfg.ShutdownGrace, p.Logger)
	p.Logger.Info("webhook ingress stopped")
	return err
}
