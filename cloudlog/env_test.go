package cloudlog

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOSEnvMetadata: an OSEnv asks the metadata server named by GCE_METADATA_HOST for the
// project and the monitored resource, and reports a value the server does not have.
func TestOSEnvMetadata(t *testing.T) {
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "no Metadata-Flavor", http.StatusForbidden)
			return
		}
		switch strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/") {
		case "project/project-id":
			w.Write([]byte("my-project\n"))
		case "instance/region":
			w.Write([]byte("projects/123/regions/europe-west1"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer md.Close()
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(md.URL, "http://"))
	ctx := context.Background()
	e := OSEnv(env(map[string]string{"K_SERVICE": "worker"}))

	if p := e.Project(ctx); p != "my-project" {
		t.Errorf("Project = %q", p)
	}
	r := Options{Env: e}.resource(ctx, "my-project")
	if loc := r.GetLabels()["location"]; r.GetType() != "cloud_run_revision" || loc != "europe-west1" {
		t.Errorf("resource: %v", r)
	}
	if _, err := e.Metadata(ctx, "instance/zone"); err == nil {
		t.Error("an undefined value: no error")
	}
}

// TestEnvProject: Env.Project reads GOOGLE_CLOUD_PROJECT from Getenv and asks Metadata only on
// Cloud Run; an Env without Metadata knows no project there.
func TestEnvProject(t *testing.T) {
	asked := 0
	md := func(_ context.Context, p string) (string, error) {
		asked++
		if p == "project/project-id" {
			return " md-proj\n", nil
		}
		return "", errors.New("no")
	}
	tests := []struct {
		name  string
		e     Env
		want  string
		asked int
	}{
		{"configured", Env{Getenv: env(map[string]string{"GOOGLE_CLOUD_PROJECT": " cfg-proj ", "K_SERVICE": "w"}), Metadata: md}, "cfg-proj", 0},
		{"Cloud Run", Env{Getenv: env(map[string]string{"K_SERVICE": "w"}), Metadata: md}, "md-proj", 1},
		{"off Cloud Run", Env{Getenv: env(nil), Metadata: md}, "", 0},
		{"no metadata server", Env{Getenv: env(map[string]string{"K_SERVICE": "w"})}, "", 0},
		{"zero Env", Env{}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked = 0
			if p := tt.e.Project(context.Background()); p != tt.want || asked != tt.asked {
				t.Errorf("%q, metadata asked %d times; want %q, %d", p, asked, tt.want, tt.asked)
			}
		})
	}
}

// TestDestinationError: a name that is not a destination is a *DestinationError from both
// ParseDestination and Choose, with the same text; its Reason names the value, not the package.
func TestDestinationError(t *testing.T) {
	_, perr := ParseDestination("file")
	_, cerr := Choose(context.Background(), "file", "", Env{})
	for _, err := range []error{perr, cerr} {
		var de *DestinationError
		if !errors.As(err, &de) || de.Name != "file" {
			t.Fatalf("%v (%T) is not a *DestinationError naming file", err, err)
		}
		if got, want := err.Error(), `cloudlog: log destination "file" is not auto, stdout or api`; got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
		if got, want := de.Reason(), `"file" is not auto, stdout or api`; got != want {
			t.Errorf("Reason() = %q, want %q", got, want)
		}
	}
}
