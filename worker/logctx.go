package worker

import (
	"context"
	"log/slog"
)

// loggerKey is the context key of a request's logger.
type loggerKey struct{}

// Logger returns the logger of the request that ctx is about. Inside a Reconciler it is the
// worker's logger with the request's Cloud Logging labels (pr_url, sha, delivery_id). So
// what the reconciler logs through it is among the records that the check run's details
// link selects. Elsewhere Logger returns slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// withLogger returns ctx carrying the request's logger l.
func withLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}
