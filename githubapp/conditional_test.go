package githubapp

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/prreconciler/prreconciler/githubtest"
)

const condSHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

// condFakeClient returns an installation client of a Factory on the GitHub fake s, and the
// installation id of octo-org.
func condFakeClient(t *testing.T, s *githubtest.Server) (*Factory, *github.Client, int64) {
	t.Helper()
	app := s.App()
	f, err := New(app.ID, app.PrivateKeyPEM, Options{BaseURL: s.URL() + "/", RetryBudget: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	id := s.InstallationID(app, "octo-org")
	c, err := f.Client(context.Background(), "octo-org", "hello-world", id)
	if err != nil {
		t.Fatal(err)
	}
	return f, c, id
}

// prReads returns the requests for the pull request logged by the fake since its last reset.
func prReads(t *testing.T, s *githubtest.Server) []githubtest.Request {
	t.Helper()
	var out []githubtest.Request
	for _, r := range s.Requests() {
		if r.Route == string(githubtest.RouteGetPullRequest) {
			out = append(out, r)
		}
	}
	return out
}

// Reading a pull request again costs no rate-limit point while it is unchanged, returns what
// the first read decoded, and a change is read at once (never served stale).
func TestConditionalReadsOfFake(t *testing.T) {
	ctx := context.Background()
	s := githubtest.NewTestServer(t)
	s.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7, HeadSHA: condSHA, Title: "first"})
	f, c, id := condFakeClient(t, s)
	retitle := func(title string) func() {
		return func() {
			s.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7, HeadSHA: condSHA, Title: title})
		}
	}
	steps := []struct {
		name        string
		before      func()
		wantPoints  int
		revalidated bool
		wantTitle   string
	}{
		{"first read", nil, 1, false, "first"},
		{"second read", nil, 0, true, "first"},
		{"third read", nil, 0, true, "first"},
		{"read after a change", retitle("second"), 1, false, "second"},
		{"read again after the change", nil, 0, true, "second"},
	}
	var prev *github.PullRequest
	total := 0
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		s.ResetCounters()
		var u Usage
		pr, resp, err := c.PullRequests.Get(WithUsage(ctx, &u), "octo-org", "hello-world", 7)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		points := s.RateLimitUsed()
		if u.Requests() != 1 || u.Points() != st.wantPoints {
			t.Errorf("%s: Usage counted %d requests, %d points; want 1, %d", st.name, u.Requests(), u.Points(), st.wantPoints)
		}
		total += points
		reads := prReads(t, s)
		if len(reads) != 1 {
			t.Fatalf("%s: %d requests to GitHub, want 1 (always asked)", st.name, len(reads))
		}
		if points != st.wantPoints || reads[0].ETagHit != st.revalidated || reads[0].RateLimited != (st.wantPoints > 0) {
			t.Errorf("%s: %d points, 304 %v, want %d points, 304 %v", st.name, points, reads[0].ETagHit, st.wantPoints, st.revalidated)
		}
		if got := resp.Header.Get(FromCacheHeader) == "revalidated"; got != st.revalidated {
			t.Errorf("%s: %s = %q", st.name, FromCacheHeader, resp.Header.Get(FromCacheHeader))
		}
		if pr.GetTitle() != st.wantTitle || pr.GetHead().GetSHA() != condSHA {
			t.Errorf("%s: title %q head %s, want %q", st.name, pr.GetTitle(), pr.GetHead().GetSHA(), st.wantTitle)
		}
		if st.revalidated && !reflect.DeepEqual(pr, prev) {
			t.Errorf("%s: decoded %+v, want what the last 200 decoded %+v", st.name, pr, prev)
		}
		// The 304's rate-limit headers reach go-github, and the budget saw the 304 itself.
		if rl, ok := f.RateLimit(id); !ok || rl.Remaining != resp.Rate.Remaining || resp.Rate.Remaining == 0 {
			t.Errorf("%s: budget %+v, go-github's remaining %d", st.name, rl, resp.Rate.Remaining)
		}
		prev = pr
	}
	t.Logf("%d reads of a pull request that changed once: %d rate-limit points (%d without conditional reads)", len(steps), total, len(steps))
}

// A token that rotates never gets a 304 for another token's ETag: every read is a 200 with
// the current body, as without a cache.
func TestConditionalReadsTokenRotation(t *testing.T) {
	ctx := context.Background()
	// A token that lives less than ghinstallation's minute of grace is fetched anew for every request.
	s := githubtest.NewTestServer(t, githubtest.WithTokenTTL(30*time.Second))
	s.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7, HeadSHA: condSHA, Title: "first"})
	_, c, _ := condFakeClient(t, s)
	for i := range 3 {
		s.ResetCounters()
		pr, resp, err := c.PullRequests.Get(ctx, "octo-org", "hello-world", 7)
		if err != nil {
			t.Fatal(err)
		}
		reads := prReads(t, s)
		if pr.GetTitle() != "first" || len(reads) != 1 || reads[0].ETagHit || resp.Header.Get(FromCacheHeader) != "" {
			t.Errorf("read %d: title %q, requests %+v, %s %q", i, pr.GetTitle(), reads, FromCacheHeader, resp.Header.Get(FromCacheHeader))
		}
		if n := s.Count(githubtest.RouteCreateInstallationToken); n != 1 {
			t.Errorf("read %d: %d token requests, want a new token", i, n)
		}
	}
}

// A caller's own conditional read (the status manager's) reaches GitHub untouched: its 304 comes
// back as a 304.
func TestConditionalReadsOwnValidatorsOfFake(t *testing.T) {
	ctx := context.Background()
	s := githubtest.NewTestServer(t)
	s.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7, HeadSHA: condSHA})
	_, c, _ := condFakeClient(t, s)
	_, resp, err := c.PullRequests.Get(ctx, "octo-org", "hello-world", 7)
	if err != nil {
		t.Fatal(err)
	}
	etag := resp.Header.Get("ETag")
	for _, tc := range []struct {
		name        string
		ifNoneMatch string
		wantStatus  int
	}{
		{"the current ETag", etag, http.StatusNotModified},
		{"another ETag", `"other"`, http.StatusOK},
	} {
		s.ResetCounters()
		req, err := c.NewRequest(http.MethodGet, "repos/octo-org/hello-world/pulls/7", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("If-None-Match", tc.ifNoneMatch)
		resp, err := c.Do(ctx, req, nil)
		var er *github.ErrorResponse
		if tc.wantStatus == http.StatusNotModified && !errors.As(err, &er) {
			t.Errorf("%s: error %v, want go-github's *ErrorResponse of the 304", tc.name, err)
		}
		if resp == nil || resp.StatusCode != tc.wantStatus || resp.Header.Get(FromCacheHeader) != "" {
			t.Errorf("%s: answer %+v, want %d as GitHub sent it", tc.name, resp, tc.wantStatus)
		}
		if reads := prReads(t, s); len(reads) != 1 || reads[0].ETagHit != (tc.wantStatus == http.StatusNotModified) {
			t.Errorf("%s: requests %+v", tc.name, reads)
		}
	}
}

// origin is an HTTP server with GitHub's conditional behaviour (per-token ETags) and knobs.
type origin struct {
	mu        sync.Mutex
	body      string
	status    int // when not 0, every answer has it, without a body
	remaining int
	seen      []string // If-None-Match of every request, in order
	srv       *httptest.Server
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	o := &origin{body: "v1", remaining: 5000}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) set(f func(o *origin)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f(o)
}

func (o *origin) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

func (o *origin) etag(auth, body string) string {
	sum := sha256.Sum256([]byte(auth + ":" + body))
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, r.Header.Get("If-None-Match"))
	h := w.Header()
	h.Set("X-RateLimit-Remaining", strconv.Itoa(o.remaining))
	if o.status != 0 {
		w.WriteHeader(o.status)
		return
	}
	body := o.body
	switch r.URL.Path {
	case "/big":
		body = strings.Repeat("x", 64)
	case "/no-etag":
		h.Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, body)
		return
	case "/no-store":
		h.Set("Cache-Control", "private, no-store")
	case "/truncated":
		h.Set("ETag", `"t"`)
		h.Set("Content-Length", "10")
		_, _ = io.WriteString(w, body) // and the connection is closed: 8 bytes short
		return
	}
	h.Set("Vary", "Accept, Authorization, Cookie")
	if r.URL.Path == "/vary-star" {
		h.Set("Vary", "*")
	}
	etag := o.etag(r.Header.Get("Authorization"), body)
	h.Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	o.remaining--
	h.Set("X-RateLimit-Remaining", strconv.Itoa(o.remaining))
	h.Set("Content-Type", "text/plain")
	h.Set("Link", `<`+o.srv.URL+`/?page=2>; rel="next"`)
	_, _ = io.WriteString(w, body)
}

// condStep is one request of a case and what it must have sent and returned.
type condStep struct {
	before      func(o *origin)
	method      string // default GET
	path        string // default /r
	header      map[string]string
	wantSent    string // If-None-Match that reached the origin; "etag" means the ETag of the token and body given
	wantStatus  int    // default 200
	revalidated bool
	wantBody    string // checked when not ""
	wantReadErr bool   // reading the body fails after wantBody
}

func TestConditionalTransport(t *testing.T) {
	const tokA, tokB = "token A", "token B"
	etagOf := func(o *origin, tok, body string) string { return o.etag(tok, body) }
	cases := []struct {
		name    string
		steps   []condStep
		entries int // entries in the cache at the end
	}{
		{"a repeated GET is revalidated and served from the cache", []condStep{
			{wantBody: "v1"},
			{wantSent: "etag", revalidated: true, wantBody: "v1"},
			{wantSent: "etag", revalidated: true, wantBody: "v1"},
		}, 1},
		{"a change is read at once and replaces the entry", []condStep{
			{wantBody: "v1"},
			{before: func(o *origin) { o.body = "v2" }, wantSent: "etag:v1", wantBody: "v2"},
			{wantSent: "etag", revalidated: true, wantBody: "v2"},
		}, 1},
		{"the caller's own If-None-Match passes through, its 304 too", []condStep{
			{wantBody: "v1"},
			{header: map[string]string{"If-None-Match": `"mine"`}, wantSent: `"mine"`, wantBody: "v1"},
			{header: map[string]string{"If-None-Match": "etag"}, wantSent: "etag", wantStatus: http.StatusNotModified},
		}, 1},
		{"the caller's own If-Modified-Since passes through", []condStep{
			{wantBody: "v1"},
			{header: map[string]string{"If-Modified-Since": "Mon, 02 Jan 2006 15:04:05 GMT"}, wantSent: "", wantBody: "v1"},
		}, 1},
		{"a 304 to an unconditional GET is returned as it is", []condStep{
			{before: func(o *origin) { o.status = http.StatusNotModified }, wantStatus: http.StatusNotModified, wantBody: ""},
			{wantStatus: http.StatusNotModified},
		}, 0},
		{"other methods are never cached nor made conditional", []condStep{
			{method: http.MethodPost, wantBody: "v1"},
			{method: http.MethodPatch, wantBody: "v1"},
			{wantBody: "v1"},
			{method: http.MethodPatch, wantBody: "v1"},
			{method: http.MethodHead},
		}, 1},
		{"a body above the cap is returned whole and not kept", []condStep{
			{path: "/big", wantBody: strings.Repeat("x", 64)},
			{path: "/big", wantBody: strings.Repeat("x", 64)},
		}, 0},
		{"an answer without ETag is not kept", []condStep{
			{path: "/no-etag", wantBody: "v1"},
			{path: "/no-etag", wantBody: "v1"},
		}, 0},
		{"a body cut short is returned with its error and not kept", []condStep{
			{path: "/truncated", wantBody: "v1", wantReadErr: true},
			{path: "/truncated", wantBody: "v1", wantReadErr: true},
		}, 0},
		{"Cache-Control no-store is not kept", []condStep{
			{path: "/no-store", wantBody: "v1"},
			{path: "/no-store", wantBody: "v1"},
		}, 0},
		{"Vary * is not kept", []condStep{
			{path: "/vary-star", wantBody: "v1"},
			{path: "/vary-star", wantBody: "v1"},
		}, 0},
		{"ETags are per token: another token asks afresh", []condStep{
			{header: map[string]string{"Authorization": tokA}, wantBody: "v1"},
			{header: map[string]string{"Authorization": tokB}, wantBody: "v1"},
			{header: map[string]string{"Authorization": tokA}, wantSent: "etag", revalidated: true, wantBody: "v1"},
			{header: map[string]string{"Authorization": tokB}, wantSent: "etag", revalidated: true, wantBody: "v1"},
		}, 2},
		{"another Accept is another entry", []condStep{
			{header: map[string]string{"Accept": "application/vnd.github.v3.diff"}, wantBody: "v1"},
			{wantBody: "v1"},
			{header: map[string]string{"Accept": "application/vnd.github.v3.diff"}, wantSent: "etag", revalidated: true},
		}, 2},
		{"a header in Vary that differs asks afresh", []condStep{
			{header: map[string]string{"Cookie": "a=1"}, wantBody: "v1"},
			{header: map[string]string{"Cookie": "a=2"}, wantBody: "v1"},
			{header: map[string]string{"Cookie": "a=2"}, wantSent: "etag", revalidated: true},
		}, 1},
		{"a 404 drops the entry, a 5xx keeps it", []condStep{
			{wantBody: "v1"},
			{before: func(o *origin) { o.status = http.StatusBadGateway }, wantSent: "etag", wantStatus: http.StatusBadGateway},
			{before: func(o *origin) { o.status = 0 }, wantSent: "etag", revalidated: true, wantBody: "v1"},
			{before: func(o *origin) { o.status = http.StatusNotFound }, wantSent: "etag", wantStatus: http.StatusNotFound},
			{before: func(o *origin) { o.status = 0 }, wantBody: "v1"},
		}, 1},
		{"the least recently used entry is evicted beyond the bound", []condStep{
			{path: "/1"}, {path: "/2"}, {path: "/3"},
			{path: "/1", wantSent: "etag", revalidated: true}, // /1 used again: /2 is now the oldest
			{path: "/4"},
			{path: "/2"},
			{path: "/1", wantSent: "etag", revalidated: true},
		}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t)
			cache := newCondCache(3, 32, 1<<20)
			client := &http.Client{Transport: &conditionalTransport{next: o.srv.Client().Transport, cache: cache,
				scope: func() string { return "installation 1" }}}
			for i, st := range tc.steps {
				if st.before != nil {
					o.set(st.before)
				}
				method, path, status := cmp.Or(st.method, http.MethodGet), cmp.Or(st.path, "/r"), cmp.Or(st.wantStatus, http.StatusOK)
				o.mu.Lock()
				tok, body := st.header["Authorization"], o.body
				o.mu.Unlock()
				req, err := http.NewRequest(method, o.srv.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range st.header {
					if v == "etag" {
						v = etagOf(o, tok, body)
					}
					req.Header.Set(k, v)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if (err != nil) != st.wantReadErr {
					t.Fatalf("step %d: reading the body: %v, want an error %v", i, err, st.wantReadErr)
				}
				seen := o.requests()
				want := st.wantSent
				switch {
				case want == "etag":
					want = etagOf(o, tok, body)
				case strings.HasPrefix(want, "etag:"):
					want = etagOf(o, tok, strings.TrimPrefix(want, "etag:"))
				}
				if len(seen) != i+1 || seen[i] != want {
					t.Errorf("step %d: origin saw If-None-Match %q (requests %q), want %q", i, seen[len(seen)-1], seen, want)
				}
				if resp.StatusCode != status || (resp.Header.Get(FromCacheHeader) == "revalidated") != st.revalidated {
					t.Errorf("step %d: %d %s=%q, want %d revalidated %v", i, resp.StatusCode, FromCacheHeader, resp.Header.Get(FromCacheHeader), status, st.revalidated)
				}
				if st.wantBody != "" && string(got) != st.wantBody {
					t.Errorf("step %d: body %q, want %q", i, got, st.wantBody)
				}
				if st.revalidated {
					// Fresh headers of the 304, kept ones of the 200, the body's length.
					o.mu.Lock()
					remaining := strconv.Itoa(o.remaining)
					o.mu.Unlock()
					if resp.Header.Get("X-RateLimit-Remaining") != remaining || resp.Header.Get("Link") == "" ||
						resp.Header.Get("Content-Type") != "text/plain" || resp.ContentLength != int64(len(got)) {
						t.Errorf("step %d: headers %v, length %d", i, resp.Header, resp.ContentLength)
					}
				}
			}
			if n, _ := cache.stats(); n != tc.entries {
				t.Errorf("%d entries kept, want %d", n, tc.entries)
			}
		})
	}
}

// The cache stays within its bounds of entries and bytes, evicting the least recently used.
func TestCondCacheBounds(t *testing.T) {
	body := func(n int) *condEntry { return &condEntry{etag: `"x"`, body: make([]byte, n)} }
	cases := []struct {
		name        string
		maxEntries  int
		maxBytes    int64
		ops         func(c *condCache)
		wantKeys    []string
		wantEntries int
	}{
		{"entries", 3, 1 << 20, func(c *condCache) {
			for _, k := range []string{"a", "b", "c", "d", "e"} {
				c.add(k, body(10))
			}
		}, []string{"c", "d", "e"}, 3},
		{"recently used survive", 3, 1 << 20, func(c *condCache) {
			c.add("a", body(10))
			c.add("b", body(10))
			c.add("c", body(10))
			c.get("a")
			c.add("d", body(10))
		}, []string{"a", "c", "d"}, 3},
		{"bytes", 100, 100, func(c *condCache) {
			for _, k := range []string{"a", "b", "c", "d"} {
				c.add(k, body(40)) // 41 bytes with the key: two fit
			}
		}, []string{"c", "d"}, 2},
		{"an entry larger than all is not kept", 100, 100, func(c *condCache) {
			c.add("a", body(10))
			c.add("b", body(200))
		}, []string{"a"}, 1},
		{"replacing counts once", 100, 100, func(c *condCache) {
			for range 10 {
				c.add("a", body(40))
			}
			c.add("b", body(40))
		}, []string{"a", "b"}, 2},
		{"remove", 100, 100, func(c *condCache) {
			c.add("a", body(40))
			c.add("b", body(40))
			c.remove("a")
			c.remove("zzz")
		}, []string{"b"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCondCache(tc.maxEntries, 1<<20, tc.maxBytes)
			tc.ops(c)
			n, b := c.stats()
			var want int64
			for _, k := range tc.wantKeys {
				e := c.get(k)
				if e == nil {
					t.Fatalf("%q evicted, want kept", k)
				}
				want += int64(len(k) + len(e.body))
			}
			if n != tc.wantEntries || b != want || n > tc.maxEntries || b > tc.maxBytes {
				t.Errorf("%d entries of %d bytes, want %d of %d", n, b, tc.wantEntries, want)
			}
		})
	}
}

// Concurrent reads of a changing resource through one small cache: every answer is a whole
// version, and the bounds hold (run with -race).
func TestConditionalTransportConcurrent(t *testing.T) {
	o := newOrigin(t)
	cache := newCondCache(4, 32, 1<<20)
	client := &http.Client{Transport: &conditionalTransport{next: o.srv.Client().Transport, cache: cache}}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if g == 0 && i%10 == 0 {
					o.set(func(o *origin) { o.body = "v" + strconv.Itoa(i/10+1) })
				}
				resp, err := client.Get(o.srv.URL + "/" + strconv.Itoa((g+i)%6))
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(b), "v") || len(b) != 2 {
					t.Errorf("answer %d %q %v", resp.StatusCode, b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n, _ := cache.stats(); n > 4 {
		t.Errorf("%d entries, bound 4", n)
	}
}

// Example_conditionalReads shows that reading again what has not changed costs no rate-limit
// point: the second read is GitHub's 304, returned as the first read's 200.
func Example_conditionalReads() {
	gh := githubtest.NewServer()
	defer gh.Close()
	gh.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{Number: 7, HeadSHA: condSHA})
	app := gh.App()
	f, err := New(app.ID, app.PrivateKeyPEM, Options{BaseURL: gh.URL() + "/"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	client, err := f.Client(ctx, "octo-org", "hello-world", 0)
	if err != nil {
		log.Fatal(err)
	}
	for i := range 2 {
		pr, resp, err := client.PullRequests.Get(ctx, "octo-org", "hello-world", 7)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("read %d: head %.7s, %s: %q\n", i+1, pr.GetHead().GetSHA(), FromCacheHeader, resp.Header.Get(FromCacheHeader))
	}
	fmt.Println("rate-limit points:", gh.RateLimitUsed())
	// Output:
	// read 1: head 6dcb09b, X-From-Cache: ""
	// read 2: head 6dcb09b, X-From-Cache: "revalidated"
	// rate-limit points: 1
}
