package githubapp

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// FromCacheHeader is set, to "revalidated", on the answers of an installation client whose
// body comes from its cache of conditional reads: GitHub answered 304 Not Modified to the
// ETag of the last 200 to the same request, and the client returns that 200's body with the
// 304's headers (so X-RateLimit-* are fresh). The 304 cost no rate-limit point. Nothing is
// ever served without asking GitHub first.
const FromCacheHeader = "X-From-Cache"

// Bounds of a Factory's cache of conditional reads, shared by all of its installation clients.
const (
	condMaxEntries    = 1024
	condMaxEntryBytes = 4 << 20  // a larger body is passed through and not kept
	condMaxBytes      = 64 << 20 // 1024 entries of 4 MiB would be 4 GiB
)

// conditionalTransport makes every GET that has no validators of its own a conditional one,
// so that reading again what has not changed costs no rate-limit point (GitHub does not count
// a 304): it sends If-None-Match with the ETag of the last 200 answer to the same request,
// and turns a 304 into that 200 again (see FromCacheHeader). It always revalidates: GitHub's
// Cache-Control max-age=60 is ignored, since serving without asking would hide what we just
// wrote. Requests that carry their own If-None-Match, If-Modified-Since (the status manager
// does its own conditional reads) or Range pass through untouched, and so does every method
// but GET. Only 200 answers with an ETag are kept. Safe for concurrent use.
//
// The key is the credentials, the URL and the request headers GitHub varies on. ETags are
// per token: when the request carries its Authorization, the key holds its SHA-256. Placed
// above ghinstallation, which adds the token below, it does not; scope then names the
// installation instead, and after the hourly token rotation the first conditional read of
// each URL misses (GitHub answers the old ETag with a 200, which replaces the entry), the
// same cost as a read without a cache. A 304 is only ever taken from GitHub as proof that
// the kept body is what the request would read, so the key decides only what is asked.
type conditionalTransport struct {
	next  http.RoundTripper
	cache *condCache
	// scope names the credentials of requests without an Authorization header; nil for none.
	scope func() string
}

func (t *conditionalTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || hasValidators(req.Header) {
		return t.next.RoundTrip(req)
	}
	key := t.key(req)
	e := t.cache.get(key)
	if e != nil && !e.varyMatches(req.Header) {
		e = nil // a request header GitHub varies on differs: ask afresh, the answer replaces it
	}
	sent := req
	if e != nil {
		sent = req.Clone(req.Context()) // a RoundTripper must not change the caller's request
		sent.Header.Set("If-None-Match", e.etag)
	}
	resp, err := t.next.RoundTrip(sent)
	if err != nil || resp == nil {
		return resp, err
	}
	switch code := resp.StatusCode; {
	case code == http.StatusNotModified && e != nil:
		// e is immutable, so it serves this answer even if it was evicted meanwhile.
		return e.response(req, resp), nil
	case code == http.StatusOK:
		return t.keep(key, req, resp), nil
	case code >= 400 && code < 500:
		t.cache.remove(key) // gone or no longer ours: its body will not be read again
	}
	// Anything else as it came, 5xx included (the entry stays for the retry), and a 304 to a
	// request that was not made conditional here (GitHub does not send one: go-github then
	// returns it as an *ErrorResponse, nothing is invented).
	return resp, nil
}

// hasValidators reports whether a request is conditional (or partial) already.
func hasValidators(h http.Header) bool {
	for _, k := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"} {
		if h.Get(k) != "" {
			return true
		}
	}
	return false
}

func (t *conditionalTransport) key(req *http.Request) string {
	var who string
	if a := req.Header.Get("Authorization"); a != "" {
		sum := sha256.Sum256([]byte(a))
		who = "token " + hex.EncodeToString(sum[:])
	} else if t.scope != nil {
		who = t.scope()
	}
	// go-github sets Accept and X-GitHub-Api-Version on every request; Accept-Encoding, when a
	// caller sets it, decides whether the body is kept compressed.
	return strings.Join([]string{who, req.URL.String(), req.Header.Get("Accept"),
		req.Header.Get("X-GitHub-Api-Version"), req.Header.Get("Accept-Encoding")}, "\x00")
}

// keep stores a 200 answer with an ETag that fits the bounds, and returns it with a body
// that reads the same bytes.
func (t *conditionalTransport) keep(key string, req *http.Request, resp *http.Response) *http.Response {
	etag := resp.Header.Get("ETag")
	vary, ok := varyOf(req.Header, resp.Header)
	if etag == "" || !ok || noStore(resp.Header) || resp.ContentLength > t.cache.maxEntry {
		t.cache.remove(key)
		return resp
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, t.cache.maxEntry+1))
	if err != nil || int64(len(body)) > t.cache.maxEntry {
		// Not kept; the caller reads what was read, then the rest or the error.
		t.cache.remove(key)
		rest := resp.Body
		if err != nil {
			rest = io.NopCloser(errReader{err})
		}
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), rest), resp.Body}
		return resp
	}
	resp.Body.Close()
	t.cache.add(key, &condEntry{etag: etag, header: resp.Header.Clone(), body: body, vary: vary})
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

// varyOf returns the request's values of the headers the answer varies on, but
// Authorization, which the key covers; false for "Vary: *".
func varyOf(reqH, respH http.Header) (map[string]string, bool) {
	var vary map[string]string
	for _, line := range respH.Values("Vary") {
		for _, name := range strings.Split(line, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			switch name {
			case "":
				continue
			case "*":
				return nil, false
			case "Authorization":
				continue
			}
			if vary == nil {
				vary = map[string]string{}
			}
			vary[name] = strings.Join(reqH.Values(name), ", ")
		}
	}
	return vary, true
}

func noStore(h http.Header) bool {
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			if strings.EqualFold(strings.TrimSpace(d), "no-store") {
				return true
			}
		}
	}
	return false
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type readCloser struct {
	io.Reader
	io.Closer
}

// condEntry is a kept 200 answer; never changed once kept.
type condEntry struct {
	etag   string
	header http.Header
	body   []byte
	vary   map[string]string // request header values the answer varies on
}

func (e *condEntry) varyMatches(h http.Header) bool {
	for name, v := range e.vary {
		if strings.Join(h.Values(name), ", ") != v {
			return false
		}
	}
	return true
}

// response is the kept 200 answer again, with the headers of the 304 that revalidated it
// (its rate-limit headers are the current ones) and FromCacheHeader.
func (e *condEntry) response(req *http.Request, notModified *http.Response) *http.Response {
	h := e.header.Clone()
	for k, v := range notModified.Header {
		switch k {
		case "Content-Length", "Content-Encoding", "Transfer-Encoding":
			continue // those describe the kept body, which the 304 has none of
		}
		h[k] = slices.Clone(v)
	}
	h.Set("Content-Length", strconv.Itoa(len(e.body)))
	h.Set(FromCacheHeader, "revalidated")
	_, _ = io.Copy(io.Discard, io.LimitReader(notModified.Body, 4<<10))
	notModified.Body.Close()
	sent := notModified.Request
	if sent == nil {
		sent = req
	}
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         notModified.Proto,
		ProtoMajor:    notModified.ProtoMajor,
		ProtoMinor:    notModified.ProtoMinor,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		Request:       sent,
		TLS:           notModified.TLS,
	}
}

// condCache is a least-recently-used map bounded in entries, per-entry size and total size.
// It is written here rather than taken from hashicorp/golang-lru/v2 because that bounds the
// number of entries only, and the bound that matters is bytes (1024 entries of 4 MiB would
// be 4 GiB); with container/list it is a few lines, and no new dependency.
type condCache struct {
	mu         sync.Mutex
	maxEntries int
	maxEntry   int64 // bytes of one body
	maxBytes   int64 // bytes of all bodies and keys
	bytes      int64
	order      *list.List // of *condItem, most recently used first
	items      map[string]*list.Element
}

type condItem struct {
	key   string
	entry *condEntry
}

func newCondCache(maxEntries int, maxEntry, maxBytes int64) *condCache {
	return &condCache{maxEntries: maxEntries, maxEntry: maxEntry, maxBytes: maxBytes,
		order: list.New(), items: map[string]*list.Element{}}
}

func (it *condItem) size() int64 { return int64(len(it.key) + len(it.entry.body)) }

// get returns the entry of key, or nil, and marks it as the most recently used.
func (c *condCache) get(key string) *condEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*condItem).entry
}

// add keeps e under key, replacing what was there, and evicts the least recently used
// entries beyond the bounds.
func (c *condCache) add(key string, e *condEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(key)
	it := &condItem{key: key, entry: e}
	if it.size() > c.maxBytes {
		return
	}
	c.items[key] = c.order.PushFront(it)
	c.bytes += it.size()
	for c.order.Len() > c.maxEntries || c.bytes > c.maxBytes {
		c.removeLocked(c.order.Back().Value.(*condItem).key)
	}
}

func (c *condCache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(key)
}

func (c *condCache) removeLocked(key string) {
	el, ok := c.items[key]
	if !ok {
		return
	}
	c.order.Remove(el)
	delete(c.items, key)
	c.bytes -= el.Value.(*condItem).size()
}

// stats returns the number of entries and the bytes they hold.
func (c *condCache) stats() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.bytes
}
