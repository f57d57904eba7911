package cloudlog

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"
)

// MetadataTimeout bounds the metadata server query of Project.
const MetadataTimeout = 2 * time.Second

// Project returns the Google Cloud project id: GOOGLE_CLOUD_PROJECT if set; otherwise, only when
// running on Cloud Run (K_SERVICE set), the project-id of the metadata server (host from
// GCE_METADATA_HOST, default 169.254.169.254), asked once with a MetadataTimeout deadline; "" when
// unknown. Off Cloud Run it makes no network call. getenv is os.Getenv in production.
func Project(ctx context.Context, getenv func(string) string) string {
	if p := strings.TrimSpace(getenv("GOOGLE_CLOUD_PROJECT")); p != "" {
		return p
	}
	if getenv("K_SERVICE") == "" {
		return ""
	}
	host := getenv("GCE_METADATA_HOST")
	if host == "" {
		host = "169.254.169.254"
	}
	ctx, cancel := context.WithTimeout(ctx, MetadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/computeMetadata/v1/project/project-id", nil)
	if err != nil {
		return ""
	}
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := metadataClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// metadataClient talks to the metadata server directly, never through a proxy from the environment.
var metadataClient = &http.Client{Transport: &http.Transport{Proxy: nil}}

// Service returns the Cloud Run service name from K_SERVICE, "" off Cloud Run.
func Service(getenv func(string) string) string {
	return getenv("K_SERVICE")
}
