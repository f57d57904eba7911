package githubtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// Route names one endpoint of the fake, in the form "METHOD /path/{param}" of GitHub's documentation.
// It is used for fault injection (FailNext) and observation (Count, Requests).
type Route string

// Routes served by the fake.
const (
	// RouteCreateCheckRun creates a check run.
	RouteCreateCheckRun Route = "POST /repos/{owner}/{repo}/check-runs"
	// RouteUpdateCheckRun updates a check run.
	RouteUpdateCheckRun Route = "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}"
	// RouteGetCheckRun gets one check run.
	RouteGetCheckRun Route = "GET /repos/{owner}/{repo}/check-runs/{check_run_id}"
	// RouteListCheckRunAnnotations lists the annotations of a check run.
	RouteListCheckRunAnnotations Route = "GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations"
	// RouteRerequestCheckRun asks GitHub to re-request a check run (201, the run itself is unchanged).
	RouteRerequestCheckRun Route = "POST /repos/{owner}/{repo}/check-runs/{check_run_id}/rerequest"
	// RouteListCheckRunsForRef lists the check runs of a commit SHA or branch.
	RouteListCheckRunsForRef Route = "GET /repos/{owner}/{repo}/commits/{ref}/check-runs"
	// RouteGetPullRequest gets a pull request.
	RouteGetPullRequest Route = "GET /repos/{owner}/{repo}/pulls/{pull_number}"
	// RouteListPullRequestFiles lists the files of a pull request.
	RouteListPullRequestFiles Route = "GET /repos/{owner}/{repo}/pulls/{pull_number}/files"
	// RouteCompareCommits compares two commits: base...head, the diff of head from their merge base.
	RouteCompareCommits Route = "GET /repos/{owner}/{repo}/compare/{basehead}"
	// RouteGetRepoInstallation gets the App's installation on a repository (App JWT).
	RouteGetRepoInstallation Route = "GET /repos/{owner}/{repo}/installation"
	// RouteCreateInstallationToken creates an installation access token (App JWT).
	RouteCreateInstallationToken Route = "POST /app/installations/{installation_id}/access_tokens"
	// RouteGetApp gets the authenticated App (App JWT).
	RouteGetApp Route = "GET /app"
	// RouteGetRateLimit gets the rate-limit status of the caller; it does not count against the limit.
	RouteGetRateLimit Route = "GET /rate_limit"
	// RouteListHookDeliveries lists the deliveries of the App's webhook (App JWT).
	RouteListHookDeliveries Route = "GET /app/hook/deliveries"
	// RouteRedeliverHookDelivery asks for a delivery of the App's webhook again (App JWT, 202).
	RouteRedeliverHookDelivery Route = "POST /app/hook/deliveries/{delivery_id}/attempts"
)

// allRoutes lists the routes in matching order.
var allRoutes = []Route{
	RouteCreateCheckRun, RouteUpdateCheckRun, RouteGetCheckRun, RouteListCheckRunAnnotations,
	RouteRerequestCheckRun, RouteListCheckRunsForRef, RouteGetPullRequest, RouteListPullRequestFiles,
	RouteCompareCommits, RouteGetRepoInstallation, RouteCreateInstallationToken, RouteGetApp, RouteGetRateLimit,
	RouteListHookDeliveries, RouteRedeliverHookDelivery,
}

// Request is one entry of the request log (see Server.Requests).
type Request struct {
	// Method and Path are those of the HTTP request (Path without the query).
	Method, Path string
	// Route is the matched Route, or "" when no route matched.
	Route string
	// Status is the HTTP status answered (499 when the client went away during the injected latency).
	Status int
	// Installation is the installation the request was authenticated as (0 if none).
	Installation int64
	// RateLimited is true when the request was counted against an installation's primary rate limit.
	RateLimited bool
	// ETagHit is true when a conditional GET was answered 304 Not Modified.
	ETagHit bool
}

// Option configures a Server.
type Option func(*config)

type config struct {
	webURL          string
	latency         time.Duration
	maxAge          time.Duration
	rateLimit       int
	rateWindow      time.Duration
	strictCompleted bool
	tokenTTL        time.Duration
}

// WithWebURL sets the web host used in html_url fields (default "https://github.com").
func WithWebURL(u string) Option { return func(c *config) { c.webURL = strings.TrimSuffix(u, "/") } }

// WithLatency adds d before every response (see also Server.SetLatency).
func WithLatency(d time.Duration) Option { return func(c *config) { c.latency = d } }

// WithMaxAge sets the max-age of the Cache-Control header of GET responses (default 0, GitHub sends 60s).
func WithMaxAge(d time.Duration) Option { return func(c *config) { c.maxAge = d } }

// WithRateLimit sets the hourly primary rate limit of each installation (default 5000).
func WithRateLimit(n int) Option { return func(c *config) { c.rateLimit = n } }

// WithRateLimitWindow sets how often the primary rate limit resets (default an hour, as on
// GitHub), so that a test can see a spent budget come back.
func WithRateLimitWindow(d time.Duration) Option { return func(c *config) { c.rateWindow = d } }

// WithStrictCompleted makes a PATCH that changes the status or conclusion of a completed check run fail with
// 422, instead of GitHub's observed behaviour of accepting the request and keeping the completed state.
func WithStrictCompleted() Option { return func(c *config) { c.strictCompleted = true } }

// WithTokenTTL sets the lifetime of installation tokens (default one hour, as on GitHub).
func WithTokenTTL(d time.Duration) Option { return func(c *config) { c.tokenTTL = d } }

// Server is the fake GitHub API. Create it with NewServer or NewTestServer. All methods are safe for
// concurrent use.
//
// The fake follows the behaviour described in the project's reference spec of the Checks API: it validates
// requests as GitHub does (422 bodies with GitHub's wording), enforces App ownership of check runs, verifies App
// JWTs and installation tokens, sends rate-limit headers with a per-installation primary limit, answers
// conditional GETs with per-token ETags, and lets tests inject failures, secondary rate limits and latency.
// It needs no *testing.T, so it can also back a local demo run.
//
// Choices where GitHub's behaviour is undocumented are listed on the functions and handlers concerned; the
// main ones:
//   - A PATCH with an empty "name" is rejected with 422 (go-github v60 always sends "name"; an empty one is a
//     client bug, not a rename).
//   - A PATCH that tries to change the status or conclusion of a completed run is accepted and the change
//     silently ignored (other fields are applied and annotations appended), unless WithStrictCompleted is given.
//   - Commits are not modelled: any 40-hex head_sha is accepted; anything else gets 422 "No commit found for SHA".
//   - Check run ids start above 2^32 so that code truncating them to 32 bits fails loudly.
//   - List endpoints return check runs newest first (highest id first); GitHub does not document an order.
//   - A comparison (compare/{base}...{head}) knows the head commits pull requests have had, each with the
//     files it changed from its pull request's base, whatever base is named; at most 300 files, as GitHub.
//   - Repositories are private: requests without credentials get 404 for reads and 401 for writes.
//   - An App JWT on a repository endpoint gets 403 "Resource not accessible by integration".
//
// Not modelled: webhooks (a rerequest answers 201 but emits nothing), check suite endpoints, commits and
// branches (a branch ref resolves only through pull request head refs), installation permissions other than
// checks:write, pull_requests:read and contents:read, the 1000-runs-per-name cap, the
// start_column/end_column same-line rule of annotations, and secondary rate limits other than injected ones.
type Server struct {
	srv     *httptest.Server
	cfg     config
	latency atomic.Int64
	outage  atomic.Int64 // a status every request gets, 0 for none

	mu            sync.Mutex
	apps          map[int64]*App
	defaultApp    *App
	nextAppID     int64
	installs      map[int64]*installation
	installByKey  map[string]int64 // appID + "/" + lower(owner)
	nextInstallID int64
	tokens        map[string]*token
	repos         map[string]*repoState // lower(owner/repo)
	nextRepoID    int64
	firstOwner    string
	runs          map[int64]*runState
	runOrder      []*runState
	nextRunID     int64
	suites        map[string]int64 // lower(owner/repo) + appID + sha
	nextSuiteID   int64
	faults        map[Route][]fault
	requests      []Request
	installRate   map[int64]*bucket
	appRate       map[int64]*bucket
	userRate      map[int64]*bucket
	rateUsed      int
	defaultClient *github.Client

	deliveries       []*HookDelivery
	nextDeliveryID   int64
	redeliveryStatus *int
}

type fault struct {
	status     int
	secondary  bool
	retryAfter time.Duration
	afterApply bool // the request takes effect; only its answer is replaced
}

type bucket struct {
	used  int
	reset time.Time
}

// NewServer starts a fake GitHub API server with a default App (ID 1). The API is mounted at the root of URL().
// Call Close when done.
func NewServer(opts ...Option) *Server {
	cfg := config{webURL: "https://github.com", rateLimit: 5000, rateWindow: time.Hour, tokenTTL: time.Hour}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		cfg:           cfg,
		apps:          map[int64]*App{},
		installs:      map[int64]*installation{},
		installByKey:  map[string]int64{},
		tokens:        map[string]*token{},
		repos:         map[string]*repoState{},
		runs:          map[int64]*runState{},
		suites:        map[string]int64{},
		faults:        map[Route][]fault{},
		installRate:   map[int64]*bucket{},
		appRate:       map[int64]*bucket{},
		userRate:      map[int64]*bucket{},
		nextAppID:     1,
		nextInstallID: 1001,
		nextRepoID:    500001,
		nextRunID:     1 << 32,
		nextSuiteID:   1<<32 + 7_000_000,
	}
	s.latency.Store(int64(cfg.latency))
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.defaultApp = s.AddApp("prreconciler-test")
	return s
}

// NewTestServer is NewServer with t.Cleanup(s.Close).
func NewTestServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// URL is the API root, e.g. "http://127.0.0.1:PORT" (no trailing slash).
func (s *Server) URL() string { return s.srv.URL }

// WebURL is the web host used in html_url fields (default "https://github.com").
func (s *Server) WebURL() string { return s.cfg.webURL }

// SetOutage makes every request, on every route, answer status (a 5xx for an outage) until
// SetOutage(0). Nothing is applied meanwhile.
func (s *Server) SetOutage(status int) { s.outage.Store(int64(status)) }

// SetLatency sets a delay added before every response, on every route. A request whose context is cancelled
// while it waits gets no answer.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// FailNext makes the next n requests matching route fail with the given HTTP status and a GitHub-style error
// body. Injected failures are logged but count against no rate limit and change no state.
func (s *Server) FailNext(route Route, n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.faults[route] = append(s.faults[route], fault{status: status})
	}
}

// FailNextAfterApply makes the next n requests matching route take effect as usual (a write
// is applied, its annotations appended) and then answers them with the given status and a
// GitHub-style error body instead of their result: what a client sees when GitHub (or a proxy
// in front of it) fails after doing the work. Only a re-read tells such a client what happened.
func (s *Server) FailNextAfterApply(route Route, n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.faults[route] = append(s.faults[route], fault{status: status, afterApply: true})
	}
}

// ClearFaults drops every failure injected (FailNext, FailNextAfterApply,
// FailNextSecondaryRateLimit) that no request has met yet: GitHub is healthy again.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// FailNextSecondaryRateLimit makes the next n requests matching route fail with GitHub's secondary rate limit
// response: status (403 or 429), the secondary-limit message and documentation_url, a Retry-After header of
// retryAfter (rounded up to whole seconds) and an X-RateLimit-Remaining that is not 0. go-github v60 maps the 403
// form to *github.AbuseRateLimitError.
func (s *Server) FailNextSecondaryRateLimit(route Route, n int, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.faults[route] = append(s.faults[route], fault{status: status, secondary: true, retryAfter: retryAfter})
	}
}

// Requests returns a copy of the request log, in the order the requests were answered.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count is the number of logged requests that matched route, including failed and injected ones.
func (s *Server) Count(route Route) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Route == string(route) {
			n++
		}
	}
	return n
}

// RateLimitUsed is the total number of requests counted against the primary rate limits of installations
// since the start or the last ResetCounters. 304 answers, injected failures and App JWT requests do not count.
func (s *Server) RateLimitUsed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateUsed
}

// ResetCounters clears the request log and the RateLimitUsed total. Rate-limit buckets are not refilled.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.rateUsed = 0
}

// response is what a handler produces; serveHTTP adds the common headers.
type response struct {
	status       int
	body         []byte
	header       http.Header
	lastModified time.Time
}

func jsonResponse(status int, v any) *response {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("githubtest: marshal: %v", err))
	}
	return &response{status: status, body: b}
}

const docsRoot = "https://docs.github.com/rest"

// apiError is GitHub's "Basic Error" body, with the optional errors array of validation failures.
type apiError struct {
	Message          string      `json:"message"`
	Errors           []errorItem `json:"errors,omitempty"`
	DocumentationURL string      `json:"documentation_url"`
	Status           string      `json:"status"`
}

// errorItem is one entry of "errors" (message only for code "custom", as GitHub sends it).
type errorItem struct {
	Resource string `json:"resource"`
	Code     string `json:"code"`
	Field    string `json:"field"`
	Message  string `json:"message,omitempty"`
}

func errorResponse(status int, message, doc string) *response {
	if doc == "" {
		doc = docsRoot
	}
	return jsonResponse(status, apiError{Message: message, DocumentationURL: doc, Status: strconv.Itoa(status)})
}

func notFound() *response { return errorResponse(http.StatusNotFound, "Not Found", docsRoot) }

// authn is the result of authenticating a request.
type authn struct {
	install *installation // installation token
	app     *App          // App JWT
	user    string        // personal access token (AddUserToken)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	route, params := matchRoute(r.Method, r.URL.Path)
	entry := Request{Method: r.Method, Path: r.URL.Path, Route: string(route)}
	if d := time.Duration(s.latency.Load()); d > 0 {
		if !sleepCtx(r.Context(), d) {
			entry.Status = 499
			s.log(entry)
			return
		}
	}
	resp, hdr := s.handle(r, route, params, &entry)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Request-Id", fmt.Sprintf("FAKE:%08X", time.Now().UnixNano()&0xffffffff))
	for k, v := range hdr {
		h[k] = v
	}
	for k, v := range resp.header {
		h[k] = v
	}
	entry.Status = resp.status
	s.log(entry)
	if resp.status == http.StatusNotModified {
		h.Del("Content-Type")
		w.WriteHeader(resp.status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

func (s *Server) log(e Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, e)
}

// handle authenticates, applies faults and rate limits, runs the route's handler and the conditional-GET logic.
// It returns the response and the rate-limit headers.
func (s *Server) handle(r *http.Request, route Route, params map[string]string, entry *Request) (*response, http.Header) {
	hdr := http.Header{}
	if st := int(s.outage.Load()); st != 0 {
		return s.faultResponse(r, route, params, fault{status: st}), hdr
	}
	if f, ok := s.takeFault(route); ok {
		if !f.afterApply {
			return s.faultResponse(r, route, params, f), hdr
		}
		// Apply the request, then drop its answer.
		if _, h := s.handle(r, route, params, entry); h != nil {
			hdr = h
		}
		return s.faultResponse(r, route, params, f), hdr
	}
	if route == "" {
		return notFound(), hdr
	}
	var body []byte
	if r.Body != nil {
		b := new(bytes.Buffer)
		if _, err := b.ReadFrom(http.MaxBytesReader(nil, r.Body, 32<<20)); err != nil {
			return errorResponse(http.StatusBadRequest, "Problems parsing JSON", docsRoot), hdr
		}
		body = b.Bytes()
	}
	a, errResp := s.authenticate(r, route, params)
	if errResp != nil {
		return errResp, hdr
	}
	// Primary rate limit: reserve a point before the handler runs, refund it on 304.
	var b *bucket
	counted := route != RouteGetRateLimit
	s.mu.Lock()
	if a.install != nil {
		entry.Installation = a.install.id
		b = s.bucketFor(s.installRate, a.install.id)
	} else if a.app != nil {
		b = s.bucketFor(s.appRate, a.app.ID)
	} else if a.user != "" {
		b = s.bucketFor(s.userRate, ownerID(a.user))
	}
	if b != nil && counted && b.used >= s.cfg.rateLimit {
		setRateHeaders(hdr, s.cfg.rateLimit, b)
		s.mu.Unlock()
		msg := "API rate limit exceeded."
		if a.install != nil {
			msg = fmt.Sprintf("API rate limit exceeded for installation ID %d. If you reach out to GitHub Support for help, please include the request ID %s.", a.install.id, "FAKE")
		}
		return errorResponse(http.StatusForbidden, msg, "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-rate-limits"), hdr
	}
	if b != nil && counted {
		b.used++
		if a.install != nil {
			s.rateUsed++
			entry.RateLimited = true
		}
	}
	s.mu.Unlock()

	resp := s.dispatch(r, route, params, a, body)

	if r.Method == http.MethodGet && resp.status == http.StatusOK {
		etag := computeETag(r.Header.Get("Accept"), r.Header.Get("Authorization"), resp.body)
		if resp.header == nil {
			resp.header = http.Header{}
		}
		resp.header.Set("ETag", etag)
		resp.header.Set("Cache-Control", fmt.Sprintf("private, max-age=%d, s-maxage=%d", int(s.cfg.maxAge/time.Second), int(s.cfg.maxAge/time.Second)))
		resp.header.Set("Vary", "Accept, Authorization, Cookie")
		if !resp.lastModified.IsZero() {
			resp.header.Set("Last-Modified", resp.lastModified.UTC().Format(http.TimeFormat))
		}
		if notModified(r, etag, resp.lastModified) {
			resp = &response{status: http.StatusNotModified, header: resp.header}
			entry.ETagHit = true
			if b != nil && counted {
				s.mu.Lock()
				b.used--
				if a.install != nil {
					s.rateUsed--
					entry.RateLimited = false
				}
				s.mu.Unlock()
			}
		}
	}
	if b != nil {
		s.mu.Lock()
		setRateHeaders(hdr, s.cfg.rateLimit, b)
		s.mu.Unlock()
	}
	return resp, hdr
}

// computeETag is GitHub's (reverse-engineered) strong ETag: sha256 over Accept, Authorization and the body.
func computeETag(accept, authorization string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(accept + ":" + authorization + ":"))
	h.Write(body)
	return `"` + hex.EncodeToString(h.Sum(nil)) + `"`
}

func notModified(r *http.Request, etag string, lastModified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == etag {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" && !lastModified.IsZero() {
		if t, err := http.ParseTime(ims); err == nil && !lastModified.Truncate(time.Second).After(t) {
			return true
		}
	}
	return false
}

// bucketFor returns the bucket of id, refilled when its hour is over. s.mu must be held.
func (s *Server) bucketFor(m map[int64]*bucket, id int64) *bucket {
	b := m[id]
	now := time.Now()
	if b == nil || now.After(b.reset) {
		b = &bucket{reset: now.Add(s.cfg.rateWindow).Truncate(time.Second)}
		m[id] = b
	}
	return b
}

func setRateHeaders(h http.Header, limit int, b *bucket) {
	remaining := limit - b.used
	if remaining < 0 {
		remaining = 0
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(b.used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(b.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

func (s *Server) takeFault(route Route) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[route]
	if len(q) == 0 {
		return fault{}, false
	}
	f := q[0]
	if len(q) == 1 {
		delete(s.faults, route)
	} else {
		s.faults[route] = q[1:]
	}
	return f, true
}

const secondaryMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID FAKE."

func (s *Server) faultResponse(r *http.Request, route Route, params map[string]string, f fault) *response {
	if !f.secondary {
		msg := http.StatusText(f.status)
		if f.status >= 500 {
			msg = "Server Error"
		}
		return errorResponse(f.status, msg, docsRoot)
	}
	resp := errorResponse(f.status, secondaryMessage, "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits")
	resp.header = http.Header{}
	resp.header.Set("Retry-After", strconv.Itoa(int(math.Ceil(f.retryAfter.Seconds()))))
	// Rate headers of the caller's bucket, never showing 0 remaining (that would be a primary limit).
	b := &bucket{reset: time.Now().Add(s.cfg.rateWindow).Truncate(time.Second)}
	if a, errResp := s.authenticate(r, route, params); errResp == nil && a.install != nil {
		s.mu.Lock()
		cp := *s.bucketFor(s.installRate, a.install.id)
		s.mu.Unlock()
		b = &cp
	}
	if b.used >= s.cfg.rateLimit {
		b.used = s.cfg.rateLimit - 1
	}
	setRateHeaders(resp.header, s.cfg.rateLimit, b)
	if s.cfg.rateLimit-b.used <= 0 {
		resp.header.Set("X-RateLimit-Remaining", "1")
	}
	return resp
}

// matchRoute finds the route of a request and its path parameters.
func matchRoute(method, path string) (Route, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, rt := range allRoutes {
		m, p, _ := strings.Cut(string(rt), " ")
		if m != method {
			continue
		}
		pat := strings.Split(strings.Trim(p, "/"), "/")
		if params, ok := matchSegments(pat, segs); ok {
			return rt, params
		}
	}
	return "", nil
}

func matchSegments(pat, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	// {ref} may span several segments (heads/feature/x): it takes what the rest of the pattern leaves.
	extra := len(segs) - len(pat)
	j := 0
	for i, ps := range pat {
		if j >= len(segs) {
			return nil, false
		}
		if ps == "{ref}" && extra >= 0 {
			n := 1 + extra
			if j+n > len(segs) {
				return nil, false
			}
			params["ref"] = strings.Join(segs[j:j+n], "/")
			j += n
			continue
		}
		_ = i
		if strings.HasPrefix(ps, "{") {
			if segs[j] == "" {
				return nil, false
			}
			params[strings.Trim(ps, "{}")] = segs[j]
		} else if ps != segs[j] {
			return nil, false
		}
		j++
	}
	if j != len(segs) {
		return nil, false
	}
	return params, true
}

// dispatch runs the handler of a route.
func (s *Server) dispatch(r *http.Request, route Route, p map[string]string, a authn, body []byte) *response {
	switch route {
	case RouteCreateCheckRun:
		return s.createCheckRun(p, a, body)
	case RouteUpdateCheckRun:
		return s.updateCheckRun(p, a, body)
	case RouteGetCheckRun:
		return s.getCheckRun(p, a)
	case RouteListCheckRunAnnotations:
		return s.listAnnotations(r, p, a)
	case RouteRerequestCheckRun:
		return s.rerequestCheckRun(p, a)
	case RouteListCheckRunsForRef:
		return s.listCheckRuns(r, p, a)
	case RouteGetPullRequest:
		return s.getPullRequest(p, a)
	case RouteListPullRequestFiles:
		return s.listPullRequestFiles(r, p, a)
	case RouteCompareCommits:
		return s.compareCommits(r, p, a)
	case RouteGetRepoInstallation:
		return s.getRepoInstallation(p, a)
	case RouteCreateInstallationToken:
		return s.createInstallationToken(p, a, body)
	case RouteGetApp:
		return jsonResponse(http.StatusOK, s.appJSON(a.app))
	case RouteGetRateLimit:
		return s.getRateLimit(a)
	case RouteListHookDeliveries:
		return s.listHookDeliveries(r, a)
	case RouteRedeliverHookDelivery:
		return s.redeliverHookDelivery(p, a)
	}
	return notFound()
}

func (s *Server) getRateLimit(a authn) *response {
	s.mu.Lock()
	var b *bucket
	switch {
	case a.install != nil:
		b = s.bucketFor(s.installRate, a.install.id)
	case a.app != nil:
		b = s.bucketFor(s.appRate, a.app.ID)
	default:
		b = s.bucketFor(s.userRate, ownerID(a.user))
	}
	rem := s.cfg.rateLimit - b.used
	if rem < 0 {
		rem = 0
	}
	core := map[string]any{"limit": s.cfg.rateLimit, "used": b.used, "remaining": rem, "reset": b.reset.Unix(), "resource": "core"}
	s.mu.Unlock()
	return jsonResponse(http.StatusOK, map[string]any{"resources": map[string]any{"core": core}, "rate": core})
}

// sleepCtx waits d or until ctx is done; it reports whether the full duration elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
