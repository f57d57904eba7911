package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v60/github"
)

// App is a GitHub App known to the fake.
type App struct {
	// ID is the App id (the JWT issuer).
	ID int64
	// Slug is the URL name of the App.
	Slug string
	// Name is the display name of the App.
	Name string
	// PrivateKeyPEM is the App's RSA private key, PKCS#1 PEM ("RSA PRIVATE KEY"), as GitHub hands it out.
	PrivateKeyPEM []byte

	key       *rsa.PrivateKey
	createdAt time.Time
}

// PrivateKey is the App's parsed RSA private key.
func (a *App) PrivateKey() *rsa.PrivateKey { return a.key }

type installation struct {
	id        int64
	app       *App
	owner     string // as given to Install
	createdAt time.Time
}

type token struct {
	value   string
	app     *App
	install *installation // nil: any installation of app, resolved from the request's owner (Server.Client)
	user    string        // a personal access token of this login (app and install nil)
	expires time.Time
}

// Keys are slow to generate: one pool per process, the i-th App of every Server uses the i-th key.
var (
	keyMu   sync.Mutex
	keyPool []*rsa.PrivateKey
)

func poolKey(i int) *rsa.PrivateKey {
	keyMu.Lock()
	defer keyMu.Unlock()
	for len(keyPool) <= i {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(fmt.Sprintf("githubtest: generating an RSA key: %v", err))
		}
		keyPool = append(keyPool, k)
	}
	return keyPool[i]
}

// App returns the default App (ID 1), created by NewServer.
func (s *Server) App() *App { return s.defaultApp }

// AddApp registers another GitHub App with a new id and its own private key.
func (s *Server) AddApp(slug string) *App {
	s.mu.Lock()
	id := s.nextAppID
	s.nextAppID++
	s.mu.Unlock()
	key := poolKey(int(id - 1))
	app := &App{
		ID:            id,
		Slug:          slug,
		Name:          slug,
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		key:           key,
		createdAt:     time.Now().UTC().Truncate(time.Second),
	}
	s.mu.Lock()
	s.apps[id] = app
	s.mu.Unlock()
	return app
}

// Install installs app on all repositories of owner (one installation per App and owner) and returns the
// installation id. Installing again returns the same id.
func (s *Server) Install(app *App, owner string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.installLocked(app, owner)
}

func (s *Server) installLocked(app *App, owner string) int64 {
	k := installKey(app.ID, owner)
	if id, ok := s.installByKey[k]; ok {
		return id
	}
	id := s.nextInstallID
	s.nextInstallID++
	s.installs[id] = &installation{id: id, app: app, owner: owner, createdAt: time.Now().UTC().Truncate(time.Second)}
	s.installByKey[k] = id
	return id
}

// Uninstall removes app's installation on owner, as uninstalling the App on GitHub does: its
// tokens stop working (401 Bad credentials), new tokens for its id are refused (404), and
// the repository lookup answers 404. A later Install makes a new installation with a new id,
// as reinstalling does on GitHub. It reports whether there was an installation.
func (s *Server) Uninstall(app *App, owner string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := installKey(app.ID, owner)
	id, ok := s.installByKey[k]
	if !ok {
		return false
	}
	inst := s.installs[id]
	delete(s.installByKey, k)
	delete(s.installs, id)
	for v, t := range s.tokens {
		if t.install == inst {
			delete(s.tokens, v)
		}
	}
	return true
}

func installKey(appID int64, owner string) string {
	return strconv.FormatInt(appID, 10) + "/" + strings.ToLower(owner)
}

// InstallationID returns the id of app's installation on owner, or 0 if it is not installed there.
func (s *Server) InstallationID(app *App, owner string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.installByKey[installKey(app.ID, owner)]
}

// IssueToken creates an installation access token for installationID directly (as
// POST /app/installations/{id}/access_tokens would) and returns it with its expiry. It panics if the
// installation does not exist.
func (s *Server) IssueToken(installationID int64) (string, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installs[installationID]
	if inst == nil {
		panic(fmt.Sprintf("githubtest: IssueToken: no installation %d", installationID))
	}
	t := s.newTokenLocked(inst.app, inst)
	return t.value, t.expires
}

func (s *Server) newTokenLocked(app *App, inst *installation) *token {
	t := &token{value: "ghs_" + randomString(36), app: app, install: inst, expires: time.Now().Add(s.cfg.tokenTTL).Truncate(time.Second)}
	s.tokens[t.value] = t
	return t
}

// AddUserToken returns a new personal access token ("ghp_…", no expiry) of user login. As on GitHub, it can
// read check runs and pull requests (of every repository of the fake) but not write check runs: those requests
// get 403 "You must authenticate via a GitHub App.". Its requests have their own rate-limit bucket, not counted
// in RateLimitUsed.
func (s *Server) AddUserToken(login string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &token{value: "ghp_" + randomString(36), user: login, expires: time.Now().Add(100 * 365 * 24 * time.Hour)}
	s.tokens[t.value] = t
	return t.value
}

// ExpireTokens makes every installation token issued so far expired: requests using them get 401 Bad
// credentials. Clients from Client and ClientFor notice and fetch new ones; ghinstallation trusts the
// expires_at it was given, so its requests keep failing until then. Personal access tokens are not affected.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, t := range s.tokens {
		if t.user == "" {
			t.expires = past
		}
	}
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alnum)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b[i] = alnum[v.Int64()]
	}
	return string(b)
}

// Client returns a go-github client authenticated as the default App's installations: its token works for
// every owner the default App is installed on (AddRepo installs it), the installation being chosen from the
// owner in the request path, so rate limits are counted per installation as on GitHub. BaseURL is URL()+"/".
// The client is created once and shared.
func (s *Server) Client() *github.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.defaultClient == nil {
		tr := &tokenTransport{s: s, app: s.defaultApp}
		s.defaultClient = s.newClient(&http.Client{Transport: tr})
	}
	return s.defaultClient
}

// ClientFor returns a go-github client authenticated with installation tokens of installationID, issued
// directly (as ghinstallation would get them) and renewed before they expire. BaseURL is URL()+"/".
// It panics if app is not the App of that installation.
func (s *Server) ClientFor(app *App, installationID int64) *github.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installs[installationID]
	if inst == nil || inst.app.ID != app.ID {
		panic(fmt.Sprintf("githubtest: ClientFor: installation %d is not an installation of App %d", installationID, app.ID))
	}
	return s.newClient(&http.Client{Transport: &tokenTransport{s: s, app: app, install: inst}})
}

// AppClient returns a go-github client authenticated as app with a fresh RS256 JWT on each request, for the
// /app endpoints and GET /repos/{owner}/{repo}/installation. BaseURL is URL()+"/".
func (s *Server) AppClient(app *App) *github.Client {
	return s.newClient(&http.Client{Transport: &jwtTransport{app: app}})
}

func (s *Server) newClient(hc *http.Client) *github.Client {
	c := github.NewClient(hc)
	u, _ := url.Parse(s.URL() + "/")
	c.BaseURL = u
	c.UploadURL = u
	return c
}

// tokenTransport adds "Authorization: token <installation token>", renewing the token a minute before expiry.
type tokenTransport struct {
	s       *Server
	app     *App
	install *installation // nil: any installation of app
	mu      sync.Mutex
	tok     string
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.s.mu.Lock()
	cur := t.s.tokens[t.tok]
	if cur == nil || time.Now().After(cur.expires.Add(-time.Minute)) {
		cur = t.s.newTokenLocked(t.app, t.install)
		t.tok = cur.value
	}
	t.s.mu.Unlock()
	tok := t.tok
	t.mu.Unlock()
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "token "+tok)
	return http.DefaultTransport.RoundTrip(r)
}

// jwtTransport adds "Authorization: Bearer <App JWT>".
type jwtTransport struct{ app *App }

func (t *jwtTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	j, err := SignJWT(t.app, time.Now().Add(-30*time.Second), 2*time.Minute)
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+j)
	return http.DefaultTransport.RoundTrip(r)
}

// SignJWT returns an App JWT for app (RS256, iss = app id) issued at iat and expiring ttl later, as
// ghinstallation makes them. Useful to test expired or too-long-lived tokens.
func SignJWT(app *App, iat time.Time, ttl time.Duration) (string, error) {
	claims := jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(app.ID, 10),
		IssuedAt:  jwt.NewNumericDate(iat.Truncate(time.Second)),
		ExpiresAt: jwt.NewNumericDate(iat.Truncate(time.Second).Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(app.key)
}

const (
	msgBadJWT         = "A JSON web token could not be decoded"
	msgBadCredentials = "Bad credentials"
	docAuth           = "https://docs.github.com/rest"
)

// routeAuth: which credential a route takes.
func jwtRoute(r Route) bool {
	return r == RouteCreateInstallationToken || r == RouteGetRepoInstallation || r == RouteGetApp ||
		r == RouteListHookDeliveries || r == RouteRedeliverHookDelivery
}

// authenticate checks the Authorization header as GitHub does for the route.
func (s *Server) authenticate(r *http.Request, route Route, params map[string]string) (authn, *response) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	cred = strings.TrimSpace(cred)
	scheme = strings.ToLower(scheme)
	if jwtRoute(route) {
		if scheme != "bearer" || cred == "" {
			return authn{}, errorResponse(http.StatusUnauthorized, msgBadJWT, docAuth)
		}
		app, msg := s.verifyJWT(cred)
		if app == nil {
			return authn{}, errorResponse(http.StatusUnauthorized, msg, docAuth)
		}
		return authn{app: app}, nil
	}
	if scheme == "" {
		if r.Method == http.MethodGet {
			return authn{}, notFound() // private repositories
		}
		return authn{}, errorResponse(http.StatusUnauthorized, "Requires authentication", docAuth)
	}
	if scheme != "token" && scheme != "bearer" {
		return authn{}, errorResponse(http.StatusUnauthorized, msgBadCredentials, docAuth)
	}
	if strings.Count(cred, ".") == 2 {
		// An App JWT on an installation endpoint.
		if app, _ := s.verifyJWT(cred); app != nil {
			return authn{}, errorResponse(http.StatusForbidden, "Resource not accessible by integration", docsRoot)
		}
		return authn{}, errorResponse(http.StatusUnauthorized, msgBadCredentials, docAuth)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[cred]
	if t == nil || time.Now().After(t.expires) {
		return authn{}, errorResponse(http.StatusUnauthorized, msgBadCredentials, docAuth)
	}
	if t.user != "" {
		if route == RouteCreateCheckRun || route == RouteUpdateCheckRun || route == RouteRerequestCheckRun {
			return authn{}, errorResponse(http.StatusForbidden, "You must authenticate via a GitHub App.", "https://docs.github.com/rest/reference/checks#create-a-check-run")
		}
		return authn{user: t.user}, nil
	}
	inst := t.install
	if inst == nil {
		// Server.Client's token: the installation of its App on the request's owner.
		owner := params["owner"]
		if id, ok := s.installByKey[installKey(t.app.ID, owner)]; ok {
			inst = s.installs[id]
		} else if route == RouteGetRateLimit {
			if id, ok := s.installByKey[installKey(t.app.ID, s.firstOwner)]; ok {
				inst = s.installs[id]
			}
		}
		if inst == nil {
			return authn{}, notFound()
		}
	}
	return authn{install: inst}, nil
}

// verifyJWT checks an App JWT as GitHub does: RS256 signed by the App of iss, exp - iat at most 10 minutes,
// not expired, not issued in the future (60 s of clock drift allowed).
func (s *Server) verifyJWT(raw string) (*App, string) {
	var claims jwt.RegisteredClaims
	p := jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithValidMethods([]string{"RS256"}))
	var app *App
	_, err := p.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		id, err := strconv.ParseInt(claims.Issuer, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad iss")
		}
		s.mu.Lock()
		app = s.apps[id]
		s.mu.Unlock()
		if app == nil {
			return nil, fmt.Errorf("unknown app")
		}
		return &app.key.PublicKey, nil
	})
	if err != nil || app == nil {
		return nil, msgBadJWT
	}
	now := time.Now()
	if claims.IssuedAt == nil || claims.IssuedAt.Time.After(now.Add(60*time.Second)) {
		return nil, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued."
	}
	if claims.ExpiresAt == nil || !claims.ExpiresAt.Time.After(now) {
		return nil, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires."
	}
	if claims.ExpiresAt.Time.Sub(claims.IssuedAt.Time) > 10*time.Minute {
		return nil, "'Expiration time' claim ('exp') is too far in the future."
	}
	return app, ""
}

// createInstallationToken: POST /app/installations/{installation_id}/access_tokens.
func (s *Server) createInstallationToken(p map[string]string, a authn, body []byte) *response {
	const doc = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
	id, err := strconv.ParseInt(p["installation_id"], 10, 64)
	if err != nil {
		return errorResponse(http.StatusNotFound, "Not Found", doc)
	}
	if b := strings.TrimSpace(string(body)); b != "" && b != "null" {
		var opts map[string]json.RawMessage
		if err := json.Unmarshal(body, &opts); err != nil {
			return errorResponse(http.StatusBadRequest, "Problems parsing JSON", doc)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installs[id]
	if inst == nil || inst.app.ID != a.app.ID {
		return errorResponse(http.StatusNotFound, "Not Found", doc)
	}
	t := s.newTokenLocked(inst.app, inst)
	return jsonResponse(http.StatusCreated, map[string]any{
		"token":                t.value,
		"expires_at":           t.expires.UTC().Format(time.RFC3339),
		"permissions":          permissions(),
		"repository_selection": "all",
	})
}

func permissions() map[string]string {
	return map[string]string{"checks": "write", "pull_requests": "read", "contents": "read", "metadata": "read"}
}

// getRepoInstallation: GET /repos/{owner}/{repo}/installation.
func (s *Server) getRepoInstallation(p map[string]string, a authn) *response {
	const doc = "https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app"
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.repos[repoKey(p["owner"], p["repo"])]
	if repo == nil {
		return errorResponse(http.StatusNotFound, "Not Found", doc)
	}
	id, ok := s.installByKey[installKey(a.app.ID, repo.owner)]
	if !ok {
		return errorResponse(http.StatusNotFound, "Not Found", doc)
	}
	return jsonResponse(http.StatusOK, s.installationJSON(s.installs[id]))
}

func (s *Server) installationJSON(inst *installation) map[string]any {
	ts := inst.createdAt.Format(time.RFC3339)
	return map[string]any{
		"id":                   inst.id,
		"account":              s.userJSON(inst.owner),
		"app_id":               inst.app.ID,
		"app_slug":             inst.app.Slug,
		"target_id":            ownerID(inst.owner),
		"target_type":          "Organization",
		"repository_selection": "all",
		"access_tokens_url":    fmt.Sprintf("%s/app/installations/%d/access_tokens", s.URL(), inst.id),
		"repositories_url":     s.URL() + "/installation/repositories",
		"html_url":             fmt.Sprintf("%s/organizations/%s/settings/installations/%d", s.WebURL(), inst.owner, inst.id),
		"permissions":          permissions(),
		"events":               []string{"check_run", "check_suite", "pull_request"},
		"created_at":           ts,
		"updated_at":           ts,
	}
}

func (s *Server) appJSON(app *App) map[string]any {
	ts := app.createdAt.Format(time.RFC3339)
	return map[string]any{
		"id":           app.ID,
		"slug":         app.Slug,
		"node_id":      base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("03:Integration%d", app.ID))),
		"owner":        s.userJSON("prreconciler"),
		"name":         app.Name,
		"description":  "",
		"external_url": "https://example.com/apps/" + app.Slug,
		"html_url":     s.WebURL() + "/apps/" + app.Slug,
		"created_at":   ts,
		"updated_at":   ts,
		"permissions":  permissions(),
		"events":       []string{"check_run", "check_suite", "pull_request"},
	}
}

func (s *Server) userJSON(login string) map[string]any {
	id := ownerID(login)
	return map[string]any{
		"login":    login,
		"id":       id,
		"node_id":  base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("04:User%d", id))),
		"url":      s.URL() + "/users/" + login,
		"html_url": s.WebURL() + "/" + login,
		"type":     "Organization",
	}
}

// ownerID derives a stable numeric id from a login.
func ownerID(login string) int64 {
	var h int64 = 7
	for _, c := range strings.ToLower(login) {
		h = (h*31 + int64(c)) % 1_000_000_007
	}
	return h
}
