package githubapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/bradleyfalzon/ghinstallation/v2"
)

// installationAuth authenticates a client's requests as an installation, and follows the
// installation when the App is reinstalled.
//
// After the App is uninstalled and installed again, the account's installation has a new id.
// GitHub then refuses the old id's token with a 404 from the token endpoint, and the tokens it
// issued with 401 Bad credentials. A refused request never reached the API, so it is safe to
// send again, whatever its method.
//
// On such a refusal the Factory forgets the old id, with its cached lookups, client and
// token. It looks the installation of the request's repository up again and sends the request
// once more with the new installation's token. The client acts as that installation from then
// on. Without this, every message of the account would fail until the process restarts.
type installationAuth struct {
	f  *Factory
	id atomic.Int64 // the installation this client acts as
}

func (a *installationAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	id := a.id.Load()
	resp, err := a.f.tokenTransport(id).RoundTrip(req)
	status, refused := tokenRefused(resp, err)
	if !refused {
		return resp, err
	}
	body, ok := replayBody(req)
	if !ok {
		return resp, err
	}
	newID, lerr := a.f.relookup(req.Context(), id, a.f.repoOf(req))
	if lerr != nil {
		a.f.log.Warn("installation refused by GitHub and not found again", "installation_id", id,
			"status", status, "error", lerr.Error())
		if body != nil {
			body.Close()
		}
		return resp, err
	}
	if newID == id && status != http.StatusUnauthorized {
		// GitHub still names the same installation, whose token it refuses: nothing to follow.
		if body != nil {
			body.Close()
		}
		return resp, err
	}
	a.f.log.Warn("installation refused by GitHub: looked it up again", "installation_id", id,
		"new_installation_id", newID, "status", status, "path", req.URL.Path)
	a.id.CompareAndSwap(id, newID)
	discard(resp)
	var he *ghinstallation.HTTPError
	if errors.As(err, &he) && he.Response != nil && he.Response.Body != nil {
		he.Response.Body.Close() // ghinstallation leaves it open
	}
	r := req.Clone(req.Context())
	r.Body = body
	return a.f.tokenTransport(newID).RoundTrip(r)
}

// tokenRefused reports whether GitHub refused the installation's credentials: its token
// endpoint answered 401 or 404 (ghinstallation's HTTPError), or the API answered 401 to the
// token. It returns the status.
func tokenRefused(resp *http.Response, err error) (int, bool) {
	if err != nil {
		var he *ghinstallation.HTTPError
		if errors.As(err, &he) && he.Response != nil {
			switch code := he.Response.StatusCode; code {
			case http.StatusUnauthorized, http.StatusNotFound:
				return code, true
			}
		}
		return 0, false
	}
	if resp != nil && resp.StatusCode == http.StatusUnauthorized {
		return resp.StatusCode, true
	}
	return 0, false
}

// replayBody returns a fresh copy of the request's body for sending it again (nil for a
// request without one), or false when it cannot be had again.
func replayBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	b, err := req.GetBody()
	return b, err == nil
}

// discard reads a little of a response that is not returned and closes it, so that its
// connection can be reused.
func discard(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}

// tokenTransport returns the token transport of an installation, made once and shared by
// everything that acts as it: its token is fetched once and refreshed by ghinstallation a
// minute before it expires.
func (f *Factory) tokenTransport(id int64) *ghinstallation.Transport {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.tokens[id]; ok {
		return t
	}
	t := ghinstallation.NewFromAppsTransport(f.newAppsTransport(), id)
	t.BaseURL = f.rootURL()
	f.tokens[id] = t
	return t
}

// repoOf returns the lower-case "owner/repo" a request is about (its path is
// <base>/repos/{owner}/{repo}/...), or "" when it is about no repository.
func (f *Factory) repoOf(req *http.Request) string {
	p, ok := strings.CutPrefix(req.URL.Path, f.base.Path)
	if !ok {
		return ""
	}
	parts := strings.SplitN(p, "/", 4)
	if len(parts) < 3 || parts[0] != "repos" || parts[1] == "" || parts[2] == "" {
		return ""
	}
	return strings.ToLower(parts[1] + "/" + parts[2])
}

// relookup forgets installation id (the repositories it was looked up for, its client and its
// token) and looks up again the installation of repoKey ("owner/repo"), or, when that is "",
// of a repository id was looked up for.
func (f *Factory) relookup(ctx context.Context, id int64, repoKey string) (int64, error) {
	f.mu.Lock()
	known := ""
	for k, v := range f.repos {
		if v == id {
			delete(f.repos, k)
			if known == "" || k < known {
				known = k
			}
		}
	}
	delete(f.clients, id)
	delete(f.tokens, id)
	f.mu.Unlock()
	if repoKey == "" {
		repoKey = known
	}
	owner, repo, ok := strings.Cut(repoKey, "/")
	if !ok {
		return 0, fmt.Errorf("githubapp: installation %d refused, and the request names no repository to look its successor up for", id)
	}
	return f.lookup(ctx, owner, repo)
}
