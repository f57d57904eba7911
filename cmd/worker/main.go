// Command worker is prreconciler's deployable worker: it consumes reconcile requests from
// Pub/Sub (push on PORT, or pull on PUBSUB_SUBSCRIPTION) and runs the diff hygiene reconciler.
//
// `worker local` runs the whole pipeline in-process on embedded defaults instead: an
// in-process Pub/Sub, a fake GitHub seeded with a pull request, and the real worker.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"cloud.google.com/go/pubsub/v2"
	"github.com/sethvargo/go-envconfig"

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
	logger := newLogger(stdout, cfg.LogLevel)
	project := cfg.Project
	if project == "" {
		project = cloudlog.Project(ctx, getenv)
	}
	service := cloudlog.Service(getenv)
	w, err := newWorker(ctx, cfg, project, service, logger)
	if err != nil {
		return err
	}
	if !cfg.Pull() {
		logger.Info("worker listening for Pub/Sub pushes", "port", cfg.Port, "identity", cfg.Identity, "app_id", cfg.AppID)
		err := w.Serve(ctx, ":"+strconv.Itoa(cfg.Port), worker.PushOptions{
			Audience: cfg.PushAudience, ServiceAccount: cfg.PushServiceAccount,
			MaxInFlight: cfg.MaxInFlight, ShutdownGrace: cfg.ShutdownGrace,
		})
		logger.Info("worker stopped")
		return err
	}
	name := cfg.SubscriptionName()
	subProject := strings.Split(name, "/")[1]
	client, err := pubsub.NewClient(ctx, subProject)
	if err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	defer client.Close()
	logger.Info("worker pulling", "subscription", name, "identity", cfg.Identity, "app_id", cfg.AppID)
	err = w.Pull(ctx, client.Subscriber(name), worker.PullOptions{MaxInFlight: cfg.MaxInFlight, ShutdownGrace: cfg.ShutdownGrace})
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	logger.Info("worker stopped")
	return err
}
