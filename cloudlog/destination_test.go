package cloudlog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseDestination(t *testing.T) {
	tests := []struct {
		in      string
		want    Destination
		wantErr bool
	}{
		{"", Auto, false}, {"auto", Auto, false}, {"STDOUT", Stdout, false}, {" api ", API, false}, {"file", "", true},
	}
	for _, tt := range tests {
		got, err := ParseDestination(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseDestination(%q) = %q, %v", tt.in, got, err)
		}
	}
}

// TestChoose: Auto picks stdout where the platform ingests it, the API elsewhere with
// credentials and a project, and falls back to stdout, saying why, otherwise.
func TestChoose(t *testing.T) {
	creds := func(project string) func(context.Context) (Credentials, error) {
		return func(context.Context) (Credentials, error) {
			return Credentials{Source: "a key file", Project: project}, nil
		}
	}
	noCreds := func(context.Context) (Credentials, error) { return Credentials{}, ErrNoCredentials }
	tests := []struct {
		name     string
		dest     Destination
		project  string
		vars     map[string]string
		onGCE    bool
		creds    func(context.Context) (Credentials, error)
		want     Destination
		wantProj string
		fallback bool
		reason   string
		wantErr  bool
	}{
		{name: "Cloud Run service", vars: map[string]string{"K_SERVICE": "worker"}, creds: creds("p"), want: Stdout, reason: "Cloud Run"},
		{name: "Cloud Run job", vars: map[string]string{"CLOUD_RUN_JOB": "j"}, creds: creds("p"), want: Stdout, reason: "Cloud Run job"},
		{name: "GKE", vars: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, onGCE: true, creds: creds("p"), want: Stdout, reason: "GKE"},
		{name: "Kubernetes elsewhere", vars: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, creds: creds("p"), want: API, wantProj: "p"},
		{name: "Pub/Sub emulator", vars: map[string]string{"PUBSUB_EMULATOR_HOST": "localhost:8085"}, project: "p", creds: creds("p"), want: Stdout, reason: "emulator"},
		{name: "VM with credentials", project: "mine", creds: creds("theirs"), want: API, wantProj: "mine", reason: "a key file"},
		{name: "Compute Engine VM", onGCE: true, creds: creds("vm-proj"), want: API, wantProj: "vm-proj"},
		{name: "credentials without a project", creds: creds(""), want: Stdout, fallback: true, reason: "GOOGLE_CLOUD_PROJECT"},
		{name: "no credentials", project: "p", creds: noCreds, want: Stdout, fallback: true, reason: ErrNoCredentials.Error()},
		{name: "no credentials look-up", project: "p", want: Stdout, fallback: true},
		{name: "forced stdout", dest: Stdout, creds: creds("p"), want: Stdout},
		{name: "forced api on Cloud Run", dest: API, project: "p", vars: map[string]string{"K_SERVICE": "worker"}, want: API, wantProj: "p"},
		{name: "forced api, project from credentials", dest: API, creds: creds("c"), want: API, wantProj: "c"},
		{name: "forced api without a project", dest: API, creds: noCreds, wantErr: true},
		{name: "unknown", dest: "file", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := Env{Getenv: func(k string) string { return tt.vars[k] }, OnGCE: func() bool { return tt.onGCE }, Credentials: tt.creds}
			c, err := Choose(context.Background(), tt.dest, tt.project, env)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if c.Destination != tt.want || c.Project != tt.wantProj || c.Fallback != tt.fallback || !strings.Contains(c.Reason, tt.reason) || c.Reason == "" {
				t.Errorf("%+v, want %s project %q fallback %v reason with %q", c, tt.want, tt.wantProj, tt.fallback, tt.reason)
			}
		})
	}
}

// TestADCCredentials: the look-up follows the client libraries' order, reading files only,
// and asks the metadata server only on Compute Engine.
func TestADCCredentials(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.json")
	write := func(path, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(keyFile, `{"type":"service_account","project_id":"key-proj"}`)
	home := filepath.Join(dir, "home")
	write(filepath.Join(home, ".config", "gcloud", "application_default_credentials.json"), `{"type":"authorized_user","quota_project_id":"user-proj"}`)
	metadataAsked := false
	md := func(_ context.Context, p string) (string, error) {
		metadataAsked = true
		if p == "project/project-id" {
			return "vm-proj", nil
		}
		return "", errors.New("no")
	}
	tests := []struct {
		name    string
		vars    map[string]string
		onGCE   bool
		want    string
		wantErr error
		asked   bool
	}{
		{"GOOGLE_APPLICATION_CREDENTIALS", map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": keyFile, "HOME": home}, true, "key-proj", nil, false},
		{"gcloud file", map[string]string{"HOME": home}, true, "user-proj", nil, false},
		{"CLOUDSDK_CONFIG without a file", map[string]string{"HOME": home, "CLOUDSDK_CONFIG": dir}, false, "", ErrNoCredentials, false},
		{"Compute Engine", nil, true, "vm-proj", nil, true},
		{"none", nil, false, "", ErrNoCredentials, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			metadataAsked = false
			env := Env{Getenv: func(k string) string { return tt.vars[k] }, OnGCE: func() bool { return tt.onGCE }, Metadata: md}
			c, err := adcCredentials(context.Background(), env)
			if !errors.Is(err, tt.wantErr) || c.Project != tt.want || metadataAsked != tt.asked {
				t.Errorf("%+v, %v (metadata asked %v), want project %q, %v (asked %v)", c, err, metadataAsked, tt.want, tt.wantErr, tt.asked)
			}
		})
	}
	if _, err := adcCredentials(context.Background(), Env{Getenv: func(k string) string {
		return map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": filepath.Join(dir, "missing.json")}[k]
	}}); err == nil || errors.Is(err, ErrNoCredentials) {
		t.Errorf("a missing GOOGLE_APPLICATION_CREDENTIALS file: %v", err)
	}
}
