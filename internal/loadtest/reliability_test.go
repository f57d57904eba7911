package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
	"github.com/prreconciler/prreconciler/worker"
)

// TestReliability drives 1,000 messages through the real Pub/Sub emulator (pull) into the
// worker, with the real githubapp factory, the diff hygiene reconciler and the GitHub fake
// injecting 5xx answers and secondary rate limits, and restarts the worker mid-stream. It
// checks that every commit ends with exactly one completed check run, that every message is
// acked and the subscription drains, and that nothing is reconciled to completion twice.
// Runs and their completion are judged from GitHub's state (the fake's check runs and the
// completing writes it applied), not from the answers the worker got: a completing write that
// landed while its answer was lost at the restart is correct, and counts. Each run has its
// own emulator project, so -count=N repeats it.
// It runs in CI (bounded: 1,000 messages); PRRECONCILER_RELIABILITY_MESSAGES raises it.
func TestReliability(t *testing.T) {
	const (
		prs        = 200
		owners     = 4
		inFlight   = 16
		failRate   = 0.05
		secondRate = 0.02
		dupRate    = 0.10
	)
	total := 1000
	if n, err := fmt.Sscan(os.Getenv("PRRECONCILER_RELIABILITY_MESSAGES"), &total); n == 1 && err == nil && total < 100 {
		total = 100
	}
	start := time.Now()
	emu := pubsubemu.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ps, err := emu.Client(ctx, emu.Project("reliability"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"requests"} {
		if _, err := pubsubemu.CreateTopic(ctx, ps, id); err != nil {
			t.Fatal(err)
		}
	}
	// No dead-letter policy here: with one, the emulator (unlike Pub/Sub) was seen to hold
	// back a whole batch of messages nacked at the restart for minutes, which says nothing
	// about the worker. Dead-lettering is proven by the worker's end-to-end tests, one
	// message at a time; here every message must end acked.
	subName, err := pubsubemu.CreateSubscription(ctx, ps, pubsubemu.SubscriptionConfig{ID: "worker", Topic: "requests",
		AckDeadline: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	// GitHub: 200 PRs over 4 owners (4 installations); each PR gets 4 or 5 commits.
	var reconciles sync.Map // key → *atomic.Int64 of reconciler calls
	hyg := func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[report], error) {
		n, _ := reconciles.LoadOrStore(req.Resource.Owner+"/"+req.Resource.Repo+"@"+req.SHA, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		d, err := hygiene.Reconcile(ctx, gh, req.Resource.Owner, req.Resource.Repo, req.Resource.Number, hygiene.Options{})
		if err != nil {
			return nil, err
		}
		return &worker.Result[report]{Conclusion: d.Conclusion(), Title: d.Title(), Details: report{Note: d.Title()}}, nil
	}
	opts := envOpts{reconcile: hyg, budget: 15 * time.Second}
	e := newEnv(t, opts)
	rng := rand.New(rand.NewPCG(1, 2))
	type commit struct {
		owner string
		pr    int
		sha   string
	}
	var commits []commit
	heads := map[string]string{} // owner#pr → head sha
	unique := total - int(float64(total)*dupRate)
	for i := 0; len(commits) < unique; i++ {
		p := i % prs
		o := fmt.Sprintf("rel-org-%d", p%owners)
		c := commit{o, p + 1, sha(1_000_000 + i)}
		commits = append(commits, c)
		heads[fmt.Sprintf("%s#%d", o, c.pr)] = c.sha
	}
	for k, head := range heads {
		var o string
		var n int
		fmt.Sscanf(strings.Replace(k, "#", " ", 1), "%s %d", &o, &n)
		e.addPRIn(o, n, head)
	}
	msgs := make([]*events.Message, 0, total)
	for i, c := range commits {
		var inst int64
		if i%2 == 0 {
			inst = e.gh.InstallationID(e.gh.App(), c.owner)
		}
		msgs = append(msgs, request("", c.owner, repo, c.pr, c.sha, inst, false))
	}
	for len(msgs) < total {
		msgs = append(msgs, msgs[rng.IntN(unique)]) // a duplicate: the same request, published again
	}
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })

	// Faults, injected as messages complete: FailNext on a random route, 5% of messages a
	// 5xx and 2% a secondary rate limit (Retry-After 1s).
	routes := []githubtest.Route{githubtest.RouteListCheckRunsForRef, githubtest.RouteCreateCheckRun,
		githubtest.RouteUpdateCheckRun, githubtest.RouteListPullRequestFiles}
	faultAt := map[int]string{}
	for len(faultAt) < int(float64(total)*failRate) {
		faultAt[1+rng.IntN(total-1)] = "5xx"
	}
	for n := 0; n < int(float64(total)*secondRate); {
		if k := 1 + rng.IntN(total-1); faultAt[k] == "" {
			faultAt[k] = "secondary"
			n++
		}
	}
	var injected5xx, injectedSecondary atomic.Int64
	var frng sync.Mutex
	outs := newOutcomes()
	var quiet atomic.Bool
	var lateSkipped, lateOther atomic.Int64
	var (
		lateMu  sync.Mutex
		lateWhy []string // what the late redeliveries that were not skipped became, and why
	)
	var handled atomic.Int64
	restartAt := int64(total / 2)
	restart := make(chan struct{})
	var restartOnce sync.Once
	progress := make(chan struct{}, 1) // a new outcome was recorded
	onOutcome := func(m *events.Message, o worker.Outcome, err error) {
		outs.record(m, o, err)
		select {
		case progress <- struct{}{}:
		default:
		}
		if quiet.Load() {
			if o == worker.OutcomeSkipped {
				lateSkipped.Add(1)
			} else {
				lateOther.Add(1)
				lateMu.Lock()
				lateWhy = append(lateWhy, fmt.Sprintf("%s: %s (%v)", m.ID, o, err))
				lateMu.Unlock()
			}
		}
		n := int(handled.Add(1))
		if n%250 == 0 {
			t.Logf("progress: %d outcomes at %s", n, time.Since(start).Round(time.Millisecond))
		}
		frng.Lock()
		kind := faultAt[n]
		route := routes[rng.IntN(len(routes))]
		status := []int{500, 502, 503}[rng.IntN(3)]
		frng.Unlock()
		switch kind {
		case "5xx":
			e.gh.FailNext(route, 1, status)
			injected5xx.Add(1)
		case "secondary":
			e.gh.FailNextSecondaryRateLimit(route, 1, []int{403, 429}[n%2], time.Second)
			injectedSecondary.Add(1)
		}
		if int64(n) == restartAt {
			restartOnce.Do(func() { close(restart) })
		}
	}
	e.w.OnOutcome = onOutcome
	e.w.MaxDeliveryAttempts = 5

	// Publish everything, then let the worker drain it.
	pub := ps.Publisher("requests")
	results := make([]*pubsub.PublishResult, len(msgs))
	for i, m := range msgs {
		results[i] = pub.Publish(ctx, &pubsub.Message{Data: m.Data})
	}
	published := map[string]bool{}
	for _, r := range results {
		id, err := r.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		published[id] = true
	}
	pub.Stop()
	// A short lease extension brings back the messages the stopped worker had leased within
	// seconds (Pull's default bounds it at 30 s).
	pullOpts := worker.PullOptions{MaxInFlight: inFlight, ShutdownGrace: 300 * time.Millisecond, MaxAckExtension: 10 * time.Second}
	runWorker := func(w *worker.Worker[report]) (stop func()) {
		wctx, wcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		sub := ps.Subscriber(subName)
		go func() { done <- w.Pull(wctx, sub, pullOpts) }()
		return func() {
			wcancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("pull: %v", err)
			}
		}
	}
	stop := runWorker(e.w)
	firstOutcomes := 0
	select {
	case <-restart:
	case <-ctx.Done():
		t.Fatal("no restart point reached")
	}
	// The restart: the first worker's Pull is cancelled (in-flight work gets 300 ms, then is
	// nacked) and a new Worker, StatusManager and client factory take over: a new process's
	// memory (no ETags, no tokens, no flights, no attempt counts).
	stop()
	firstOutcomes = int(handled.Load())
	e.restart(t, opts)
	e.w.OnOutcome = onOutcome
	stop = runWorker(e.w)

	drain := time.NewTimer(3 * time.Minute)
	defer drain.Stop()
	for {
		acked := 0
		outs.mu.Lock()
		for id := range published {
			if outs.acked[id] {
				acked++
			}
		}
		outs.mu.Unlock()
		if acked == len(published) {
			break
		}
		select {
		case <-progress:
		case <-drain.C:
			t.Fatalf("only %d of %d messages acked; outcomes %v; errors %v", acked, len(published), outs.by, outs.errs)
		}
	}
	drainedAt := time.Since(start)
	// Quiet period, longer than the ack deadline and the lease extension: an ack lost at the
	// restart brings its message back now, and the worker must merely skip it. GitHub is
	// healthy by then: faults injected near the end that no request met are dropped, or a late
	// redelivery meeting one would rightly be retried, which is not what is measured here.
	e.gh.ClearFaults()
	quiet.Store(true)
	time.Sleep(12 * time.Second)
	stop()

	// The subscription drains: a fresh subscriber sees nothing.
	var leftover atomic.Int64
	fctx, fcancel := context.WithTimeout(ctx, 4*time.Second)
	var wg sync.WaitGroup
	wg.Go(func() {
		ps.Subscriber(subName).Receive(fctx, func(_ context.Context, m *pubsub.Message) { leftover.Add(1); m.Ack() })
	})
	wg.Wait()
	fcancel()

	// Every commit: exactly one run of ours, completed, written completed exactly once; every
	// PR's head likewise. All of it as GitHub (the fake) holds it.
	keys := map[string]bool{}
	var badRuns []string
	twice, writesTwice, completedRuns := 0, 0, 0
	for _, c := range commits {
		k := c.owner + "/" + repo + "@" + c.sha
		if keys[k] {
			continue
		}
		keys[k] = true
		rs := e.oursIn(c.owner, c.sha)
		if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "success" {
			badRuns = append(badRuns, fmt.Sprintf("%s: %d runs %v", k, len(rs), summarize(rs)))
		}
		completions := 0
		for _, r := range rs {
			completions += r.CompletingWrites
			if r.Status == "completed" {
				completedRuns++
			}
			if r.CompletingWrites > 1 {
				writesTwice++
			}
		}
		if completions > 1 {
			twice++
		}
	}
	headsOK := 0
	for k, head := range heads {
		o := strings.Split(k, "#")[0]
		if rs := e.oursIn(o, head); len(rs) == 1 && rs[0].Status == "completed" {
			headsOK++
		}
	}
	calls, maxCalls := int64(0), int64(0)
	reconciles.Range(func(_, v any) bool {
		n := v.(*atomic.Int64).Load()
		calls += n
		maxCalls = max(maxCalls, n)
		return true
	})
	var outcomeList []string
	outs.mu.Lock()
	for o, n := range outs.by {
		outcomeList = append(outcomeList, fmt.Sprintf("%s %d", o, n))
	}
	ackedTotal := len(outs.acked)
	outs.mu.Unlock()
	sort.Strings(outcomeList)

	rows := [][2]any{
		{"messages published", len(published)},
		{"distinct commits (PR, SHA) / PRs / installations", fmt.Sprintf("%d / %d / %d", len(keys), prs, owners)},
		{"duplicates published", len(msgs) - unique},
		{"GitHub 5xx injected (FailNext, random route)", injected5xx.Load()},
		{"secondary rate limits injected (Retry-After 1s)", injectedSecondary.Load()},
		{"worker restarts (new Worker, StatusManager, factory)", fmt.Sprintf("1, after %d outcomes", firstOutcomes)},
		{"outcomes (all deliveries; a duplicate delivered while its twin is in flight shares its reconcile)", strings.Join(outcomeList, ", ")},
		{"messages acked / published", fmt.Sprintf("%d / %d", ackedTotal, len(published))},
		{"redelivered after all were acked (12 s quiet period): skipped / other", fmt.Sprintf("%d / %d", lateSkipped.Load(), lateOther.Load())},
		{"left on the subscription (final pull, 4 s)", leftover.Load()},
		{"commits with exactly one run, completed success", fmt.Sprintf("%d / %d", len(keys)-len(badRuns), len(keys))},
		{"PR heads with exactly one completed run", fmt.Sprintf("%d / %d", headsOK, len(heads))},
		{"commits written completed more than once (all runs, as GitHub applied them)", twice},
		{"runs with more than one completing write applied", fmt.Sprintf("%d (of %d completed runs)", writesTwice, completedRuns)},
		{"reconciler calls (total / max for one commit)", fmt.Sprintf("%d / %d", calls, maxCalls)},
		{"GitHub requests / rate-limit points (all)", fmt.Sprintf("%d / %d", len(e.gh.Requests()), e.gh.RateLimitUsed())},
		{"time to drain (wall clock, not asserted)", drainedAt.Round(100 * time.Millisecond)},
	}
	var table strings.Builder
	table.WriteString("TestReliability summary\n")
	for _, r := range rows {
		fmt.Fprintf(&table, "  %-58s %v\n", r[0], r[1])
		emit(t, "reliability", r[0], r[1])
	}
	t.Log(table.String())
	fmt.Print(table.String())

	if len(badRuns) > 0 {
		t.Errorf("%d commits without exactly one completed success run, e.g. %v", len(badRuns), badRuns[:min(5, len(badRuns))])
	}
	if headsOK != len(heads) {
		t.Errorf("%d of %d PR heads have exactly one completed run", headsOK, len(heads))
	}
	if lateOther.Load() != 0 {
		lateMu.Lock()
		t.Errorf("%d late redeliveries were not skipped: %s", lateOther.Load(), strings.Join(lateWhy, "; "))
		lateMu.Unlock()
	}
	if ackedTotal < len(published) || leftover.Load() != 0 {
		t.Errorf("acked %d of %d, %d left on the subscription", ackedTotal, len(published), leftover.Load())
	}
	if twice != 0 || writesTwice != 0 {
		t.Errorf("%d commits reconciled to completion twice, %d runs completed by more than one write", twice, writesTwice)
	}
	if completedRuns != len(keys) {
		t.Errorf("%d completed runs on GitHub, want %d", completedRuns, len(keys))
	}
	if outs.by[worker.OutcomeGaveUp] != 0 || outs.by[worker.OutcomeFailed] != 0 || outs.by[worker.OutcomeInvalid] != 0 {
		t.Errorf("outcomes %v: nothing should fail, give up or be invalid; errors %v", outs.by, outs.errs)
	}
}

func summarize(rs []githubtest.CheckRun) []string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Status+"/"+r.Conclusion+" "+r.Title)
	}
	return s
}
