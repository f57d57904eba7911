package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// pushEnvelope is a wrapped Pub/Sub push of m.
func pushEnvelope(m *events.Message) []byte {
	b, _ := json.Marshal(map[string]any{"subscription": "projects/p/subscriptions/s",
		"message": map[string]any{"data": m.Data, "attributes": m.Attributes, "messageId": m.ID}})
	return b
}

type loadResult struct {
	msgs, rejected, failed int
	perSec                 float64
	p50, p99               time.Duration
	requests               float64
}

// pushLoad serves e's PushHandler (MaxInFlight limit) over loopback and POSTs envelopes from
// gen concurrent clients for d; next makes the i-th message.
func pushLoad(t *testing.T, e *env, limit, gen int, d time.Duration, next func(i int64) *events.Message) loadResult {
	srv := httptest.NewServer(e.w.PushHandler(worker.PushOptions{MaxInFlight: limit}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}
	defer client.CloseIdleConnections()
	e.gh.ResetCounters()
	var (
		i         atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		rejected  atomic.Int64
		failed    atomic.Int64
	)
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for range gen {
		wg.Go(func() {
			for time.Now().Before(end) {
				body := pushEnvelope(next(i.Add(1)))
				t0 := time.Now()
				resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
				if err != nil {
					failed.Add(1)
					continue
				}
				resp.Body.Close()
				lat := time.Since(t0)
				switch resp.StatusCode {
				case http.StatusNoContent:
					mu.Lock()
					latencies = append(latencies, lat)
					mu.Unlock()
				case http.StatusTooManyRequests:
					rejected.Add(1)
					time.Sleep(5 * time.Millisecond) // a nack: Pub/Sub would come back later
				default:
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	r := loadResult{msgs: len(latencies), rejected: int(rejected.Load()), failed: int(failed.Load())}
	if len(latencies) > 0 {
		r.perSec = float64(len(latencies)) / elapsed.Seconds()
		r.p50 = latencies[len(latencies)/2]
		r.p99 = latencies[min(len(latencies)-1, len(latencies)*99/100)]
		r.requests = float64(len(e.gh.Requests())) / float64(len(latencies)+r.rejected)
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// TestLoadPushThroughput measures push-mode throughput and latency against the fake on
// loopback: skip and full paths, GitHub latency 0 and 100 ms, in-flight limits 1 to 64, with
// as many concurrent pushers as the limit. Timings are reported, never asserted.
func TestLoadPushThroughput(t *testing.T) {
	needLoad(t)
	ctx := context.Background()
	const prs = 64
	for _, path := range []string{"skip", "full"} {
		for _, lat := range []time.Duration{0, 100 * time.Millisecond} {
			var base float64
			for _, limit := range []int{1, 4, 16, 64} {
				e := newEnv(t, envOpts{})
				inst := e.gh.InstallationID(e.gh.App(), owner)
				for n := 1; n <= prs; n++ {
					e.addPR(owner, repo, n, sha(n))
					if path == "skip" {
						e.w.Handle(ctx, request("pre", owner, repo, n, sha(n), inst, false))
					}
				}
				e.gh.SetLatency(lat)
				next := func(i int64) *events.Message {
					n := int(i%prs) + 1
					if path == "skip" {
						return request(fmt.Sprint("m", i), owner, repo, n, sha(n), inst, false)
					}
					return request(fmt.Sprint("m", i), owner, repo, n, sha(int(1_000_000+i)), inst, false)
				}
				d := 3 * time.Second
				if lat > 0 {
					d = 5 * time.Second
				}
				r := pushLoad(t, e, limit, limit, d, next)
				if limit == 1 {
					base = r.perSec
				}
				ratio := 0.0
				if base > 0 {
					ratio = r.perSec / base
				}
				t.Logf("%s path, GitHub latency %s, in-flight %d: %d messages, %.1f msg/s (x%.1f of in-flight 1), p50 %.1f ms, p99 %.1f ms, %.2f requests/msg, %d answered 429, %d failed",
					path, lat, limit, r.msgs, r.perSec, ratio, ms(r.p50), ms(r.p99), r.requests, r.rejected, r.failed)
				emit(t, "throughput", path, lat, limit, limit, r.msgs, r.perSec, ratio, ms(r.p50), ms(r.p99), r.requests, r.rejected)
			}
		}
	}
	// Beyond the limit: 64 pushers against MaxInFlight 16 at 100 ms: pushes beyond 16 wait for
	// a slot (the handler answers 429 only in older versions), so throughput stays at the
	// in-flight 16 level and the wait shows in the latency.
	e := newEnv(t, envOpts{})
	inst := e.gh.InstallationID(e.gh.App(), owner)
	e.addPR(owner, repo, 1, sha(1))
	e.gh.SetLatency(100 * time.Millisecond)
	r := pushLoad(t, e, 16, 64, 5*time.Second, func(i int64) *events.Message {
		return request(fmt.Sprint("m", i), owner, repo, 1, sha(int(2_000_000+i)), inst, false)
	})
	t.Logf("full path, 100ms, limit 16, 64 pushers: %.1f msg/s, p50 %.1f ms, %d answered 429", r.perSec, ms(r.p50), r.rejected)
	emit(t, "throughput", "full", 100*time.Millisecond, 16, 64, r.msgs, r.perSec, "-", ms(r.p50), ms(r.p99), r.requests, r.rejected)
}

// TestLoadGrowth reports how the cost of one message grows with its annotations (1, 10 and
// 100 batches of 50) and with the number of PRs handled at once (10, 100, 1,000 messages
// for distinct PRs through worker.Handle, 64 at a time), and checks the summary limits.
func TestLoadGrowth(t *testing.T) {
	needLoad(t)
	ctx := context.Background()
	for _, batches := range []int{1, 10, 100} {
		n := batches * statusmanager.MaxAnnotationsPerRequest
		e := newEnv(t, envOpts{reconcile: annotate(n)})
		inst := e.gh.InstallationID(e.gh.App(), owner)
		e.addPR(owner, repo, 1, sha(1))
		e.w.Handle(ctx, request("warm", owner, repo, 1, sha(999), inst, false))
		e.gh.ResetCounters()
		t0 := time.Now()
		o, err := e.w.Handle(ctx, request("a", owner, repo, 1, sha(1), inst, false))
		el := time.Since(t0)
		runs := e.ours(owner, repo, sha(1))
		if o != worker.OutcomeReconciled || len(runs) != 1 {
			t.Fatalf("%d annotations: %s %v, %d runs", n, o, err, len(runs))
		}
		st, derr := statusmanager.DecodeSummary[report](identity, runs[0].Summary)
		if len(runs[0].Summary) > statusmanager.MaxSummaryBytes || derr != nil || st.Details.N != n || len(runs[0].Annotations) != n {
			t.Errorf("%d annotations: summary %d bytes, decode %v, %d annotations stored", n, len(runs[0].Summary), derr, len(runs[0].Annotations))
		}
		c := e.cost()
		t.Logf("%d annotations: %d requests, %d rate-limit points, summary %d bytes (Markdown %d bytes before the cut), %s",
			n, c.requests, c.ratelimit, len(runs[0].Summary), len(report{N: n}.Markdown()), el)
		emit(t, "growth-annotations", n, batches, c.requests, c.ratelimit, len(runs[0].Summary), len(report{N: n}.Markdown()), ms(el))
	}
	for _, prs := range []int{10, 100, 1000} {
		e := newEnv(t, envOpts{reconcile: readFiles})
		inst := e.gh.InstallationID(e.gh.App(), owner)
		for n := 1; n <= prs; n++ {
			e.addPR(owner, repo, n, sha(n))
		}
		e.w.Handle(ctx, request("warm", owner, repo, 1, sha(999_999), inst, false))
		e.gh.ResetCounters()
		sem := make(chan struct{}, 64)
		var wg sync.WaitGroup
		var bad atomic.Int64
		t0 := time.Now()
		for n := 1; n <= prs; n++ {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if o, _ := e.w.Handle(ctx, request(fmt.Sprint(n), owner, repo, n, sha(n), inst, false)); o != worker.OutcomeReconciled {
					bad.Add(1)
				}
			})
		}
		wg.Wait()
		el := time.Since(t0)
		c := e.cost()
		if bad.Load() != 0 {
			t.Errorf("%d PRs: %d not reconciled", prs, bad.Load())
		}
		per := func(x int) float64 { return float64(x) / float64(prs) }
		t.Logf("%d PRs at once: %.2f requests/msg, %.2f rate-limit points/msg, %.2f ms/msg wall", prs, per(c.requests), per(c.ratelimit), ms(el)/float64(prs))
		emit(t, "growth-prs", prs, per(c.requests), per(c.ratelimit), ms(el)/float64(prs), ms(el))
	}
}
