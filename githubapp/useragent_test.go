package githubapp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
)

// Options.UserAgent reaches GitHub on the App's requests.
func TestUserAgent(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	var mu sync.Mutex
	var agents []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents = append(agents, r.UserAgent())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1,"slug":"x"}`))
	}))
	t.Cleanup(srv.Close)
	f, err := githubapp.New(gh.App().ID, gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: srv.URL, UserAgent: "prreconciler/v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.AppClient().Apps.Get(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(agents) != 1 || agents[0] != "prreconciler/v1.2.3" {
		t.Errorf("User-Agent %q, want prreconciler/v1.2.3", agents)
	}
}
