package worker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

func notContains(t *testing.T, what, got, unwanted string) {
	t.Helper()
	if strings.Contains(got, unwanted) {
		t.Errorf("%s = %q, want it without %q", what, got, unwanted)
	}
}

// errSecret is an error whose text must never be published: an internal URL with a token.
var errSecret = errors.New(`get "https://ci.internal.corp.example/api/v1/cache?token=ghs_s3cr3t": dial tcp 10.2.3.4:443: connection refused`)

// Check run titles are public on public repositories: a failure's title says what kind of
// failure it was, and its error text goes only to the logs.
func TestFailureTitlesPublishNoErrorText(t *testing.T) {
	for _, tt := range []struct {
		name      string
		err       error
		attempt   int
		setup     func(e *env)
		want      worker.Outcome
		wantTitle string
	}{
		{name: "permanent", err: worker.Permanent(errSecret), attempt: 1, want: worker.OutcomeFailed,
			wantTitle: "Failed: an internal error (the full error is in the logs)"},
		{name: "transient", err: worker.Transient(errSecret), attempt: 1, want: worker.OutcomeRetry,
			wantTitle: "Transient failure, will retry (attempt 1 of 5): an internal error (the full error is in the logs)"},
		{name: "gave up", err: worker.Transient(errSecret), attempt: 5, want: worker.OutcomeGaveUp,
			wantTitle: "gave up after 5 attempts: an internal error (the full error is in the logs)"},
		{name: "public message of the reconciler", err: worker.Permanent(worker.Public(errSecret, "the cache is unreachable")), attempt: 1,
			want: worker.OutcomeFailed, wantTitle: "Failed: the cache is unreachable (the full error is in the logs)"},
		{name: "GitHub's answer, by its status", attempt: 1, want: worker.OutcomeFailed,
			setup: func(e *env) {
				e.gh.FailNext(githubtest.RouteListPullRequestFiles, 1, http.StatusNotFound)
			},
			wantTitle: "Failed: GitHub answered 404 Not Found (the full error is in the logs)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &counter{}
			if tt.err != nil {
				c.fn = func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
					return nil, tt.err
				}
			}
			e := newEnv(t, c.reconcile)
			if tt.setup != nil {
				tt.setup(e)
			}
			m := request("1", 7, sha1, false)
			m.DeliveryAttempt = tt.attempt
			o, err := e.w.Handle(context.Background(), m)
			if o != tt.want {
				t.Fatalf("outcome %s (%v), want %s", o, err, tt.want)
			}
			rs := e.runs(sha1)
			if len(rs) != 1 {
				t.Fatalf("runs = %+v", rs)
			}
			if rs[0].Title != tt.wantTitle {
				t.Errorf("title = %q, want %q", rs[0].Title, tt.wantTitle)
			}
			for _, secret := range []string{"internal.corp", "ghs_", "10.2.3.4", "api.github.com", "127.0.0.1"} {
				notContains(t, "title", rs[0].Title, secret)
				notContains(t, "summary", rs[0].Summary, secret)
			}
			if tt.err != nil {
				// The full error is in the logs, behind the details link.
				contains(t, "log", e.log.String(), "ci.internal.corp.example")
			}
		})
	}
}

func TestPublicReason(t *testing.T) {
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code, Request: &http.Request{}} }
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, "no error"},
		{errSecret, "an internal error"},
		{worker.Public(errSecret, "the cache is unreachable"), "the cache is unreachable"},
		{fmt.Errorf("outer: %w", worker.Public(worker.Transient(errSecret), "inner")), "inner"},
		{worker.Public(worker.Public(errSecret, "inner"), "outer"), "outer"},
		{fmt.Errorf("read: %w", &github.ErrorResponse{Response: resp(502), Message: "Server Error at internal-host"}), "GitHub answered 502 Bad Gateway"},
		{&github.RateLimitError{Response: resp(403), Message: "API rate limit exceeded for installation 42"}, "GitHub's API rate limit is used up"},
		{&github.AbuseRateLimitError{Response: resp(403), Message: "secondary"}, "GitHub's secondary rate limit"},
		{fmt.Errorf("write: %w: annotation 3 at /secret/path", statusmanager.ErrInvalidStatus), "the result is not a status GitHub accepts"},
		{fmt.Errorf("%w: 70000 bytes", statusmanager.ErrStatusTooLarge), "the result is too large for a check run"},
		{fmt.Errorf("reconcile: %w", context.DeadlineExceeded), "timed out"},
		{context.Canceled, "cancelled"},
	} {
		if got := worker.PublicReason(tt.err); got != tt.want {
			t.Errorf("PublicReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	if got := worker.Public(nil, "x"); got != nil {
		t.Errorf("Public(nil) = %v", got)
	}
	err := worker.Permanent(worker.Public(errSecret, "the cache is unreachable"))
	if worker.IsTransient(err) || !errors.Is(err, errSecret) || !strings.Contains(err.Error(), "ghs_s3cr3t") {
		t.Errorf("Public hides the error from errors.Is, IsTransient or the logs: %v", err)
	}
}

func ExamplePublic() {
	internal := errors.New(`Get "https://cache.internal.example/v1?token=s3cr3t": connection refused`)
	err := worker.Permanent(worker.Public(internal, "the build cache is unreachable"))

	fmt.Println(worker.PublicReason(err)) // what a check run title may show
	fmt.Println(worker.PublicReason(internal))
	fmt.Println(err) // what the logs get

	// Output:
	// the build cache is unreachable
	// an internal error
	// the build cache is unreachable: Get "https://cache.internal.example/v1?token=s3cr3t": connection refused
}
