package statusmanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
)

// latestRun returns our newest check run on sha, or nil. It lists runs filtered by name and
// App, then checks both again itself: a server-side filter is not trusted with the decision
// to skip work.
func (sm *StatusManager[T]) latestRun(ctx context.Context, client *github.Client, res *events.Resource, sha string) (*github.CheckRun, error) {
	if client == nil || res == nil {
		return nil, errors.New("statusmanager: nil client or resource")
	}
	q := url.Values{}
	q.Set("check_name", sm.identity)
	q.Set("app_id", strconv.FormatInt(sm.appID, 10))
	q.Set("filter", "latest")
	q.Set("per_page", "100")
	base := fmt.Sprintf("repos/%s/%s/commits/%s/check-runs", url.PathEscape(res.Owner), url.PathEscape(res.Repo), url.PathEscape(sha))
	var newest *github.CheckRun
	for page := 1; ; page++ {
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
		}
		runs, next, err := sm.listConditional(ctx, client, base+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("statusmanager: list check runs of %s at %s: %w", res, sha, err)
		}
		for _, r := range runs {
			if r.GetName() != sm.identity || r.GetApp().GetID() != sm.appID || r.GetHeadSHA() != sha {
				continue
			}
			if newest == nil || r.GetID() > newest.GetID() {
				newest = r
			}
		}
		if next == 0 {
			return newest, nil
		}
	}
}

// listConditional GETs one page of check runs with the ETag of the last answer to the same
// URL, so an unchanged result costs no rate limit (GitHub answers 304, which it does not
// count). Every call goes to GitHub: nothing is served without revalidation, because a
// plain HTTP cache would honour GitHub's max-age=60 and hide what we just wrote.
func (sm *StatusManager[T]) listConditional(ctx context.Context, client *github.Client, u string) ([]*github.CheckRun, int, error) {
	req, err := client.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	key := client.BaseURL.String() + u
	cached, ok := sm.etags.get(key)
	if ok {
		req.Header.Set("If-None-Match", cached.etag)
	}
	var out github.ListCheckRunsResults
	resp, err := client.Do(ctx, req, &out)
	if err != nil {
		var er *github.ErrorResponse
		if ok && errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotModified {
			return cached.runs, cached.next, nil
		}
		return nil, 0, err
	}
	if etag := resp.Header.Get("ETag"); etag != "" {
		sm.etags.put(key, etagEntry{etag: etag, runs: out.CheckRuns, next: resp.NextPage})
	}
	return out.CheckRuns, resp.NextPage, nil
}

type etagEntry struct {
	etag string
	runs []*github.CheckRun // never mutated after caching
	next int
}

// etagCache is a small bounded map from request URL to the last answer. It is written by
// hand because the caching transports available either serve stale answers (max-age) or are
// unmaintained; what is needed here is only "remember the last ETag and body".
type etagCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]etagEntry
	order   []string // insertion order, for eviction of the oldest
}

func newETagCache(max int) *etagCache {
	return &etagCache{max: max, entries: make(map[string]etagEntry)}
}

func (c *etagCache) get(k string) (etagEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	return e, ok
}

func (c *etagCache) put(k string, e etagEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok {
		for len(c.entries) >= c.max && len(c.order) > 0 {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, k)
	}
	c.entries[k] = e
}
