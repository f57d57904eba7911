// Command worker is prreconciler's deployable worker: it runs the intake stage (relay
// events and requests in, reconcile requests out to RECONCILE_TOPIC, ordered by commit) and
// the reconcile stage (the diff hygiene reconciler), by push on PORT (POST /intake,
// POST /reconcile) or by pull (INTAKE_SUBSCRIPTION, PUBSUB_SUBSCRIPTION).
//
// `worker local` runs the whole pipeline in-process on embedded defaults instead: an
// in-process Pub/Sub, a fake GitHub seeded with a pull request, and the real worker.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"cloud.google.com/go/pubsub/v2"
	"github.com/sethvargo/go-envconfig"
	"golang.org/x/sync/errgroup"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/worker"
)

func main() {
	// SIGTERM is Cloud Run's shutdown signal: stop taking work, let in-flight work finish
	// within the grace, nack the rest, exit 0.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "local":
		err = runLocal(ctx, os.Stdout, os.Args[2:])
	case len(os.Args) > 1:
		err = fmt.Errorf("unknown argument %q: run without arguments (configured by the environment) or with \"local\"", os.Args[1])
	default:
		err = run(ctx, envconfig.OsLookuper(), os.Getenv, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// run starts the worker configured by the environment l and serves until ctx is done.
func run(ctx context.Context, l envconfig.Lookuper, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(ctx, l)
	if err != nil {
		return err
	}
	logs, err := newLogging(ctx, cfg, cloudlog.OSEnv(getenv), stdout)
	if err != nil {
		return err
	}
	defer closeLogging(logs)
	logger := slog.New(logs.Handler())
	project := cfg.Project
	if project == "" {
		project = logs.Choice().Project // the Cloud Logging API's, named by the credentials
	}
	if project == "" {
		project = cloudlog.Project(ctx, getenv)
	}
	service := cloudlog.Service(getenv)
	w, err := newWorker(ctx, cfg, project, service, logger)
	if err != nil {
		return err
	}
	needPubSub := cfg.Pull() || cfg.ReconcileTopic != ""
	var client *pubsub.Client
	if needPubSub {
		// One client serves every name: they are full resource names, whatever their project.
		clientProject := cfg.Project
		for _, name := range []string{cfg.ReconcileTopicName(), cfg.IntakeSubscriptionName(), cfg.SubscriptionName()} {
			if clientProject == "" && name != "" {
				clientProject = strings.Split(name, "/")[1]
			}
		}
		client, err = pubsub.NewClient(ctx, clientProject)
		if err != nil {
			return fmt.Errorf("pubsub client: %w", err)
		}
		defer client.Close()
	}
	var intake *worker.Intake
	if cfg.ReconcileTopic != "" {
		pub := client.Publisher(cfg.ReconcileTopicName())
		pub.EnableMessageOrdering = true // the ordering key is what serializes a commit
		defer pub.Stop()
		intake = &worker.Intake{Publisher: pub, Decoder: w.Decoder, Logger: logger}
	}
	if !cfg.Pull() {
		logger.Info("worker listening for Pub/Sub pushes", "port", cfg.Port, "identity", cfg.Identity, "app_id", cfg.AppID,
			"intake", intake != nil, "reconcile_topic", cfg.ReconcileTopicName())
		err := w.Serve(ctx, ":"+strconv.Itoa(cfg.Port), worker.PushOptions{
			Audience: cfg.PushAudience, ServiceAccount: cfg.PushServiceAccount,
			MaxInFlight: cfg.MaxInFlight, ShutdownGrace: cfg.ShutdownGrace, Intake: intake,
		})
		logger.Info("worker stopped")
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	opts := worker.PullOptions{MaxInFlight: cfg.MaxInFlight, ShutdownGrace: cfg.ShutdownGrace}
	if name := cfg.IntakeSubscriptionName(); name != "" {
		logger.Info("intake pulling", "subscription", name, "reconcile_topic", cfg.ReconcileTopicName())
		g.Go(func() error { return stopped(intake.Pull(gctx, client.Subscriber(name), opts)) })
	}
	if name := cfg.SubscriptionName(); name != "" {
		logger.Info("worker pulling", "subscription", name, "identity", cfg.Identity, "app_id", cfg.AppID)
		g.Go(func() error { return stopped(w.Pull(gctx, client.Subscriber(name), opts)) })
	}
	err = g.Wait()
	logger.Info("worker stopped")
	return err
}

// stopped treats the end of a pull by shutdown as success.
func stopped(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
