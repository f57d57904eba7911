package githubapp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

func newFactory(t *testing.T, s *stub, budget time.Duration) *Factory {
	t.Helper()
	f, err := New(7, testKey(t), Options{BaseURL: s.srv.URL + "/", RetryBudget: budget,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestTokenFetchedOncePerInstallation(t *testing.T) {
	s := newStub(t, "")
	s.install("octo", "one", 11)
	s.install("octo", "two", 22)
	f := newFactory(t, s, 0)
	ctx := context.Background()
	var wg sync.WaitGroup
	clients := make([]*github.Client, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := int64(11)
			if i%2 == 1 {
				id = 22
			}
			c, err := f.Client(ctx, "octo", "one", id)
			if err != nil {
				t.Error(err)
				return
			}
			clients[i] = c
			for range 3 {
				if _, _, err := c.PullRequests.Get(ctx, "octo", "one", 1); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if got := s.count(stubToken); got != 2 {
		t.Errorf("token requests = %d, want 2 (one per installation)", got)
	}
	if got := s.count(stubPull); got != 120 {
		t.Errorf("pull requests = %d, want 120", got)
	}
	for i := 2; i < 40; i++ {
		if clients[i] != clients[i%2] {
			t.Fatalf("client %d is not the cached client of its installation", i)
		}
	}
	if clients[0] == clients[1] {
		t.Error("two installations share a client")
	}
	if f.AppID() != 7 {
		t.Errorf("AppID = %d", f.AppID())
	}
}

func TestInstallationLookupCached(t *testing.T) {
	s := newStub(t, "")
	s.install("Octo-Org", "Hello-World", 42)
	f := newFactory(t, s, 0)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner, repo := "octo-org", "hello-world"
			if i%2 == 0 {
				owner, repo = "OCTO-ORG", "Hello-World"
			}
			c, err := f.Client(ctx, owner, repo, 0)
			if err != nil {
				t.Error(err)
				return
			}
			if _, _, err := c.PullRequests.Get(ctx, owner, repo, 3); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := s.count(stubLookup); got != 1 {
		t.Errorf("installation lookups = %d, want 1", got)
	}
	if got := s.count(stubToken); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
	c42, _ := f.Client(ctx, "x", "y", 42)
	c0, _ := f.Client(ctx, "octo-org", "HELLO-WORLD", 0)
	if c42 != c0 {
		t.Error("looked-up installation does not share the client of its id")
	}

	_, err := f.Client(ctx, "nobody", "nothing", 0)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusNotFound || IsTransient(err) {
		t.Errorf("unknown repo: err = %v, want a permanent 404", err)
	}
	// Failures are not cached.
	s.install("nobody", "nothing", 43)
	if _, err := f.Client(ctx, "nobody", "nothing", 0); err != nil {
		t.Errorf("after installing: %v", err)
	}
}

func TestLookupTransientFailureRetried(t *testing.T) {
	s := newStub(t, "")
	s.install("o", "r", 5)
	s.failNext(stubLookup, 1, http.StatusBadGateway, nil, `{"message":"bad gateway"}`)
	f := newFactory(t, s, 0)
	if _, err := f.Client(context.Background(), "o", "r", 0); err != nil {
		t.Fatal(err)
	}
	if got := s.count(stubLookup); got != 2 {
		t.Errorf("lookups = %d, want 2", got)
	}
}

func TestGetRetriedOn5xx(t *testing.T) {
	s := newStub(t, "")
	s.install("o", "r", 5)
	s.failNext(stubPull, 2, http.StatusBadGateway, nil, `{"message":"bad gateway"}`)
	f := newFactory(t, s, 0)
	c, _ := f.Client(context.Background(), "o", "r", 5)
	pr, _, err := c.PullRequests.Get(context.Background(), "o", "r", 9)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetNumber() != 9 || s.count(stubPull) != 3 {
		t.Errorf("number %d after %d requests, want 9 after 3", pr.GetNumber(), s.count(stubPull))
	}
}

func TestWritesNotRetriedOn5xx(t *testing.T) {
	s := newStub(t, "")
	s.install("o", "r", 5)
	s.failNext(stubPatch, 1, http.StatusBadGateway, nil, `{"message":"bad gateway"}`)
	s.failNext(stubCreate, 1, http.StatusServiceUnavailable, nil, `{"message":"unavailable"}`)
	f := newFactory(t, s, 0)
	ctx := context.Background()
	c, _ := f.Client(ctx, "o", "r", 5)
	_, _, err := c.Checks.UpdateCheckRun(ctx, "o", "r", 1, github.UpdateCheckRunOptions{Name: "x"})
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusBadGateway || !IsTransient(err) {
		t.Errorf("PATCH: err = %v, want a transient 502", err)
	}
	_, _, err = c.Checks.CreateCheckRun(ctx, "o", "r", github.CreateCheckRunOptions{Name: "x", HeadSHA: "abc"})
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusServiceUnavailable || !IsTransient(err) {
		t.Errorf("POST: err = %v, want a transient 503", err)
	}
	if s.count(stubPatch) != 1 || s.count(stubCreate) != 1 {
		t.Errorf("PATCH sent %d times, POST %d times; want once each", s.count(stubPatch), s.count(stubCreate))
	}
}

func TestWriteRetriedWhenTokenFetchFailed(t *testing.T) {
	s := newStub(t, "")
	s.install("o", "r", 5)
	s.failNext(stubToken, 1, http.StatusInternalServerError, nil, `{"message":"oops"}`)
	f := newFactory(t, s, 0)
	ctx := context.Background()
	c, _ := f.Client(ctx, "o", "r", 5)
	if _, _, err := c.Checks.UpdateCheckRun(ctx, "o", "r", 1, github.UpdateCheckRunOptions{Name: "n"}); err != nil {
		t.Fatal(err)
	}
	if s.count(stubToken) != 2 || s.count(stubPatch) != 1 {
		t.Errorf("token %d, PATCH %d; want 2 and 1", s.count(stubToken), s.count(stubPatch))
	}
	if got := s.body(stubPatch, 0); !strings.Contains(got, `"name":"n"`) {
		t.Errorf("PATCH body %q", got)
	}
}

func TestRetryBudgetBoundsRetries(t *testing.T) {
	s := newStub(t, "")
	s.install("o", "r", 5)
	s.failNext(stubPull, 100, http.StatusServiceUnavailable, nil, `{"message":"down"}`)
	f := newFactory(t, s, time.Second)
	c, _ := f.Client(context.Background(), "o", "r", 5)
	start := time.Now()
	_, _, err := c.PullRequests.Get(context.Background(), "o", "r", 1)
	if !IsTransient(err) {
		t.Errorf("err = %v, want transient", err)
	}
	// The budget shows in the attempts: the backoff (200 ms doubling, jittered) fits 2 to 5 of
	// them in 1 s, against 100 failures queued. The time is measured, not asserted.
	t.Logf("gave up after %v with a 1s budget", time.Since(start))
	if n := s.count(stubPull); n < 2 || n > 5 {
		t.Errorf("%d attempts", n)
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	s := newStub(t, "")
	s.install("o", "r", 5)
	// Retry-After of an hour, within a two-hour budget: only the context can end the wait.
	s.failNext(stubPull, 100, http.StatusServiceUnavailable, http.Header{"Retry-After": {"3600"}}, `{"message":"down"}`)
	f := newFactory(t, s, 2*time.Hour)
	c, _ := f.Client(context.Background(), "o", "r", 5)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := s.notify(stubPull)
	done := make(chan error, 1)
	go func() {
		_, _, err := c.PullRequests.Get(ctx, "o", "r", 1)
		done <- err
	}()
	<-seen // the first attempt was answered 503: the transport now waits out Retry-After
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !IsTransient(err) {
			t.Errorf("err = %v, want the cancellation, transient", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Get still waiting a minute after its context was cancelled: it waits out the hour of Retry-After")
	}
	if n := s.count(stubPull); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestSecondaryRateLimitWaitedOut(t *testing.T) {
	s := newStub(t, "")
	s.install("o", "r", 5)
	s.secondary(stubPatch, 1, "1")
	f := newFactory(t, s, 0)
	ctx := context.Background()
	c, _ := f.Client(ctx, "o", "r", 5)
	start := time.Now()
	_, _, err := c.Checks.UpdateCheckRun(ctx, "o", "r", 3, github.UpdateCheckRunOptions{Name: "again", Status: github.String("completed")})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("did not wait for Retry-After: %v", d)
	}
	if n := s.count(stubPatch); n != 2 {
		t.Fatalf("PATCH sent %d times, want 2", n)
	}
	if a, b := s.body(stubPatch, 0), s.body(stubPatch, 1); a != b || !strings.Contains(b, `"name":"again"`) {
		t.Errorf("re-sent body differs: %q vs %q", a, b)
	}
}

func TestSecondaryRateLimitBeyondBudget(t *testing.T) {
	s := newStub(t, "")
	s.install("o", "r", 5)
	s.secondary(stubPull, 1, "60")
	f := newFactory(t, s, 2*time.Second)
	ctx := context.Background()
	c, _ := f.Client(ctx, "o", "r", 5)
	start := time.Now()
	_, _, err := c.PullRequests.Get(ctx, "o", "r", 1)
	// Waiting out the limit would end in a second, successful attempt: the error and the one
	// attempt show it was not waited for. The time is measured, not asserted.
	var are *github.AbuseRateLimitError
	if !errors.As(err, &are) || !IsTransient(err) {
		t.Errorf("err = %v (%T), want a transient *github.AbuseRateLimitError", err, err)
	}
	t.Logf("gave up after %v on a limit of 60s beyond the budget of 2s", time.Since(start))
	if s.count(stubPull) != 1 {
		t.Errorf("sent %d times", s.count(stubPull))
	}
}

func TestEnterpriseBaseURL(t *testing.T) {
	s := newStub(t, "/api/v3")
	s.install("o", "r", 5)
	f, err := New(7, testKey(t), Options{BaseURL: s.srv.URL + "/api/v3"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Client(context.Background(), "o", "r", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.BaseURL.String(); got != s.srv.URL+"/api/v3/" {
		t.Errorf("BaseURL = %s", got)
	}
	if got := c.UploadURL.String(); got != s.srv.URL+"/api/uploads/" {
		t.Errorf("UploadURL = %s", got)
	}
	if _, _, err := c.PullRequests.Get(context.Background(), "o", "r", 1); err != nil {
		t.Fatal(err)
	}
	if s.count(stubToken) != 1 {
		t.Errorf("token requests = %d", s.count(stubToken))
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(0, testKey(t), Options{}); err == nil {
		t.Error("app id 0 accepted")
	}
	if _, err := New(1, testKey(t), Options{BaseURL: "api.github.com"}); err == nil {
		t.Error("relative base URL accepted")
	}
	f, err := New(1, testKey(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Client(context.Background(), "o", "r", -1); err == nil {
		t.Error("negative installation id accepted")
	}
	if _, err := f.Client(context.Background(), "", "r", 0); err == nil {
		t.Error("lookup without owner accepted")
	}
}

// TestNoKeyMaterial captures every log record and every error of bad and good keys and checks
// that no part of a key ever appears in them.
func TestNoKeyMaterial(t *testing.T) {
	good := testKey(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})
	corrupt := bytes.Replace(good, []byte("\n"), []byte("\n!!"), 3) // still PEM-like, bad base64
	garbled := append([]byte(nil), good...)
	copy(garbled[100:], "AAAAAAAAAAAAAAAAAAAA") // valid base64, invalid DER
	keys := map[string][]byte{
		"empty": nil, "not pem": []byte("hello " + string(good[40:200])), "truncated": good[:len(good)/2],
		"corrupt base64": corrupt, "bad DER": garbled, "ecdsa": ecPEM, "good": good,
	}

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}))
	var errs []string
	s := newStub(t, "")
	s.install("o", "r", 5)
	s.failNext(stubToken, 1, http.StatusUnauthorized, nil, `{"message":"A JSON web token could not be decoded"}`)
	s.failNext(stubPull, 1, http.StatusBadGateway, nil, `{"message":"x"}`)
	for name, k := range keys {
		f, err := New(9, k, Options{BaseURL: s.srv.URL + "/", Logger: logger, RetryBudget: time.Second})
		if err != nil {
			errs = append(errs, err.Error())
			logger.Error("bad key", "error", err)
			if name == "good" {
				t.Fatal(err)
			}
			continue
		}
		if name != "good" {
			t.Errorf("key %q accepted", name)
			continue
		}
		ctx := context.Background()
		for _, id := range []int64{5, 5, 6} {
			c, err := f.Client(ctx, "o", "r", id)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.PullRequests.Get(ctx, "o", "r", 1); err != nil {
				errs = append(errs, err.Error())
				logger.Error("request failed", "error", err)
			}
		}
		if _, err := f.Client(ctx, "o", "missing", 0); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) < 7 {
		t.Errorf("expected errors for 6 bad keys and failed requests, got %q", errs)
	}
	all := logs.String() + strings.Join(errs, "\n")
	t.Log(all)
	for name, k := range keys {
		for _, line := range strings.Split(string(k), "\n") {
			if strings.HasPrefix(line, "-----") || len(line) < 16 {
				continue
			}
			for i := 0; i+16 <= len(line); i += 8 {
				if strings.Contains(all, line[i:i+16]) {
					t.Fatalf("material of key %q (%q) appears in logs or errors", name, line[i:i+16])
				}
			}
		}
	}
	if strings.Contains(all, "PRIVATE KEY-----") {
		t.Error("PEM armour appears in logs or errors")
	}
}
