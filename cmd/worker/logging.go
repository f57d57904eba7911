package main

import (
	"context"
	"io"
	"log/slog"

	"google.golang.org/api/option"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/config"
)

// logLevel returns the slog level of LOG_LEVEL (validated by config, which parses it).
func logLevel(level string) slog.Level {
	l, _ := config.ParseLogLevel(level)
	return l
}

// newLogger returns a logger writing Cloud Logging JSON lines on w.
func newLogger(w io.Writer, level string) *slog.Logger {
	return slog.New(cloudlog.NewHandler(w, &slog.HandlerOptions{Level: logLevel(level)}))
}

// newLogging returns the process's logging for cfg (LOG_DESTINATION, LOG_LEVEL, the project)
// in env: JSON lines on stdout, or entries through the Cloud Logging API, whose generic_task
// resource off Cloud Run names the identity as its job. clientOpts reach the logging client
// (tests point it at a fake).
func newLogging(ctx context.Context, cfg *config.Worker, env cloudlog.Env, stdout io.Writer, clientOpts ...option.ClientOption) (*cloudlog.Logging, error) {
	dest, err := cloudlog.ParseDestination(cfg.LogDestination)
	if err != nil {
		return nil, err
	}
	return cloudlog.New(ctx, cloudlog.Options{
		Destination:   dest,
		Project:       cfg.Project,
		Stdout:        stdout,
		Handler:       &slog.HandlerOptions{Level: logLevel(cfg.LogLevel)},
		Env:           env,
		Job:           cfg.Identity,
		ClientOptions: clientOpts,
	})
}

// closeLogging flushes the API's entries at shutdown, within cloudlog.DefaultFlushTimeout after
// the in-flight work's grace; the entries it could not write are reported on stdout by Close.
func closeLogging(logs *cloudlog.Logging) {
	ctx, cancel := context.WithTimeout(context.Background(), cloudlog.DefaultFlushTimeout)
	defer cancel()
	_ = logs.Close(ctx) // its drops are already reported; nothing more to do on the way out
}
