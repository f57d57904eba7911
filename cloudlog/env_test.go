package cloudlog

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestOSEnvSharesOneMetadataLookup: the project, the monitored resource and Metadata itself go
// through the one lookup of an OSEnv, which finds the server with the Env's getenv and asks
// for each value once after an answer (not after a failure); another OSEnv (another process
// start) asks again.
func TestOSEnvSharesOneMetadataLookup(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	count := func(p string) int {
		mu.Lock()
		defer mu.Unlock()
		return hits[p]
	}
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/")
		mu.Lock()
		hits[p]++
		n := hits[p]
		mu.Unlock()
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "no Metadata-Flavor", http.StatusForbidden)
			return
		}
		switch {
		case p == "project/project-id":
			w.Write([]byte("my-project\n"))
		case p == "instance/region" && n == 1:
			http.Error(w, "try again", http.StatusServiceUnavailable)
		case p == "instance/region":
			w.Write([]byte("projects/123/regions/europe-west1"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer md.Close()
	// The host is given only through getenv, not the process environment.
	vars := env(map[string]string{"K_SERVICE": "worker", "GCE_METADATA_HOST": strings.TrimPrefix(md.URL, "http://")})
	ctx := context.Background()
	e := OSEnv(vars)

	for i := 0; i < 2; i++ {
		if p := e.Project(ctx); p != "my-project" {
			t.Errorf("Project #%d = %q", i+1, p)
		}
	}
	if v, err := e.Metadata(ctx, "project/project-id"); v != "my-project\n" || err != nil {
		t.Errorf("Metadata = %q, %v", v, err)
	}
	if n := count("project/project-id"); n != 1 {
		t.Errorf("project-id asked %d times by one Env, want 1", n)
	}

	if v, err := e.Metadata(ctx, "instance/region"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a failing server: %q, %v", v, err)
	}
	for i := 0; i < 2; i++ { // the failure was not kept; the answer is
		r := Options{Env: e}.resource(ctx, "my-project")
		if loc := r.GetLabels()["location"]; r.GetType() != "cloud_run_revision" || loc != "europe-west1" {
			t.Errorf("resource #%d: %v", i+1, r)
		}
	}
	if n := count("instance/region"); n != 2 {
		t.Errorf("region asked %d times (one failure, one answer), want 2", n)
	}
	if _, err := e.Metadata(ctx, "instance/zone"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("an undefined value: %v", err)
	}

	if p := OSEnv(vars).Project(ctx); p != "my-project" || count("project/project-id") != 2 {
		t.Errorf("another Env: %q, project-id asked %d times in all, want 2", p, count("project/project-id"))
	}
	// Project(ctx, getenv) is that: a new Env each call.
	if p := Project(ctx, vars); p != "my-project" || count("project/project-id") != 3 {
		t.Errorf("Project: %q, project-id asked %d times in all, want 3", p, count("project/project-id"))
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
