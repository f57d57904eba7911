package cloudlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/compute/metadata"
	"cloud.google.com/go/logging"
)

// MetadataTimeout bounds each query of the metadata server.
const MetadataTimeout = 2 * time.Second

// Env is what the choice of destination and the monitored resource depend on. OSEnv returns
// the process's. A nil func means that part is not available.
type Env struct {
	// Getenv reads an environment variable (os.Getenv).
	Getenv func(string) string
	// OnGCE reports whether the process runs on Compute Engine, GKE nodes included.
	OnGCE func() bool
	// Credentials finds the application default credentials. It returns an error wrapping
	// ErrNoCredentials when there are none.
	Credentials func(ctx context.Context) (Credentials, error)
	// Metadata reads a value of the metadata server (a path under computeMetadata/v1/).
	Metadata func(ctx context.Context, path string) (string, error)
	// Hostname names the machine (os.Hostname).
	Hostname func() (string, error)
}

// Credentials describes the application default credentials Env found.
type Credentials struct {
	// Source says where they come from.
	Source string
	// Project is the project they name, "" when they name none.
	Project string
}

// ErrNoCredentials is the error of Env.Credentials when no application default credentials are
// usable.
var ErrNoCredentials = errors.New("no Google Cloud application default credentials")

// OSEnv returns the Env of this process, reading variables with getenv (os.Getenv when nil).
//
// OnGCE, Credentials and Metadata are those of the Google client libraries
// (cloud.google.com/go/compute/metadata and cloud.google.com/go/auth/credentials). Like every
// Google client, they read GCE_METADATA_HOST, GOOGLE_APPLICATION_CREDENTIALS and gcloud's
// credentials file from the process, not through getenv.
func OSEnv(getenv func(string) string) Env {
	if getenv == nil {
		getenv = os.Getenv
	}
	return Env{
		Getenv:      getenv,
		OnGCE:       metadata.OnGCE,
		Credentials: detectCredentials,
		Metadata:    metadata.GetWithContext, // the library's client, which uses no proxy
		Hostname:    os.Hostname,
	}
}

// detectCredentials finds the application default credentials as the logging client will,
// without fetching a token.
func detectCredentials(ctx context.Context) (Credentials, error) {
	c, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{logging.WriteScope}})
	if err != nil {
		return Credentials{}, fmt.Errorf("%w: %v", ErrNoCredentials, err)
	}
	p, _ := c.ProjectID(ctx)
	if p == "" {
		p, _ = c.QuotaProjectID(ctx)
	}
	source := "application default credentials"
	if f := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); f != "" {
		source = "GOOGLE_APPLICATION_CREDENTIALS (" + f + ")"
	}
	return Credentials{Source: source, Project: p}, nil
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

func (e Env) onGCE() bool { return e.OnGCE != nil && e.OnGCE() }

// metadata reads path from the metadata server within MetadataTimeout. It returns "" when the
// value is not available.
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

// Project returns the Google Cloud project: GOOGLE_CLOUD_PROJECT if set, else on Cloud Run the
// metadata server's, else "". Off Cloud Run it makes no network call.
func (e Env) Project(ctx context.Context) string {
	if p := strings.TrimSpace(e.getenv("GOOGLE_CLOUD_PROJECT")); p != "" {
		return p
	}
	if e.getenv("K_SERVICE") == "" {
		return ""
	}
	return e.metadata(ctx, "project/project-id")
}

// Project returns the Google Cloud project of the process whose environment getenv reads
// (os.Getenv when nil). It is OSEnv(getenv).Project(ctx).
func Project(ctx context.Context, getenv func(string) string) string {
	return OSEnv(getenv).Project(ctx)
}

// Service returns the Cloud Run service name from K_SERVICE, "" off Cloud Run.
func Service(getenv func(string) string) string {
	return getenv("K_SERVICE")
}

// lastSegment returns what follows the last '/' of a metadata value such as
// projects/123/zones/us-central1-a.
func lastSegment(s string) string {
	return s[strings.LastIndex(s, "/")+1:]
}
