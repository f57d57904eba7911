package statusmanager_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/prreconciler/prreconciler/githubtest"
)

// Each benchmark reports GitHub requests and rate-limit points per operation, counted by
// the fake; these hold on any machine, unlike timings.
func reportGitHub(b *testing.B, srv *githubtest.Server) {
	b.Helper()
	b.ReportMetric(float64(len(srv.Requests()))/float64(b.N), "requests/op")
	b.ReportMetric(float64(srv.RateLimitUsed())/float64(b.N), "ratelimit/op")
}

func benchEnv(b *testing.B) *env {
	b.Helper()
	return newEnvTB(b)
}

func BenchmarkObservedStateCold(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	must(b, e.session().SetActualState(ctx, "Done", completed("success", details{Files: 1})))
	b.ReportAllocs()
	var total, used int
	for i := 0; i < b.N; i++ {
		// A new manager has no ETag: every read is a full one.
		sm := newManager(b, e)
		e.srv.ResetCounters()
		if _, err := sm.NewSession(e.gh, e.res, sha).ObservedState(ctx); err != nil {
			b.Fatal(err)
		}
		total += len(e.srv.Requests())
		used += e.srv.RateLimitUsed()
	}
	b.ReportMetric(float64(total)/float64(b.N), "requests/op")
	b.ReportMetric(float64(used)/float64(b.N), "ratelimit/op")
}

func BenchmarkObservedStateRevalidated(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	must(b, e.session().SetActualState(ctx, "Done", completed("success", details{Files: 1})))
	if _, err := e.session().ObservedState(ctx); err != nil {
		b.Fatal(err)
	}
	e.srv.ResetCounters()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.session().ObservedState(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportGitHub(b, e.srv)
}

// BenchmarkNewSHA takes a new SHA from nothing to in_progress to completed, as the worker
// does: read, create, complete.
func BenchmarkNewSHA(b *testing.B) {
	for _, lines := range []int{0, 120} {
		b.Run(fmt.Sprintf("annotations=%d", lines), func(b *testing.B) {
			e := benchEnv(b)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := e.sm.NewSession(e.gh, e.res, fmt.Sprintf("%040x", i+1))
				if _, err := s.ObservedState(ctx); err != nil {
					b.Fatal(err)
				}
				must(b, s.SetActualState(ctx, "Working", inProgress(details{})))
				must(b, s.SetActualState(ctx, "Done", completed("failure", details{Lines: lines})))
			}
			reportGitHub(b, e.srv)
		})
	}
}

func BenchmarkFirstSetActualState(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		must(b, e.sm.NewSession(e.gh, e.res, fmt.Sprintf("%040x", i+1)).SetActualState(ctx, "Working", inProgress(details{})))
	}
	reportGitHub(b, e.srv)
}

func BenchmarkUpdate(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	s := e.session()
	must(b, s.SetActualState(ctx, "Working", inProgress(details{})))
	e.srv.ResetCounters()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		must(b, s.SetActualState(ctx, "Working", inProgress(details{Files: i})))
	}
	reportGitHub(b, e.srv)
}
