package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
)

// The tests of this file run two or more worker processes at once on the real Pub/Sub
// emulator: one check run and one reconcile per commit is a promise across instances, which
// one process cannot prove.

// fleetLatency is GitHub's answer time in the load tests: long enough that two instances
// racing on one commit would overlap.
const fleetLatency = 300 * time.Millisecond

// balancer spreads pushes over worker processes round-robin, as Cloud Run does over
// instances, and counts the answers per path and status. A backend that cannot be reached is
// left out from then on, as Cloud Run stops routing to a dead instance.
type balancer struct {
	srv      *httptest.Server
	backends []*backend
	next     atomic.Uint64
	mu       sync.Mutex
	answers  map[string]int // "path status" → count
}

type backend struct {
	proxy    *httputil.ReverseProxy
	dead     atomic.Bool
	inFlight atomic.Int64 // pushes to /reconcile being handled
}

func newBalancer(t *testing.T, ports []int) *balancer {
	t.Helper()
	b := &balancer{answers: map[string]int{}}
	for _, p := range ports {
		u, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", p))
		be := &backend{proxy: httputil.NewSingleHostReverseProxy(u)}
		be.proxy.ErrorHandler = func(rw http.ResponseWriter, _ *http.Request, _ error) {
			be.dead.Store(true)
			rw.WriteHeader(http.StatusBadGateway)
		}
		b.backends = append(b.backends, be)
	}
	b.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		be := b.pick()
		if r.URL.Path == "/reconcile" {
			be.inFlight.Add(1)
			defer be.inFlight.Add(-1)
		}
		rec := &statusWriter{ResponseWriter: rw, status: http.StatusOK}
		be.proxy.ServeHTTP(rec, r)
		b.mu.Lock()
		b.answers[r.URL.Path+" "+strconv.Itoa(rec.status)]++
		b.mu.Unlock()
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// pick is the next live backend (the next one at all when none is known live).
func (b *balancer) pick() *backend {
	for range b.backends {
		be := b.backends[b.next.Add(1)%uint64(len(b.backends))]
		if !be.dead.Load() {
			return be
		}
	}
	return b.backends[b.next.Add(1)%uint64(len(b.backends))]
}

func (b *balancer) count(path string, status int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.answers[path+" "+strconv.Itoa(status)]
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// fleet is a Pub/Sub topology on the emulator (relay, reconcile and dead-letter topics), a
// GitHub fake and the worker processes between them.
type fleet struct {
	t        *testing.T
	emu      *pubsubemu.Emulator
	project  string
	ps       *pubsub.Client
	gh       *githubtest.Server
	relay    string
	reconc   string
	dead     string
	procs    []*process
	balancer *balancer
	pubRelay *pubsub.Publisher
	pubRec   *pubsub.Publisher
}

func newFleet(t *testing.T, name string, latency time.Duration) *fleet {
	t.Helper()
	ctx := context.Background()
	emu := pubsubemu.Shared(t)
	f := &fleet{t: t, emu: emu, project: emu.Project(name)}
	var err error
	if f.ps, err = emu.Client(ctx, f.project); err != nil {
		t.Fatal(err)
	}
	for _, tp := range []struct {
		id  string
		dst *string
	}{{"relay", &f.relay}, {"reconcile", &f.reconc}, {"dead-letter", &f.dead}} {
		if *tp.dst, err = pubsubemu.CreateTopic(ctx, f.ps, tp.id); err != nil {
			t.Fatal(err)
		}
	}
	f.gh = githubtest.NewTestServer(t, githubtest.WithLatency(latency))
	f.gh.AddRepo(testOwner, testRepo)
	f.pubRelay = f.ps.Publisher(f.relay)
	t.Cleanup(f.pubRelay.Stop)
	f.pubRec = f.ps.Publisher(f.reconc)
	f.pubRec.EnableMessageOrdering = true
	t.Cleanup(f.pubRec.Stop)
	return f
}

// subscribe creates a subscription of the fleet's project with its dead-letter policy.
func (f *fleet) subscribe(id, topic, push string, ordered bool) string {
	f.t.Helper()
	name, err := pubsubemu.CreateSubscription(context.Background(), f.ps, pubsubemu.SubscriptionConfig{
		ID: id, Topic: topic, PushEndpoint: push, Ordered: ordered, AckDeadline: 60 * time.Second,
		DeadLetterTopic: f.dead, MaxDeliveryAttempts: 10, MinBackoff: time.Second, MaxBackoff: 2 * time.Second,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return name
}

// env is the worker processes' environment, less the mode.
func (f *fleet) env(extra ...string) []string {
	return append(append(appEnv(f.gh), "PUBSUB_EMULATOR_HOST="+f.emu.Host, "GOOGLE_CLOUD_PROJECT="+f.project,
		"RECONCILE_TOPIC="+f.reconc, "MAX_IN_FLIGHT=10", "LOG_LEVEL=info", "GITHUB_RETRY_BUDGET=10s"), extra...)
}

// startPush starts n push workers behind a round-robin balancer and waits until they serve.
func (f *fleet) startPush(n int, extra ...string) *balancer {
	f.t.Helper()
	var ports []int
	for range n {
		port := freePort(f.t)
		ports = append(ports, port)
		f.procs = append(f.procs, startWorker(f.t, f.env(append(extra, "PORT="+strconv.Itoa(port))...)...))
	}
	for _, port := range ports {
		waitFor(f.t, 30*time.Second, "a push worker's /healthz", func() bool {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
			if err == nil {
				resp.Body.Close()
			}
			return err == nil && resp.StatusCode == http.StatusOK
		})
	}
	f.balancer = newBalancer(f.t, ports)
	return f.balancer
}

// startPull starts n pull workers, each with the environment given.
func (f *fleet) startPull(n int, extra ...string) {
	f.t.Helper()
	for range n {
		f.procs = append(f.procs, startWorker(f.t, f.env(extra...)...))
	}
}

// commitSHA is the head of PR pr in round r.
func commitSHA(r, pr int) string { return fmt.Sprintf("%08x%032x", r+1, pr) }

// fleetFiles are a PR's changed files: three conflict markers, three annotations.
func fleetFiles(pr int) []githubtest.File {
	var fs []githubtest.File
	for i := range 3 {
		fs = append(fs, githubtest.File{Filename: fmt.Sprintf("pr%d/f%d.go", pr, i), Status: "modified",
			Patch: "@@ -1,1 +1,2 @@\n package p\n+<<<<<<< HEAD"})
	}
	return fs
}

// setHeads makes round r's commit the head of PRs 1..n.
func (f *fleet) setHeads(r, n int) {
	for pr := 1; pr <= n; pr++ {
		if r == 0 {
			f.gh.AddPullRequest(testOwner, testRepo, githubtest.PullRequest{Number: pr, HeadSHA: commitSHA(r, pr), Files: fleetFiles(pr)})
		} else {
			f.gh.PushHead(testOwner, testRepo, pr, commitSHA(r, pr), fleetFiles(pr))
		}
	}
}

func (f *fleet) prURL(pr int) string {
	return fmt.Sprintf("%s/%s/%s/pull/%d", f.gh.WebURL(), testOwner, testRepo, pr)
}

// synchronize is the relay's pull_request synchronize event for PR pr at sha.
func (f *fleet) synchronize(pr int, sha, delivery string) *pubsub.Message {
	body := map[string]any{
		"action": "synchronize", "number": pr, "after": sha,
		"pull_request": map[string]any{"number": pr, "html_url": f.prURL(pr), "state": "open", "head": map[string]any{"sha": sha}},
		"repository": map[string]any{"id": 1, "name": testRepo, "full_name": testOwner + "/" + testRepo,
			"html_url": f.gh.WebURL() + "/" + testOwner + "/" + testRepo, "owner": map[string]any{"login": testOwner}},
		"installation": map[string]any{"id": f.gh.InstallationID(f.gh.App(), testOwner)},
	}
	data, _ := json.Marshal(map[string]any{"when": time.Now().UTC().Format(time.RFC3339),
		"headers": map[string]any{"event": "pull_request", "delivery_id": delivery}, "body": body})
	return &pubsub.Message{Data: data, Attributes: map[string]string{
		"ce-id": delivery, "ce-type": events.DefaultTypePrefix + ".pull_request", "ce-subject": testOwner + "/" + testRepo,
		"ce-action": "synchronize", "ce-pullrequesturl": f.prURL(pr)}}
}

// request is a reconcile request for PR pr at sha, with its ordering key.
func (f *fleet) request(pr int, sha string) (*pubsub.Message, events.Request) {
	req := events.Request{Resource: events.Resource{Owner: testOwner, Repo: testRepo, URL: f.prURL(pr)}, SHA: sha}
	data, _ := req.MarshalJSON()
	return &pubsub.Message{Data: data, OrderingKey: req.OrderingKey()}, req
}

// publishTwins publishes, for each PR at once, its synchronize event to the relay topic and
// a reconcile request: to the reconcile topic with its ordering key when ordered, else to
// the relay topic as well (the single-stage path).
func (f *fleet) publishTwins(r, n int, ordered bool) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var results []*pubsub.PublishResult
	for pr := 1; pr <= n; pr++ {
		sha := commitSHA(r, pr)
		results = append(results, f.pubRelay.Publish(ctx, f.synchronize(pr, sha, fmt.Sprintf("delivery-%d-%d", r, pr))))
		m, _ := f.request(pr, sha)
		if ordered {
			results = append(results, f.pubRec.Publish(ctx, m))
		} else {
			m.OrderingKey = ""
			results = append(results, f.pubRelay.Publish(ctx, m))
		}
	}
	for _, res := range results {
		if _, err := res.Get(ctx); err != nil {
			f.t.Fatal(err)
		}
	}
}

// commitReport is what GitHub holds of one commit after a round.
type commitReport struct {
	runs, completed, reconciles, duplicateAnnotations int
}

// report reads GitHub's state of round r's commits. reconciles counts the comparisons of each
// commit with its base (the diff hygiene reconciler makes one per run) since mark.
func (f *fleet) report(r, n, mark int) map[int]commitReport {
	reqs := f.gh.Requests()[mark:]
	out := map[int]commitReport{}
	for pr := 1; pr <= n; pr++ {
		var c commitReport
		for _, run := range f.gh.CheckRuns(testOwner, testRepo, commitSHA(r, pr)) {
			c.runs++
			if run.Status == "completed" {
				c.completed++
			}
			seen := map[string]bool{}
			for _, a := range run.Annotations {
				k := fmt.Sprintf("%s:%d", a.GetPath(), a.GetStartLine())
				if seen[k] {
					c.duplicateAnnotations++
				}
				seen[k] = true
			}
		}
		// The diff hygiene reconciler compares the commit with its base once per run.
		compare := fmt.Sprintf("/repos/%s/%s/compare/", testOwner, testRepo)
		for _, q := range reqs {
			if q.Method == http.MethodGet && strings.HasPrefix(q.Path, compare) && strings.HasSuffix(q.Path, "..."+commitSHA(r, pr)) {
				c.reconciles++
			}
		}
		out[pr] = c
	}
	return out
}

// waitCompleted waits until every commit of round r has a completed run, and returns when
// each was first seen completed (polled every 10 ms).
func (f *fleet) waitCompleted(r, n int, also func() bool) map[int]time.Time {
	f.t.Helper()
	seen := map[int]time.Time{}
	waitFor(f.t, 3*time.Minute, fmt.Sprintf("round %d's %d commits to complete", r, n), func() bool {
		for pr := 1; pr <= n; pr++ {
			if _, ok := seen[pr]; ok {
				continue
			}
			runs := f.gh.CheckRuns(testOwner, testRepo, commitSHA(r, pr))
			if len(runs) > 0 && runs[len(runs)-1].Status == "completed" {
				seen[pr] = time.Now()
			}
		}
		return len(seen) == n && (also == nil || also())
	})
	return seen
}

// loadStats are the measures of a load over all its rounds.
type loadStats struct {
	commitReport
	commits, requests, points int
	latencies                 []time.Duration // from the twins' publish to the completed run
	busy                      time.Duration   // from each round's publish to its last completed run
}

// percentile is the p-th percentile (0-100) of ds, which it sorts.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, (len(ds)*p+99)/100-1)]
}

// bench logs one row of a BENCHMARKS.md table, which scripts/benchmarks collects.
func bench(t *testing.T, table string, cols ...any) {
	t.Helper()
	row := "BENCH\t" + table
	for _, c := range cols {
		row += "\t" + fmt.Sprint(c)
	}
	t.Log(row)
}

// benchRow reports a load as a row of the fleet table.
func (st loadStats) benchRow(t *testing.T, path string) {
	t.Helper()
	lat := slices.Clone(st.latencies)
	bench(t, "fleet", path, st.commits, st.runs, st.reconciles, st.duplicateAnnotations,
		fmt.Sprintf("%.0f", percentile(lat, 50).Seconds()*1000), fmt.Sprintf("%.0f", percentile(lat, 99).Seconds()*1000),
		fmt.Sprintf("%.1f", float64(st.commits)/st.busy.Seconds()),
		fmt.Sprintf("%.1f", float64(st.requests)/float64(st.commits)), fmt.Sprintf("%.1f", float64(st.points)/float64(st.commits)),
		// What one installation's default budget of 5,000 points an hour carries.
		fmt.Sprintf("%.0f", 5000/(float64(st.points)/float64(st.commits))))
}

// loadRounds runs rounds of n commits, each hit by twin events at once, and returns the
// commits that broke the promise, and the measures over all rounds.
func (f *fleet) loadRounds(rounds, n int, ordered bool, acked func(r int) bool) (broken []string, total loadStats) {
	f.t.Helper()
	for r := range rounds {
		f.setHeads(r, n)
		mark := len(f.gh.Requests())
		start := time.Now()
		f.publishTwins(r, n, ordered)
		done := f.waitCompleted(r, n, func() bool { return acked(r) })
		var last time.Time
		for _, at := range done {
			total.latencies = append(total.latencies, at.Sub(start))
			if at.After(last) {
				last = at
			}
		}
		total.busy += last.Sub(start)
		total.commits += n
		for _, q := range f.gh.Requests()[mark:] {
			total.requests++
			if q.RateLimited {
				total.points++
			}
		}
		for pr, c := range f.report(r, n, mark) {
			total.runs += c.runs
			total.completed += c.completed
			total.reconciles += c.reconciles
			total.duplicateAnnotations += c.duplicateAnnotations
			if c.runs != 1 || c.completed != 1 || c.reconciles != 1 || c.duplicateAnnotations != 0 {
				broken = append(broken, fmt.Sprintf("round %d PR %d: %d runs, %d completed, %d reconciles, %d duplicate annotations",
					r, pr, c.runs, c.completed, c.reconciles, c.duplicateAnnotations))
			}
		}
	}
	return broken, total
}

const (
	fleetRounds  = 3
	fleetCommits = 20
)

// TestOrderedFleetPush: two push workers behind a round-robin balancer, an intake
// subscription on the relay topic and an ordered reconcile subscription. Every commit gets
// one run, one reconcile, no annotation twice, in every round.
func TestOrderedFleetPush(t *testing.T) {
	t.Parallel()
	f := newFleet(t, "fleet-push", fleetLatency)
	b := f.startPush(2)
	f.subscribe("intake", f.relay, b.srv.URL+"/intake", false)
	f.subscribe("reconcile", f.reconc, b.srv.URL+"/reconcile", true)
	broken, total := f.loadRounds(fleetRounds, fleetCommits, true, func(r int) bool {
		// Every twin answered: the intake's events and both reconcile messages per commit.
		n := (r + 1) * fleetCommits
		return b.count("/intake", 204) >= n && b.count("/reconcile", 204) >= 2*n
	})
	t.Logf("two stages, push, 2 instances: %d commits, %d runs, %d reconciles, %d duplicate annotations; answers %v",
		total.commits, total.runs, total.reconciles, total.duplicateAnnotations, b.answers)
	total.benchRow(t, "two stages, push")
	for _, s := range broken {
		t.Error(s)
	}
}

// TestOrderedFleetPull: two processes each pulling both stages from the same subscriptions.
func TestOrderedFleetPull(t *testing.T) {
	t.Parallel()
	f := newFleet(t, "fleet-pull", fleetLatency)
	intake := f.subscribe("intake", f.relay, "", false)
	reconcile := f.subscribe("reconcile", f.reconc, "", true)
	f.startPull(2, "INTAKE_SUBSCRIPTION="+intake, "PUBSUB_SUBSCRIPTION="+reconcile)
	broken, total := f.loadRounds(fleetRounds, fleetCommits, true, func(r int) bool {
		return outcomes(f.procs, "reconciled", "skipped", "failed") >= 2*(r+1)*fleetCommits
	})
	t.Logf("two stages, pull, 2 instances: %d commits, %d runs, %d reconciles, %d duplicate annotations",
		total.commits, total.runs, total.reconciles, total.duplicateAnnotations)
	total.benchRow(t, "two stages, pull")
	for _, s := range broken {
		t.Error(s)
	}
}

// TestSingleStageFleetReport runs the same load on the single-stage path (both twins pushed
// to /reconcile, no ordering) and reports what it does: it asserts nothing about the
// duplicates, which are the reason for the two stages.
func TestSingleStageFleetReport(t *testing.T) {
	t.Parallel()
	f := newFleet(t, "fleet-single", fleetLatency)
	b := f.startPush(2)
	f.subscribe("single", f.relay, b.srv.URL+"/reconcile", false)
	broken, total := f.loadRounds(fleetRounds, fleetCommits, false, func(r int) bool {
		return b.count("/reconcile", 204) >= 2*(r+1)*fleetCommits
	})
	t.Logf("single stage, push, 2 instances: %d commits, %d runs, %d reconciles, %d duplicate annotations, %d commits broke the promise",
		total.commits, total.runs, total.reconciles, total.duplicateAnnotations, len(broken))
	total.benchRow(t, "single stage, push")
	for _, s := range broken {
		t.Log(s)
	}
}

// outcomes counts the requests the processes logged with one of the outcomes given.
func outcomes(ps []*process, names ...string) int {
	n := 0
	for _, p := range ps {
		for _, line := range strings.Split(p.output(), "\n") {
			var rec struct {
				Message string            `json:"message"`
				Labels  map[string]string `json:"logging.googleapis.com/labels"`
			}
			if json.Unmarshal([]byte(line), &rec) != nil || !strings.Contains(rec.Message, " outcome: ") {
				continue
			}
			if slices.Contains(names, rec.Labels["outcome"]) {
				n++
			}
		}
	}
	return n
}
