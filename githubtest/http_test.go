package githubtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

func TestConditionalGet(t *testing.T) {
	s, c := fixture(t, WithMaxAge(60*time.Second))
	run := mustCreate(t, c, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
	path := fmt.Sprintf("repos/%s/%s/check-runs/%d", owner, repo, run.GetID())
	resp, body := rawGet(t, c, path, nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || len(etag) != 66 || etag[0] != '"' {
		t.Fatalf("status %d ETag %q", resp.StatusCode, etag)
	}
	if got := resp.Header.Get("Cache-Control"); got != "private, max-age=60, s-maxage=60" {
		t.Errorf("Cache-Control %q", got)
	}
	if got := resp.Header.Get("Vary"); got != "Accept, Authorization, Cookie" {
		t.Errorf("Vary %q", got)
	}
	if _, err := http.ParseTime(resp.Header.Get("Last-Modified")); err != nil {
		t.Errorf("Last-Modified %q", resp.Header.Get("Last-Modified"))
	}
	// The ETag is sha256 over Accept:Authorization:body.
	tok := s.tokenOf(t, c)
	if want := computeETag(resp.Request.Header.Get("Accept"), "token "+tok, body); want != etag {
		t.Errorf("ETag %s, want %s", etag, want)
	}
	remaining := resp.Header.Get("X-RateLimit-Remaining")
	used := s.RateLimitUsed()

	resp2, body2 := rawGet(t, c, path, map[string]string{"If-None-Match": etag})
	if resp2.StatusCode != 304 || len(body2) != 0 {
		t.Fatalf("conditional: %d %q", resp2.StatusCode, body2)
	}
	if resp2.Header.Get("X-RateLimit-Remaining") != remaining || s.RateLimitUsed() != used {
		t.Errorf("304 counted: remaining %s -> %s, used %d -> %d", remaining, resp2.Header.Get("X-RateLimit-Remaining"), used, s.RateLimitUsed())
	}
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; !last.ETagHit || last.RateLimited || last.Status != 304 {
		t.Errorf("log %+v", last)
	}
	// Through go-github, a 304 is an error response with status 304.
	// (go-github sends another Accept header, hence another ETag.)
	_, gresp, err := c.Checks.GetCheckRun(ctx, owner, repo, run.GetID())
	if err != nil || gresp.Header.Get("ETag") == etag {
		t.Fatalf("ETag does not depend on Accept: %v", err)
	}
	req, _ := c.NewRequest("GET", path, nil)
	req.Header.Set("Accept", gresp.Request.Header.Get("Accept")) // the Checks preview media type
	req.Header.Set("If-None-Match", gresp.Header.Get("ETag"))
	_, err = c.Do(ctx, req, nil)
	errResp(t, err, 304)
	// If-Modified-Since works too.
	resp3, _ := rawGet(t, c, path, map[string]string{"If-Modified-Since": resp.Header.Get("Last-Modified")})
	if resp3.StatusCode != 304 {
		t.Errorf("If-Modified-Since: %d", resp3.StatusCode)
	}

	// The ETag is per token: another installation's token gets another ETag and no 304.
	other := s.AddApp("other")
	oc := s.ClientFor(other, s.Install(other, owner))
	resp4, _ := rawGet(t, oc, path, map[string]string{"If-None-Match": etag})
	if resp4.StatusCode != 200 || resp4.Header.Get("ETag") == etag {
		t.Errorf("other token: %d %s", resp4.StatusCode, resp4.Header.Get("ETag"))
	}
	// A change invalidates the ETag.
	if _, _, err := c.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	resp5, _ := rawGet(t, c, path, map[string]string{"If-None-Match": etag})
	if resp5.StatusCode != 200 {
		t.Errorf("after update: %d", resp5.StatusCode)
	}
	// Default max-age is 0.
	s2, c2 := fixture(t)
	_ = s2
	resp6, _ := rawGet(t, c2, fmt.Sprintf("repos/%s/%s/commits/%s/check-runs", owner, repo, sha1x), nil)
	if got := resp6.Header.Get("Cache-Control"); got != "private, max-age=0, s-maxage=0" {
		t.Errorf("default Cache-Control %q", got)
	}
}

// tokenOf returns the installation token the client c sends.
func (s *Server) tokenOf(t *testing.T, c *github.Client) string {
	t.Helper()
	tr, ok := c.Client().Transport.(*tokenTransport)
	if !ok {
		t.Fatal("not a fake client")
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.tok
}

func TestRateLimit(t *testing.T) {
	s, c := fixture(t, WithRateLimit(3))
	for i := 0; i < 3; i++ {
		_, resp, err := c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Rate.Limit != 3 || resp.Rate.Remaining != 2-i || resp.Header.Get("X-RateLimit-Used") != strconv.Itoa(i+1) ||
			resp.Header.Get("X-RateLimit-Resource") != "core" || resp.Rate.Reset.Before(time.Now().Add(59*time.Minute)) {
			t.Errorf("request %d: rate %+v headers %v", i, resp.Rate, resp.Header)
		}
	}
	_, _, err := c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil)
	var rle *github.RateLimitError
	if !errors.As(err, &rle) || rle.Rate.Remaining != 0 || rle.Response.StatusCode != 403 {
		t.Fatalf("err %v (%T), want RateLimitError", err, err)
	}
	if s.RateLimitUsed() != 3 {
		t.Errorf("RateLimitUsed %d", s.RateLimitUsed())
	}
	// The server answers 403 with remaining 0 and the primary message (a fresh client, since go-github
	// blocks locally once it has seen remaining 0).
	fresh := s.ClientFor(s.App(), s.InstallationID(s.App(), owner))
	resp, body := rawGet(t, fresh, fmt.Sprintf("repos/%s/%s/commits/%s/check-runs", owner, repo, sha1x), nil)
	if resp.StatusCode != 403 || resp.Header.Get("X-RateLimit-Remaining") != "0" ||
		!strings.Contains(string(body), "API rate limit exceeded for installation ID "+strconv.FormatInt(s.InstallationID(s.App(), owner), 10)) {
		t.Errorf("exhausted: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 403 || last.RateLimited {
		t.Errorf("log %+v", last)
	}
	// Another installation has its own bucket.
	other := s.AddApp("other")
	oc := s.ClientFor(other, s.Install(other, owner))
	if _, _, err := oc.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil); err != nil {
		t.Fatalf("other installation: %v", err)
	}
	if s.RateLimitUsed() != 4 {
		t.Errorf("RateLimitUsed %d", s.RateLimitUsed())
	}
	// GET /rate_limit does not count.
	rl, _, err := oc.RateLimit.Get(ctx)
	if err != nil || rl.GetCore().Remaining != 2 || rl.GetCore().Limit != 3 {
		t.Fatalf("rate_limit %+v %v", rl, err)
	}
	s.ResetCounters()
	if s.RateLimitUsed() != 0 || len(s.Requests()) != 0 || s.Count(RouteListCheckRunsForRef) != 0 {
		t.Error("ResetCounters")
	}
}

func TestFailNext(t *testing.T) {
	s, c := fixture(t)
	s.FailNext(RouteCreateCheckRun, 2, 502)
	for i := 0; i < 2; i++ {
		_, _, err := c.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
		er := errResp(t, err, 502)
		if er.Message == "" || er.DocumentationURL == "" {
			t.Errorf("body %+v", er)
		}
	}
	mustCreate(t, c, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
	if n := len(s.CheckRuns(owner, repo, sha1x)); n != 1 {
		t.Errorf("%d runs", n)
	}
	if s.Count(RouteCreateCheckRun) != 3 || s.RateLimitUsed() != 1 {
		t.Errorf("count %d used %d", s.Count(RouteCreateCheckRun), s.RateLimitUsed())
	}
	// Other routes are not affected.
	s.FailNext(RouteGetCheckRun, 1, 500)
	if _, _, err := c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSecondaryRateLimit(t *testing.T) {
	s, c := fixture(t)
	s.FailNextSecondaryRateLimit(RouteUpdateCheckRun, 1, 403, 1500*time.Millisecond)
	run := mustCreate(t, c, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
	_, resp, err := c.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: "a", Conclusion: github.String("success")})
	var are *github.AbuseRateLimitError
	if !errors.As(err, &are) || are.RetryAfter == nil || *are.RetryAfter != 2*time.Second {
		t.Fatalf("err %v (%T), want AbuseRateLimitError with RetryAfter 2s", err, err)
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("X-RateLimit-Remaining") == "" || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("headers %v", resp.Header)
	}
	if got := s.CheckRuns(owner, repo, sha1x)[0].Status; got != "queued" {
		t.Errorf("injected failure changed state: %s", got)
	}
	// 429: an ErrorResponse in go-github v60, with the same body and headers.
	s.FailNextSecondaryRateLimit(RouteGetCheckRun, 1, 429, time.Second)
	c2 := s.ClientFor(s.App(), s.InstallationID(s.App(), owner))
	_, resp, err = c2.Checks.GetCheckRun(ctx, owner, repo, run.GetID())
	er := errResp(t, err, 429)
	if er.Message[:40] != "You have exceeded a secondary rate limit" || resp.Header.Get("Retry-After") != "1" || resp.Header.Get("X-RateLimit-Remaining") == "0" {
		t.Errorf("429: %+v %v", er, resp.Header)
	}
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 429 || last.RateLimited {
		t.Errorf("log %+v", last)
	}
}

func TestLatency(t *testing.T) {
	s, c := fixture(t, WithLatency(50*time.Millisecond))
	start := time.Now()
	if _, _, err := c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("took %v", d)
	}
	s.SetLatency(5 * time.Second)
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, _, err := c.Checks.ListCheckRunsForRef(cctx, owner, repo, sha1x, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancellation not respected: %v", d)
	}
	s.SetLatency(0)
}

func TestUnknownRoute(t *testing.T) {
	s, c := fixture(t)
	for _, path := range []string{"repos/octo-org/hello-world/issues", "nope", "repos/octo-org/hello-world/check-runs/1/x/y"} {
		m, _, err := rawJSON(t, c, "GET", path, "")
		er := errResp(t, err, 404)
		if er.Message != "Not Found" || er.DocumentationURL == "" {
			t.Errorf("%s: %+v %v", path, er, m)
		}
	}
	reqs := s.Requests()
	if len(reqs) != 3 || reqs[0].Route != "" || reqs[0].Status != 404 {
		t.Errorf("log %+v", reqs)
	}
	// DELETE of a check run is not a route.
	_, _, err := rawJSON(t, c, "DELETE", "repos/octo-org/hello-world/check-runs/1", "")
	errResp(t, err, 404)
}

func TestConcurrentUse(t *testing.T) {
	s, c := fixture(t)
	other := s.AddApp("other")
	oc := s.ClientFor(other, s.Install(other, owner))
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			cl := c
			if g%2 == 1 {
				cl = oc
			}
			for i := 0; i < 10; i++ {
				name := fmt.Sprintf("n%d", i%3)
				run, _, err := cl.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{Name: name, HeadSHA: sha1x})
				if err != nil {
					errs <- err
					return
				}
				if _, _, err := cl.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{Name: name,
					Conclusion: github.String("success"),
					Output:     &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"), Annotations: annotations(0, 3)}}); err != nil {
					errs <- err
				}
				if _, _, err := cl.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil); err != nil {
					errs <- err
				}
				_ = s.CheckRuns(owner, repo, sha1x)
				_ = s.Requests()
				s.SetLatency(0)
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	runs := s.CheckRuns(owner, repo, sha1x)
	if len(runs) != 160 {
		t.Fatalf("%d runs", len(runs))
	}
	for i := 1; i < len(runs); i++ {
		if runs[i].ID <= runs[i-1].ID {
			t.Fatal("ids not increasing")
		}
	}
	res, _, err := c.Checks.ListCheckRunsForRef(ctx, owner, repo, sha1x, nil)
	if err != nil || res.GetTotal() != 6 {
		t.Fatalf("latest: %v %v", res.GetTotal(), err)
	}
	if s.Count(RouteCreateCheckRun) != 160 || s.RateLimitUsed() != 481 {
		t.Errorf("count %d used %d", s.Count(RouteCreateCheckRun), s.RateLimitUsed())
	}
}
