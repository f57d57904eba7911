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
// TestDetectCredentials: OSEnv finds the credentials the logging client will use, and the
// project they name, without asking for a token.
func TestDetectCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(path, body string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	key := write(filepath.Join(dir, "key.json"), `{"type":"service_account","project_id":"key-proj","client_email":"sa@key-proj.iam.gserviceaccount.com","private_key":"unused"}`)
	home := filepath.Join(dir, "home")
	write(filepath.Join(home, ".config", "gcloud", "application_default_credentials.json"),
		`{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r","quota_project_id":"user-proj"}`)
	tests := []struct {
		name, file, home string
		want             string
		wantErr          bool
	}{
		{"GOOGLE_APPLICATION_CREDENTIALS", key, home, "key-proj", false},
		{"gcloud's file", "", home, "user-proj", false},
		{"a missing GOOGLE_APPLICATION_CREDENTIALS file", filepath.Join(dir, "missing.json"), home, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", tt.file)
			t.Setenv("HOME", tt.home)
			c, err := OSEnv(nil).Credentials(context.Background())
			if (err != nil) != tt.wantErr || c.Project != tt.want {
				t.Errorf("%+v, %v; want project %q, error %v", c, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrNoCredentials) {
				t.Errorf("%v does not wrap ErrNoCredentials", err)
			}
		})
	}
}
