package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
	"github.com/prreconciler/prreconciler/webhook"
	"github.com/prreconciler/prreconciler/worker"
)

// stageRun is what one stage did under one load: deliveries, answers per second, latency
// from request to 2xx.
type stageRun struct {
	msgs     int
	perSec   float64
	p50, p99 time.Duration
}

// drive sends n requests, concurrency at a time, and times each from request to answer;
// every answer must be 2xx.
func drive(t *testing.T, n, concurrency int, send func(i int) (int, error)) stageRun {
	t.Helper()
	lat := make([]time.Duration, n)
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				status, err := send(i)
				lat[i] = time.Since(t0)
				if err != nil || status/100 != 2 {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("request %d: %d %v", i, status, err))
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	took := time.Since(start)
	if len(failed) > 0 {
		t.Fatalf("%d requests failed, first: %s", len(failed), failed[0])
	}
	slices.Sort(lat)
	return stageRun{msgs: n, perSec: float64(n) / took.Seconds(), p50: lat[n/2], p99: lat[min(n-1, n*99/100)]}
}

// TestIngressLatency measures the webhook ingress against the intake stage on the same
// machine in the same run, both served over loopback HTTP and publishing to an in-process
// Pub/Sub (pstest) with the client's default batching: the ingress from GitHub's delivery
// (GitHub's example pull_request synchronize, 28 KB, signed) to its 200, the intake from the
// push of the message the ingress published to its 204 (decoded, one ordered publish to the
// reconcile topic). Each delivery names another commit. Reported as BENCHMARKS.md rows; no
// timing is asserted.
func TestIngressLatency(t *testing.T) {
	needLoad(t)
	ctx := context.Background()
	ps := pubsubemu.InProcess(t, "ingress-bench")
	relay, err := pubsubemu.CreateTopic(ctx, ps, "github-events")
	if err != nil {
		t.Fatal(err)
	}
	reconcileTopic, err := pubsubemu.CreateTopic(ctx, ps, "reconcile")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "benchmark secret"
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := newEnv(t, envOpts{})
	e.w.Logger = discard
	// servers serves both stages with publishers that wait delay for a batch to fill (0: the
	// client's default, 10 ms).
	servers := func(delay time.Duration) (ingressURL, intakeURL string) {
		relayPub := ps.Publisher(relay)
		reconcilePub := ps.Publisher(reconcileTopic)
		reconcilePub.EnableMessageOrdering = true
		if delay > 0 {
			relayPub.PublishSettings.DelayThreshold, reconcilePub.PublishSettings.DelayThreshold = delay, delay
		}
		t.Cleanup(relayPub.Stop)
		t.Cleanup(reconcilePub.Stop)
		ingress := httptest.NewServer(worker.IngressHandler(&webhook.Handler{Secrets: []string{secret},
			Publisher: worker.RelayPublisher(relayPub), Logger: discard}))
		t.Cleanup(ingress.Close)
		intake := httptest.NewServer(e.w.PushHandler(worker.PushOptions{Intake: e.w.Intake(reconcilePub)}))
		t.Cleanup(intake.Close)
		return ingress.URL, intake.URL
	}

	example, err := os.ReadFile(filepath.Join("..", "..", "webhook", "testdata", "pull_request.synchronize.json"))
	if err != nil {
		t.Fatal(err)
	}
	const exampleSHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	const n = 1000
	bodies := make([][]byte, n)
	envelopes := make([][]byte, n)
	for i := range n {
		bodies[i] = bytes.ReplaceAll(example, []byte(exampleSHA), []byte(sha(i)))
		h := http.Header{}
		h.Set(webhook.HeaderEvent, "pull_request")
		h.Set(webhook.HeaderDelivery, "bench-"+strconv.Itoa(i))
		data, attrs, err := webhook.Message(events.DefaultTypePrefix, "bench", h, bodies[i], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		envelopes[i], _ = json.Marshal(map[string]any{"subscription": "projects/ingress-bench/subscriptions/intake",
			"message": map[string]any{"data": data, "attributes": attrs, "messageId": strconv.Itoa(i)}})
	}
	post := func(req *http.Request) (int, error) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	deliver := func(url string) func(int) (int, error) {
		return func(i int) (int, error) {
			return post(signed(url, bodies[i], i, secret))
		}
	}
	push := func(url string) func(int) (int, error) {
		return func(i int) (int, error) {
			req, _ := http.NewRequest(http.MethodPost, url+"/intake", bytes.NewReader(envelopes[i]))
			req.Header.Set("Content-Type", "application/json")
			return post(req)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for _, batching := range []struct {
		name  string
		delay time.Duration
	}{{"default batching (10 ms)", 0}, {"batching off (1 µs)", time.Microsecond}} {
		ingressURL, intakeURL := servers(batching.delay)
		// Warm both up (connections, the publishers' streams) on requests the runs repeat.
		drive(t, 100, 4, deliver(ingressURL))
		drive(t, 100, 4, push(intakeURL))
		for _, c := range []int{1, 16} {
			in := drive(t, n, c, deliver(ingressURL))
			st := drive(t, n, c, push(intakeURL))
			t.Logf("%s, concurrency %d: ingress %.0f deliveries/s, p50 %.2f ms, p99 %.2f ms; intake %.0f pushes/s, p50 %.2f ms, p99 %.2f ms",
				batching.name, c, in.perSec, ms(in.p50), ms(in.p99), st.perSec, ms(st.p50), ms(st.p99))
			emit(t, "ingress", "webhook ingress (POST /webhook → 200)", batching.name, c, in.msgs, in.perSec, ms(in.p50), ms(in.p99))
			emit(t, "ingress", "intake stage (POST /intake → 204)", batching.name, c, st.msgs, st.perSec, ms(st.p50), ms(st.p99))
			emit(t, "ingress", "**ratio ingress / intake**", batching.name, c, "-", in.perSec/st.perSec, ms(in.p50)/ms(st.p50), ms(in.p99)/ms(st.p99))
		}
	}
}

// signed is GitHub's delivery i of body to url, signed with secret.
func signed(url string, body []byte, i int, secret string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, url+"/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderEvent, "pull_request")
	req.Header.Set(webhook.HeaderDelivery, "bench-"+strconv.Itoa(i))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(body, secret))
	return req
}
