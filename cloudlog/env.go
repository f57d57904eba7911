package cloudlog

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MetadataTimeout bounds each query of the metadata server.
const MetadataTimeout = 2 * time.Second

// Project returns OSEnv(getenv).Project(ctx): the Google Cloud project of the process whose
// environment getenv reads (os.Getenv when nil).
func Project(ctx context.Context, getenv func(string) string) string {
	return OSEnv(getenv).Project(ctx)
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

// Service returns the Cloud Run service name from K_SERVICE, "" off Cloud Run.
func Service(getenv func(string) string) string {
	return getenv("K_SERVICE")
}

// metadataServer asks the metadata server for values, and keeps those it was given (not the
// failures). It reads GCE_METADATA_HOST with getenv rather than from the process, unlike
// cloud.google.com/go/compute/metadata, and uses no proxy.
type metadataServer struct {
	getenv func(string) string
	client *http.Client

	mu     sync.Mutex
	values map[string]string // by URL
}

// maxMetadataValue bounds the body of one answer; the values read here are a few dozen bytes.
const maxMetadataValue = 4 << 10

func newMetadataServer(getenv func(string) string) *metadataServer {
	return &metadataServer{
		getenv: getenv,
		// No keep-alive: a handful of queries, and no idle connection left by a dropped Env.
		client: &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: MetadataTimeout},
		values: map[string]string{},
	}
}

// get returns the value of path (under computeMetadata/v1/), as the server wrote it.
func (m *metadataServer) get(ctx context.Context, path string) (string, error) {
	host := m.getenv("GCE_METADATA_HOST")
	if host == "" {
		host = "169.254.169.254"
	}
	u := "http://" + host + "/computeMetadata/v1/" + strings.TrimPrefix(path, "/")
	m.mu.Lock()
	v, ok := m.values[u]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("cloudlog: metadata %s: %w", path, err)
	}
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := m.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("cloudlog: metadata %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("cloudlog: metadata %s: %s", path, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataValue))
	if err != nil {
		return "", fmt.Errorf("cloudlog: metadata %s: %w", path, err)
	}
	v = string(b)
	m.mu.Lock()
	m.values[u] = v
	m.mu.Unlock()
	return v, nil
}
