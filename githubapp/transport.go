package githubapp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/gofri/go-github-ratelimit/v2/github_ratelimit"
	"github.com/gofri/go-github-ratelimit/v2/github_ratelimit/github_secondary_ratelimit"
)

// The transport stack of every client, outermost first:
//
//	go-github
//	→ budgetTransport   (ours) stamps the request with its retry deadline and makes its body re-sendable
//	→ gofri secondary limiter   waits out Retry-After of secondary rate limits, then re-sends
//	→ retryTransport    (ours) retries 5xx and connection errors of GET/HEAD with backoff
//	→ conditionalTransport (ours, installation clients) sends each GET with the ETag of the last 200
//	                    to it, and returns that 200 again, marked, when GitHub answers 304
//	→ observeTransport  (ours, installation clients) reads every answer into the installation's budget
//	→ installationAuth → ghinstallation   installation token (or App JWT) in Authorization
//	→ Options.Transport
//
// Why this order:
//   - A secondary rate limit (403/429 "You have exceeded a secondary rate limit") is a refusal: GitHub
//     did not apply the request, so re-sending any method after Retry-After is safe. gofri does that,
//     and it shares the wait between the concurrent requests of one installation (GitHub's advice is
//     to stop sending while limited), which is why it sits above our per-request retries.
//   - A 5xx or a broken connection is not a refusal: GitHub may have applied a PATCH or POST before
//     the 502 reached us, and re-sending it would duplicate what it appends (check run annotations
//     are appended on every update). So only GET/HEAD are retried blindly; writes are retried only when
//     they provably never left (the token fetch in ghinstallation failed, or the dial failed). The
//     status manager retries its writes itself, after re-reading what GitHub has.
//   - Both layers draw on one budget per request (Options.RetryBudget), so the total waiting stays
//     bounded and the caller gets the error in time to nack the message instead of holding it.
//   - gofri's primary limiter is not used: go-github v60 already remembers an exhausted primary limit
//     and fails later calls locally with *github.RateLimitError, while gofri's primary limiter would
//     turn those into transport errors (and classifies paths by URL.RawPath, usually empty).
//     Its total-sleep limit is not used either: it counts the limiter's whole lifetime, not one
//     request, so after 30 s of waits in a process it would never wait again. The per-request budget
//     is applied instead through a per-request override whose single-sleep limit is the budget left.
//   - ghinstallation sits at the bottom so every attempt goes out with a valid token: a retry after a
//     long wait may need a refreshed one.
//   - conditionalTransport sits below the retries, so that every attempt (and every re-send after a
//     secondary limit) revalidates with the ETag known at that moment, and above observeTransport, so
//     that the budget and the Usage of a message see GitHub's real 304, which costs no point. Being
//     above ghinstallation it does not see the token: it keys on the installation, and GitHub's
//     per-token ETags make the first read of a URL after the hourly token rotation a plain 200
//     (see conditionalTransport). The App JWT client has none: a new JWT per request never revalidates.
func (f *Factory) stack(auth http.RoundTripper, who string) http.RoundTripper {
	log := f.log.With("github_client", who)
	next := auth
	if ia, ok := auth.(*installationAuth); ok {
		// Every attempt's answer tells the installation's budget (see Admit).
		next = &observeTransport{next: auth, limits: f.limits, id: ia.id.Load}
		// Reads again cost no point when nothing changed (GitHub does not count a 304).
		scope := f.rootURL() + " app " + strconv.FormatInt(f.appID, 10) + " installation "
		next = &conditionalTransport{next: next, cache: f.reads,
			scope: func() string { return scope + strconv.FormatInt(ia.id.Load(), 10) }}
	}
	retry := &retryTransport{next: next, budget: f.budget, log: log}
	secondary := github_ratelimit.NewSecondaryLimiter(retry,
		github_secondary_ratelimit.WithLimitDetectedCallback(func(c *github_secondary_ratelimit.CallbackContext) {
			log.Warn("GitHub secondary rate limit: waiting before re-sending",
				"method", c.Request.Method, "path", c.Request.URL.Path, "until", c.ResetTime.UTC().Format(time.RFC3339))
		}),
		// Default for requests that did not come through budgetTransport; overridden per request.
		github_secondary_ratelimit.WithSingleSleepLimit(f.budget, overBudget(log)),
	)
	return &budgetTransport{next: secondary, budget: f.budget, onOverBudget: overBudget(log)}
}

func overBudget(log *slog.Logger) github_secondary_ratelimit.OnSingleLimitExceeded {
	return func(c *github_secondary_ratelimit.CallbackContext) {
		log.Warn("GitHub secondary rate limit beyond the retry budget: giving up",
			"method", c.Request.Method, "path", c.Request.URL.Path, "until", c.ResetTime.UTC().Format(time.RFC3339))
	}
}

type deadlineKey struct{}

// retryDeadline returns the time after which a request must stop waiting to retry.
func retryDeadline(ctx context.Context, budget time.Duration) time.Time {
	if d, ok := ctx.Value(deadlineKey{}).(time.Time); ok {
		return d
	}
	return time.Now().Add(budget)
}

// budgetTransport starts the retry budget of a request and makes its body re-sendable: both
// gofri and retryTransport send a request more than once, and an io.Reader can be read only once.
type budgetTransport struct {
	next         http.RoundTripper
	budget       time.Duration
	onOverBudget github_secondary_ratelimit.OnSingleLimitExceeded
}

func (t *budgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	deadline, ok := ctx.Value(deadlineKey{}).(time.Time)
	if !ok {
		deadline = time.Now().Add(t.budget)
		ctx = context.WithValue(ctx, deadlineKey{}, deadline)
	}
	// The option is evaluated each time gofri meets a limit, so each wait may use what is left
	// of this request's budget, no more.
	ctx = github_secondary_ratelimit.WithOverrideConfig(ctx, func(c *github_secondary_ratelimit.Config) {
		left := max(time.Until(deadline), 0)
		github_secondary_ratelimit.WithSingleSleepLimit(left, t.onOverBudget)(c)
	})
	r := req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return t.next.RoundTrip(r)
}

const (
	retryBaseDelay = 200 * time.Millisecond
	retryMaxDelay  = 5 * time.Second
	retryMaxTries  = 8
)

// retryTransport retries GitHub requests that failed in a way worth retrying and safe to repeat,
// within the request's budget and context. See stack for what is retried and why.
type retryTransport struct {
	next   http.RoundTripper
	budget time.Duration
	log    *slog.Logger
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	deadline := retryDeadline(ctx, t.budget)
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody && req.GetBody != nil {
		// Every attempt sends a fresh copy from GetBody, so the caller's Body stays unread
		// (gofri re-sends this very request after a secondary limit); close it as RoundTrip must.
		defer req.Body.Close()
	}
	for attempt := 1; ; attempt++ {
		// A fresh clone per attempt: the App JWT transport sets headers on the request it is given.
		r := req.Clone(ctx)
		if hasBody {
			if req.GetBody == nil {
				r.Body = req.Body // sent once, never retried
			} else {
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = b
			}
		}
		resp, err := t.next.RoundTrip(r)
		wait, retry := t.retryable(req, resp, err, attempt)
		if !retry || (hasBody && req.GetBody == nil) {
			return resp, err
		}
		if attempt >= retryMaxTries || time.Now().Add(wait).After(deadline) {
			t.log.Warn("GitHub request failed, retry budget spent", "method", req.Method, "path", req.URL.Path,
				"attempts", attempt, "status", status(resp), "error", errString(err))
			return resp, err
		}
		t.log.Info("retrying GitHub request", "method", req.Method, "path", req.URL.Path,
			"attempt", attempt, "status", status(resp), "error", errString(err), "wait", wait.String())
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// retryable says whether the outcome of one attempt may be retried and after how long.
func (t *retryTransport) retryable(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	backoff := min(retryBaseDelay<<(attempt-1), retryMaxDelay)
	backoff = backoff/2 + rand.N(backoff/2+1) // jitter, so that concurrent retries spread out
	if err != nil {
		if req.Context().Err() != nil {
			return 0, false
		}
		// The request never left: its installation token could not be fetched, or the
		// connection could not be opened. Safe to repeat for any method.
		var he *ghinstallation.HTTPError
		if errors.As(err, &he) {
			if he.Response != nil && he.Response.Body != nil {
				he.Response.Body.Close() // ghinstallation leaves it open; only its status is used
			}
			if !IsTransient(he) {
				return 0, false
			}
			if he.Response != nil {
				return max(backoff, retryAfter(he.Response)), true
			}
			return backoff, true
		}
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return backoff, true
		}
		return backoff, idempotent(req.Method) && IsTransient(err)
	}
	switch resp.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return max(backoff, retryAfter(resp)), idempotent(req.Method)
	}
	return 0, false
}

func idempotent(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// retryAfter is the wait a Retry-After header of seconds asks for (HTTP dates are not used by GitHub).
func retryAfter(resp *http.Response) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

func status(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
