package cloudlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Destination is where the records go (LOG_DESTINATION).
type Destination string

// The destinations.
const (
	// Auto is Stdout where the platform reads it (Cloud Run, GKE), else API when credentials
	// and a project are found, else Stdout. Choose says which, and why.
	Auto Destination = "auto"
	// Stdout writes one line per record on stdout, for a logging agent or a person.
	Stdout Destination = "stdout"
	// API writes entries through the Cloud Logging API (cloud.google.com/go/logging).
	API Destination = "api"
)

// ParseDestination returns the destination named s, in any case and with surrounding spaces
// ignored; "" is Auto. Its error is a *DestinationError.
func ParseDestination(s string) (Destination, error) {
	switch d := Destination(strings.ToLower(strings.TrimSpace(s))); d {
	case "":
		return Auto, nil
	case Auto, Stdout, API:
		return d, nil
	}
	return "", &DestinationError{Name: s}
}

// DestinationError is the error of ParseDestination and Choose for a name that is not a
// destination.
type DestinationError struct {
	// Name is the name given, as given.
	Name string
}

// Reason says what is wrong without naming the package, for a caller that names the variable
// instead.
func (e *DestinationError) Reason() string {
	return fmt.Sprintf("%q is not auto, stdout or api", e.Name)
}

// Error is the reason, prefixed by the package.
func (e *DestinationError) Error() string { return "cloudlog: log destination " + e.Reason() }

// Format is how records written to stdout look (LOG_FORMAT).
type Format string

// The formats.
const (
	// JSON writes the JSON lines of NewHandler, for a logging agent.
	JSON Format = "json"
	// Text writes the lines of NewTextHandler, for people.
	Text Format = "text"
)

// ParseFormat returns the format named s, in any case and with surrounding spaces ignored; ""
// stays "", which New reads as Text on a terminal and JSON elsewhere. Its error says what is
// wrong without naming the package or the variable.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "", JSON, Text:
		return f, nil
	}
	return "", fmt.Errorf("%q is not json or text", s)
}

// isTerminal reports whether w is a character device, as a terminal is. That is all the
// default format needs, without a dependency for it; /dev/null counts too, and gets text.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Choice is the destination Choose picked, and why.
type Choice struct {
	// Destination is Stdout or API.
	Destination Destination
	// Project is the project the API writes to ("" for Stdout).
	Project string
	// Reason says why, for the one record that reports the choice.
	Reason string
	// Fallback is set when Auto wanted the API but could not use it.
	Fallback bool
}

// Choose picks the destination for d in env; project is the configured project, "" when none.
//
// Auto picks Stdout on a Cloud Run service or job, on GKE, and beside a Pub/Sub emulator (a
// local run). Elsewhere it picks API when credentials are found and a project is known,
// configured or named by the credentials; else Stdout with Fallback set. API is an error
// without a project.
func Choose(ctx context.Context, d Destination, project string, env Env) (Choice, error) {
	switch d {
	case Stdout:
		return Choice{Destination: Stdout, Reason: "LOG_DESTINATION=stdout"}, nil
	case API:
		if project == "" && env.Credentials != nil {
			if c, err := env.Credentials(ctx); err == nil {
				project = c.Project
			}
		}
		if project == "" {
			return Choice{}, errors.New("cloudlog: the api log destination needs a project: set GOOGLE_CLOUD_PROJECT")
		}
		return Choice{Destination: API, Project: project, Reason: "LOG_DESTINATION=api"}, nil
	case Auto, "":
	default:
		return Choice{}, &DestinationError{Name: string(d)}
	}
	switch {
	case env.getenv("K_SERVICE") != "":
		return Choice{Destination: Stdout, Reason: "on Cloud Run (K_SERVICE), which ingests stdout"}, nil
	case env.getenv("CLOUD_RUN_JOB") != "":
		return Choice{Destination: Stdout, Reason: "on a Cloud Run job (CLOUD_RUN_JOB), which ingests stdout"}, nil
	case env.getenv("KUBERNETES_SERVICE_HOST") != "" && env.onGCE():
		return Choice{Destination: Stdout, Reason: "on GKE, which ingests container stdout"}, nil
	case env.getenv("PUBSUB_EMULATOR_HOST") != "":
		return Choice{Destination: Stdout, Reason: "beside a Pub/Sub emulator (PUBSUB_EMULATOR_HOST): a local run"}, nil
	}
	if env.Credentials == nil {
		return Choice{Destination: Stdout, Fallback: true, Reason: "not on Cloud Run or GKE, and no way to look for credentials"}, nil
	}
	c, err := env.Credentials(ctx)
	if err != nil {
		return Choice{Destination: Stdout, Fallback: true,
			Reason: fmt.Sprintf("not on Cloud Run or GKE, and the Cloud Logging API is unusable: %v", err)}, nil
	}
	if project == "" {
		project = c.Project
	}
	if project == "" {
		return Choice{Destination: Stdout, Fallback: true,
			Reason: "not on Cloud Run or GKE, and no project for the Cloud Logging API: set GOOGLE_CLOUD_PROJECT"}, nil
	}
	return Choice{Destination: API, Project: project,
		Reason: "not on Cloud Run or GKE; credentials from " + c.Source}, nil
}
