package githubtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

const (
	owner = "octo-org"
	repo  = "hello-world"
	sha1x = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	sha2x = "ce587453ced02b1526dfb4cb910479d431683101"
)

var ctx = context.Background()

// fixture starts a server with one repository and returns the default client.
func fixture(t *testing.T, opts ...Option) (*Server, *github.Client) {
	t.Helper()
	s := NewTestServer(t, opts...)
	s.AddRepo(owner, repo)
	return s, s.Client()
}

func mustCreate(t *testing.T, c *github.Client, opts github.CreateCheckRunOptions) *github.CheckRun {
	t.Helper()
	run, _, err := c.Checks.CreateCheckRun(ctx, owner, repo, opts)
	if err != nil {
		t.Fatalf("CreateCheckRun: %v", err)
	}
	return run
}

// rawJSON sends body (raw JSON, or nil) through go-github's client and decodes the answer into a map.
func rawJSON(t *testing.T, c *github.Client, method, path string, body string) (map[string]any, *github.Response, error) {
	t.Helper()
	var b any
	if body != "" {
		b = json.RawMessage(body)
	}
	req, err := c.NewRequest(method, path, b)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	resp, err := c.Do(ctx, req, &out)
	return out, resp, err
}

// rawGet performs a GET through the client's HTTP client (auth included) and returns the response and body.
func rawGet(t *testing.T, c *github.Client, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.BaseURL.String()+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func errResp(t *testing.T, err error, status int) *github.ErrorResponse {
	t.Helper()
	var er *github.ErrorResponse
	if !errors.As(err, &er) {
		t.Fatalf("error %v (%T) is not a *github.ErrorResponse", err, err)
	}
	if er.Response.StatusCode != status {
		t.Fatalf("status %d, want %d (%v)", er.Response.StatusCode, status, err)
	}
	return er
}
