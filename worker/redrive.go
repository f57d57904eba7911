package worker

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"cloud.google.com/go/pubsub/v2"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/redrive"
)

// redriveUsage is the redrive subcommand's help.
const redriveUsage = `usage: BINARY redrive [-dry-run] [-limit N] [-include-invalid] [-idle D] DEAD_LETTER_SUBSCRIPTION

Pulls the dead-letter subscription (projects/P/subscriptions/S, or S with GOOGLE_CLOUD_PROJECT)
and publishes each message again to the topic of the subscription it was dead-lettered from:
reconcile requests with their commit as ordering key, relay events as they were. A message is
acknowledged only after its publish succeeded. Messages the decoder refuses stay unless
-include-invalid. It stops when no new message came for -idle.`

// redriveCommand is the redrive subcommand of every reconciler binary (see package redrive).
// It needs only the Pub/Sub settings (config.Redrive): an on-call engineer moves dead letters
// without the App's key.
func redriveCommand(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	var opts redrive.Options
	fs.BoolVar(&opts.DryRun, "dry-run", false, "list what would be redriven; publish and acknowledge nothing")
	fs.IntVar(&opts.Limit, "limit", 0, "stop after this many messages (0: all)")
	fs.BoolVar(&opts.IncludeInvalid, "include-invalid", false, "also redrive messages the decoder refuses")
	fs.DurationVar(&opts.Idle, "idle", redrive.DefaultIdle, "stop when no new message came for this long")
	if done, err := parseFlags(fs, redriveUsage, args, env); done || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &UsageError{Problem: fmt.Sprintf("redrive: one dead-letter subscription is needed, got %d arguments", fs.NArg()), Usage: named(redriveUsage, env)}
	}
	if opts.Limit < 0 {
		return &UsageError{Problem: "redrive: -limit must not be negative", Usage: named(redriveUsage, env)}
	}
	cfg, err := config.LoadRedrive(ctx, env.lookuper())
	if err != nil {
		return err
	}
	opts.Decoder = &events.Decoder{TypePrefix: cfg.RelayTypePrefix, AppID: cfg.AppID, Identity: cfg.Identity}
	sub := fs.Arg(0)
	project := cfg.Project
	switch {
	case strings.HasPrefix(sub, "projects/"):
		parts := strings.Split(sub, "/")
		if len(parts) != 4 || parts[1] == "" || parts[2] != "subscriptions" || parts[3] == "" {
			return fmt.Errorf("redrive: %q is not projects/P/subscriptions/S", sub)
		}
		if project == "" {
			project = parts[1]
		}
	case strings.Contains(sub, "/"):
		return fmt.Errorf("redrive: %q is neither a short name nor projects/P/subscriptions/S", sub)
	case project == "":
		return fmt.Errorf("redrive: %q is a short name; set GOOGLE_CLOUD_PROJECT or give projects/P/subscriptions/S", sub)
	default:
		sub = "projects/" + project + "/subscriptions/" + sub
	}
	c, err := pubsub.NewClient(ctx, project, pubsubOptions(cfg.EmulatorHost, env)...)
	if err != nil {
		return fmt.Errorf("redrive: pubsub client: %w", err)
	}
	defer c.Close()
	opts.Progress = env.stdout()
	if _, err := redrive.Run(ctx, c, sub, opts); err != nil {
		return err
	}
	return nil
}
