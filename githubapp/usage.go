package githubapp

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Usage counts what the installation requests made with one context cost: how many were sent,
// how many rate-limit points they spent, and the installation's budget after them. Attach one
// to a context with WithUsage. The zero value is ready to use, and it is safe for concurrent
// use.
//
// Every attempt counts, retries included. A request costs one point of the primary rate limit
// except:
//   - a 304 Not Modified answer to a conditional request, which GitHub does not count;
//   - GET /rate_limit, which GitHub does not count;
//   - a refusal because the limit is spent, which GitHub did not serve;
//   - a 5xx answer. GitHub does not say whether it counts a request it failed to serve, and
//     counting it would make an outage look like spending.
//
// The App's own requests, such as the installation token, are not the installation's and
// are not counted.
type Usage struct {
	mu           sync.Mutex
	requests     int
	points       int
	installation int64
	remaining    int
	known        bool
}

type usageKey struct{}

// WithUsage returns a context whose installation requests are counted in u.
func WithUsage(ctx context.Context, u *Usage) context.Context {
	return context.WithValue(ctx, usageKey{}, u)
}

// usageFrom returns the Usage of ctx, or nil.
func usageFrom(ctx context.Context) *Usage {
	u, _ := ctx.Value(usageKey{}).(*Usage)
	return u
}

// Requests returns the number of requests sent to GitHub, retries included.
func (u *Usage) Requests() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests
}

// Points returns the rate-limit points the requests cost.
func (u *Usage) Points() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.points
}

// Remaining returns the installation and the points its core budget had left after the last
// answer that told; ok is false when no answer did.
func (u *Usage) Remaining() (installation int64, remaining int, ok bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.installation, u.remaining, u.known
}

// record counts one answer (resp nil: the request got none, and cost nothing that can be known).
func (u *Usage) record(installation int64, req *http.Request, resp *http.Response) {
	if resp == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.requests++
	if costsPoint(req, resp) {
		u.points++
	}
	h := resp.Header
	if rem, err := strconv.Atoi(h.Get("X-RateLimit-Remaining")); err == nil {
		if res := h.Get("X-RateLimit-Resource"); res == "" || strings.EqualFold(res, "core") {
			u.installation, u.remaining, u.known = installation, rem, true
		}
	}
}

// costsPoint reports whether GitHub counts the answered request against the primary limit.
func costsPoint(req *http.Request, resp *http.Response) bool {
	switch {
	case resp.StatusCode == http.StatusNotModified, resp.StatusCode >= 500:
		return false
	case req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/rate_limit"):
		return false
	case (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests) &&
		resp.Header.Get("X-RateLimit-Remaining") == "0":
		return false
	}
	return true
}
