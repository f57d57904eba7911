package cloudlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
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

// Credentials describes the application default credentials Env found.
type Credentials struct {
	// Source says where they come from (a file, the metadata server).
	Source string
	// Project is the project they name, "" when they name none.
	Project string
}

// ErrNoCredentials is returned by Env.Credentials when no application default credentials are
// available.
var ErrNoCredentials = errors.New("no Google Cloud application default credentials")

// Env is what the choice of destination and the monitored resource depend on. OSEnv returns
// the process's; a nil func means the part is not available.
type Env struct {
	// Getenv reads an environment variable (os.Getenv).
	Getenv func(string) string
	// OnGCE reports, without a network call, whether the process runs on Compute Engine,
	// GKE nodes included.
	OnGCE func() bool
	// Credentials finds the application default credentials, ErrNoCredentials when there are none.
	Credentials func(ctx context.Context) (Credentials, error)
	// Metadata reads a value of the metadata server (a path under computeMetadata/v1/).
	Metadata func(ctx context.Context, path string) (string, error)
	// Hostname names the machine (os.Hostname).
	Hostname func() (string, error)
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

func (e Env) onGCE() bool { return e.OnGCE != nil && e.OnGCE() }

// metadata reads path from the metadata server within MetadataTimeout, "" when unavailable.
func (e Env) metadata(ctx context.Context, path string) string {
	if e.Metadata == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, MetadataTimeout)
	defer cancel()
	v, err := e.Metadata(ctx, path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(v)
}

// OSEnv returns the Env of this process, reading variables with getenv (os.Getenv when nil).
//
// OnGCE reads the DMI product name (Linux only). Credentials looks at
// GOOGLE_APPLICATION_CREDENTIALS, then gcloud's credentials file, then, on Compute Engine only,
// the metadata server. Metadata asks the server at GCE_METADATA_HOST (default 169.254.169.254)
// without a proxy, and asks for each value at most once per Env.
func OSEnv(getenv func(string) string) Env {
	if getenv == nil {
		getenv = os.Getenv
	}
	e := Env{
		Getenv:   getenv,
		OnGCE:    dmiOnGCE,
		Hostname: os.Hostname,
		Metadata: newMetadataServer(getenv).get,
	}
	e.Credentials = func(ctx context.Context) (Credentials, error) { return adcCredentials(ctx, e) }
	return e
}

// dmiOnGCE reports whether the DMI product name is a Google one (Compute Engine, GKE nodes).
func dmiOnGCE() bool {
	if runtime.GOOS != "linux" {
		return false
	}
	b, err := os.ReadFile("/sys/class/dmi/id/product_name")
	return err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), "Google")
}

// adcCredentials finds application default credentials in the order the Google client
// libraries use, without fetching a token.
func adcCredentials(ctx context.Context, e Env) (Credentials, error) {
	if f := e.getenv("GOOGLE_APPLICATION_CREDENTIALS"); f != "" {
		return credentialsFile(f, "GOOGLE_APPLICATION_CREDENTIALS")
	}
	if f := wellKnownFile(e); f != "" {
		if _, err := os.Stat(f); err == nil {
			return credentialsFile(f, "gcloud application default credentials")
		}
	}
	if e.onGCE() {
		return Credentials{Source: "the metadata server", Project: e.metadata(ctx, "project/project-id")}, nil
	}
	return Credentials{}, ErrNoCredentials
}

// wellKnownFile is where `gcloud auth application-default login` writes its credentials.
func wellKnownFile(e Env) string {
	if d := e.getenv("CLOUDSDK_CONFIG"); d != "" {
		return filepath.Join(d, "application_default_credentials.json")
	}
	if runtime.GOOS == "windows" {
		if d := e.getenv("APPDATA"); d != "" {
			return filepath.Join(d, "gcloud", "application_default_credentials.json")
		}
		return ""
	}
	if d := e.getenv("HOME"); d != "" {
		return filepath.Join(d, ".config", "gcloud", "application_default_credentials.json")
	}
	return ""
}

// credentialsFile reads the project a credentials file names (project_id of a service account
// key, quota_project_id of user credentials).
func credentialsFile(path, source string) (Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("cloudlog: %s: %w", source, err)
	}
	var f struct {
		ProjectID      string `json:"project_id"`
		QuotaProjectID string `json:"quota_project_id"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return Credentials{}, fmt.Errorf("cloudlog: %s %s: %w", source, path, err)
	}
	p := f.ProjectID
	if p == "" {
		p = f.QuotaProjectID
	}
	return Credentials{Source: source + " (" + path + ")", Project: p}, nil
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

// lastSegment returns what follows the last '/' of a metadata value such as
// projects/123/zones/us-central1-a.
func lastSegment(s string) string {
	return s[strings.LastIndex(s, "/")+1:]
}
