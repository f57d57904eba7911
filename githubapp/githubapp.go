// Package githubapp builds go-github clients for the installations of a GitHub App.
//
// A Factory hands out one client per installation, with cached installation tokens,
// conditional reads, waits on secondary rate limits and bounded retries of safe requests. It
// also admits work by an installation's rate-limit budget (Admit), and Usage counts what the
// requests of one context cost.
package githubapp

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
	"golang.org/x/sync/singleflight"
)

// DefaultBaseURL is the API root of github.com.
const DefaultBaseURL = "https://api.github.com/"

// DefaultRetryBudget is the retry budget used when Options.RetryBudget is zero.
const DefaultRetryBudget = 30 * time.Second

// Options configures a Factory. The zero value talks to api.github.com with the default budget.
type Options struct {
	// BaseURL is the API root, "https://api.github.com/" by default. For GitHub Enterprise
	// Server it is "https://HOST/api/v3/". A missing trailing slash is added.
	BaseURL string
	// RetryBudget is the total time one request may spend waiting on secondary rate limits and
	// on retries of 5xx answers and connection errors. 0 means DefaultRetryBudget. Past it the
	// last error is returned.
	RetryBudget time.Duration
	// Transport is the base transport, default http.DefaultTransport.
	Transport http.RoundTripper
	// Logger receives retry, rate-limit and installation lookup records; nil discards them.
	Logger *slog.Logger
	// BudgetReserve is the rate-limit points Admit keeps back for runs already started; 0
	// means DefaultBudgetReserve, a negative value none.
	BudgetReserve int
	// ResetJitter bounds the random delay after a rate-limit reset or a pause before this
	// Factory admits work again; 0 means DefaultResetJitter, a negative value none.
	ResetJitter time.Duration
	// UserAgent is sent with every request (GitHub asks for one that names the software);
	// "" keeps go-github's.
	UserAgent string
}

// Factory hands out go-github clients authenticated as installations of one GitHub App.
// It is safe for concurrent use; clients are cached per installation and live as long as the Factory.
type Factory struct {
	appID   int64
	key     *rsa.PrivateKey
	base    *url.URL // with trailing slash
	upload  *url.URL // GHES upload URL, nil for the default
	budget  time.Duration
	tr      http.RoundTripper
	log     *slog.Logger
	agent   string
	appOnce sync.Once
	app     *github.Client // authenticated with the App JWT

	mu      sync.Mutex
	clients map[int64]*github.Client
	tokens  map[int64]*ghinstallation.Transport // installation id -> its token transport
	repos   map[string]int64                    // lower-case "owner/repo" -> installation id
	lookups singleflight.Group
	limits  *limits
	// reads are the answers the installations' conditional reads revalidate: one bounded
	// cache for all of them (a process has one Factory), keyed by installation and URL, so
	// nothing is shared between installations or hosts.
	reads *condCache
}

// New returns a Factory for the App appID with the PEM-encoded RSA private key (PKCS#1 or PKCS#8).
// The key is parsed once here; no error or log record ever contains key material.
func New(appID int64, privateKeyPEM []byte, opts Options) (*Factory, error) {
	if appID <= 0 {
		return nil, fmt.Errorf("githubapp: app id must be positive, got %d", appID)
	}
	key, err := parseKey(privateKeyPEM)
	if err != nil {
		return nil, err
	}
	raw := opts.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("githubapp: base URL %q is not an absolute http(s) URL", opts.BaseURL)
	}
	f := &Factory{
		appID:   appID,
		key:     key,
		base:    base,
		budget:  opts.RetryBudget,
		tr:      opts.Transport,
		log:     opts.Logger,
		agent:   opts.UserAgent,
		clients: map[int64]*github.Client{},
		tokens:  map[int64]*ghinstallation.Transport{},
		repos:   map[string]int64{},
		reads:   newCondCache(condMaxEntries, condMaxEntryBytes, condMaxBytes),
	}
	if strings.HasSuffix(base.Path, "/api/v3/") {
		u := *base
		u.Path = strings.TrimSuffix(base.Path, "v3/") + "uploads/"
		f.upload = &u
	}
	if f.budget <= 0 {
		f.budget = DefaultRetryBudget
	}
	if f.tr == nil {
		f.tr = http.DefaultTransport
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	reserve, jitter := opts.BudgetReserve, opts.ResetJitter
	if reserve == 0 {
		reserve = DefaultBudgetReserve
	}
	if jitter == 0 {
		jitter = DefaultResetJitter
	}
	f.limits = newLimits(max(reserve, 0), max(jitter, 0))
	return f, nil
}

// parseKey parses an RSA private key without ever echoing its bytes: the errors of
// crypto/x509 do not include input, and ours only say what kind of problem it was.
func parseKey(p []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(p)
	if block == nil {
		return nil, errors.New("githubapp: private key is not PEM-encoded")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("githubapp: private key PEM block %q is neither a PKCS#1 nor a PKCS#8 private key", block.Type)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("githubapp: private key is a %T, GitHub Apps use RSA keys", k)
	}
	return rk, nil
}

// AppID returns the id of the GitHub App.
func (f *Factory) AppID() int64 { return f.appID }

// rootURL is the base URL without its trailing slash, the form ghinstallation expects.
func (f *Factory) rootURL() string { return strings.TrimSuffix(f.base.String(), "/") }

// newAppsTransport returns a JWT transport over the base transport. Each installation gets
// its own: ghinstallation v2.10.0's Transport.refreshToken writes the BaseURL and Client
// fields of its AppsTransport on every refresh, so one AppsTransport shared by several
// installations is a data race when two of them refresh at once. Signing is all an
// AppsTransport does, and the key is parsed once, so one per installation costs nothing.
func (f *Factory) newAppsTransport() *ghinstallation.AppsTransport {
	atr := ghinstallation.NewAppsTransportFromPrivateKey(f.tr, f.appID, f.key)
	atr.BaseURL = f.rootURL()
	return atr
}

func (f *Factory) newClient(auth http.RoundTripper, who string) *github.Client {
	c := github.NewClient(&http.Client{Transport: f.stack(auth, who)})
	c.BaseURL = f.base
	if f.agent != "" {
		c.UserAgent = f.agent
	}
	if f.upload != nil {
		c.UploadURL = f.upload
	}
	return c
}

// appClient returns the client authenticated as the App itself (JWT), used for the
// installation lookup.
func (f *Factory) appClient() *github.Client {
	f.appOnce.Do(func() { f.app = f.newClient(f.newAppsTransport(), "app") })
	return f.app
}

// AppClient returns the client authenticated as the App itself (App JWT): for the App's own
// endpoints (GET /app, its webhook deliveries), which spend no installation's rate limit.
func (f *Factory) AppClient() *github.Client { return f.appClient() }

// Client returns the cached client of an installation. With installationID 0 the
// installation is looked up from the repository, as the App, and cached per owner/repo.
// Failed lookups are not cached. Client itself sends no request for a known installation: the
// token is fetched on the first API call and refreshed before it expires.
//
// When GitHub refuses an installation's token because the App was reinstalled, the client
// looks the repository's installation up again, once, and sends the request again.
//
// Everything that works on an installation shares its client. go-github then remembers a
// spent rate limit for all of them and fails their calls without a request until the reset.
// IsTransient reports those errors as transient.
func (f *Factory) Client(ctx context.Context, owner, repo string, installationID int64) (*github.Client, error) {
	if installationID < 0 {
		return nil, fmt.Errorf("githubapp: invalid installation id %d", installationID)
	}
	if installationID == 0 {
		id, err := f.lookup(ctx, owner, repo)
		if err != nil {
			return nil, err
		}
		installationID = id
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[installationID]; ok {
		return c, nil
	}
	auth := &installationAuth{f: f}
	auth.id.Store(installationID)
	c := f.newClient(auth, "installation "+strconv.FormatInt(installationID, 10))
	f.clients[installationID] = c
	return c, nil
}

// lookup finds the installation of the App on owner/repo, once per repository: concurrent
// lookups of one repository share a request.
func (f *Factory) lookup(ctx context.Context, owner, repo string) (int64, error) {
	if owner == "" || repo == "" {
		return 0, errors.New("githubapp: owner and repo are needed to look up the installation")
	}
	key := strings.ToLower(owner + "/" + repo)
	f.mu.Lock()
	id, ok := f.repos[key]
	f.mu.Unlock()
	if ok {
		return id, nil
	}
	ch := f.lookups.DoChan(key, func() (any, error) {
		f.mu.Lock()
		id, ok := f.repos[key]
		f.mu.Unlock()
		if ok {
			return id, nil
		}
		// The shared call must not die with the first caller's cancellation while others
		// wait on it; it is still bounded by the retry budget plus a margin.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.budget+30*time.Second)
		defer cancel()
		inst, _, err := f.appClient().Apps.FindRepositoryInstallation(lctx, owner, repo)
		if err != nil {
			return int64(0), fmt.Errorf("githubapp: looking up the installation of %s/%s: %w", owner, repo, err)
		}
		if inst.GetID() == 0 {
			return int64(0), fmt.Errorf("githubapp: GitHub returned no installation id for %s/%s", owner, repo)
		}
		f.mu.Lock()
		f.repos[key] = inst.GetID()
		f.mu.Unlock()
		f.log.Debug("found installation", "repo", owner+"/"+repo, "installation_id", inst.GetID())
		return inst.GetID(), nil
	})
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return 0, r.Err
		}
		return r.Val.(int64), nil
	}
}
