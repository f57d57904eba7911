package loadtest

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/internal/logbuf"
	"github.com/prreconciler/prreconciler/internal/relaytest"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// pointsPerPush is the rate-limit points one push to a pull request of n files costs with
// the diff hygiene reconciler (see hygiene.Reconciler) when the reconcile ends within
// IN_PROGRESS_AFTER: the status's list and the create of the completed run, one comparison,
// and past 300 files a read of the pull request and a page of its files per 100 beyond the
// first 300 (its second read is a 304). A run written in_progress first costs one more.
func pointsPerPush(n int) int {
	p := 3
	if n > hygiene.MaxCompareFiles {
		p += 1 + (n-hygiene.MaxCompareFiles+99)/100
	}
	return p
}

// pushModes are the ways a push is measured: with the defaults (the reconcile ends within
// IN_PROGRESS_AFTER), with IN_PROGRESS_AFTER=0 (in_progress always written first, as before
// issue 20), and with a reconcile slower than IN_PROGRESS_AFTER (GitHub's latency makes it).
var pushModes = []struct {
	name            string
	inProgressAfter time.Duration
	latency         time.Duration
	extra           int // points beyond pointsPerPush
}{
	{"now", 0, 0, 0},
	{"IN_PROGRESS_AFTER=0", -1, 0, 1},
	// The comparison alone outlasts the delay by 190 ms: the in_progress write is made.
	{"reconcile slower than IN_PROGRESS_AFTER", 10 * time.Millisecond, 200 * time.Millisecond, 1},
}

// TestPointsPerPush counts, through worker.Handle with the real decoder, the real diff
// hygiene reconciler and githubapp's clients, the GitHub requests and rate-limit points of
// one push: both of its events, in each of pushModes. The counts are exact; the outcome
// record's github_points says the same.
func TestPointsPerPush(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.NewTestServer(t, githubtest.WithRateLimit(1<<30))
	gh.AddRepo(owner, repo)
	f, err := githubapp.New(gh.App().ID, gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: gh.URL() + "/"})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := statusmanager.NewStatusManager[hygiene.Details](ctx, identity, statusmanager.WithAppID(gh.App().ID), statusmanager.WithoutDetailsURL())
	if err != nil {
		t.Fatal(err)
	}
	logs := &logbuf.Buffer{}
	newWorker := func(inProgressAfter time.Duration) *worker.Worker[hygiene.Details] {
		return &worker.Worker[hygiene.Details]{Manager: sm, Clients: f, Reconcile: hygiene.Reconciler(hygiene.Options{}),
			Decoder: &events.Decoder{AppID: gh.App().ID, Identity: identity}, Cost: hygiene.Cost,
			Logger: slog.New(cloudlog.NewHandler(logs, nil)), Timeout: time.Minute, GitHubTimeout: time.Minute,
			InProgressAfter: inProgressAfter}
	}
	w := newWorker(0)
	var base string
	sizes := []int{10, 100, 300, 1000}
	// PR 1 warms up (token, budget); then PR 2+m*len(sizes)+i is size i in mode m.
	number := func(m, i int) int { return 2 + m*len(sizes) + i }
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 1, HeadSHA: sha(100), Files: relaytest.CleanFiles(1)})
	for m := range pushModes {
		for i, n := range sizes {
			gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: number(m, i), HeadSHA: sha(100 + number(m, i) - 1), Files: relaytest.CleanFiles(n)})
		}
	}
	if p, _, err := gh.Client().PullRequests.Get(ctx, owner, repo, 1); err != nil {
		t.Fatal(err)
	} else {
		base = p.GetBase().GetSHA()
	}
	handle := func(w *worker.Worker[hygiene.Details], n, number int) cost {
		t.Helper()
		gh.ResetCounters()
		for _, m := range relaytest.Events(gh, relaytest.Push{Owner: owner, Repo: repo, Number: number, Head: sha(100 + number - 1), Base: base, ChangedFiles: n}) {
			if o, err := w.Handle(ctx, m); !o.Ack() {
				t.Fatalf("%d files: %s %v", n, o, err)
			}
		}
		var c cost
		for _, r := range gh.Requests() {
			c.requests++
			if r.ETagHit {
				c.etagHits++
			}
		}
		c.ratelimit = gh.RateLimitUsed()
		return c
	}
	handle(w, 1, 1)
	points := make([][]cost, len(pushModes))
	for m, mode := range pushModes {
		mw := newWorker(mode.inProgressAfter)
		if m == 0 {
			w = mw // the instance that completed the commits redelivered below
		}
		gh.SetLatency(mode.latency)
		for i, n := range sizes {
			c := handle(mw, n, number(m, i))
			runs := gh.CheckRuns(owner, repo, sha(100+number(m, i)-1))
			if len(runs) != 1 || runs[0].Conclusion != "success" {
				t.Errorf("%s, %d files: runs %+v, want one success", mode.name, n, runs)
			}
			if want := pointsPerPush(n) + mode.extra; c.ratelimit != want {
				t.Errorf("%s, %d files: %d points (%d requests), want %d", mode.name, n, c.ratelimit, c.requests, want)
			}
			rec := lastOutcome(t, logs)
			if rec[worker.LogFieldGitHubPoints] != float64(c.ratelimit) || rec[worker.LogFieldGitHubRequests] != float64(c.requests) {
				t.Errorf("%s, %d files: the outcome record says %v points in %v requests; the fake %d in %d",
					mode.name, n, rec[worker.LogFieldGitHubPoints], rec[worker.LogFieldGitHubRequests], c.ratelimit, c.requests)
			}
			t.Logf("%s: %5d files: %d points, %d requests (%d answered 304)", mode.name, n, c.ratelimit, c.requests, c.etagHits)
			points[m] = append(points[m], c)
		}
	}
	gh.SetLatency(0)
	for i, n := range sizes {
		now, before, slow := points[0][i], points[1][i], points[2][i]
		emit(t, "push", n, before.ratelimit, now.ratelimit, slow.ratelimit, now.requests, now.etagHits)
	}

	// Redeliveries of a push: to the instance that completed it, nothing is asked of GitHub;
	// to another, the first reads the commit's runs in full (the completion changed them
	// since that instance's last read), the next are answered 304. (The other instances share
	// this one's status manager and factory: their caches are as warm as they can be.)
	sync := relaytest.Events(gh, relaytest.Push{Owner: owner, Repo: repo, Number: 3, Head: sha(102), Base: base, ChangedFiles: 100})[0]
	for i, step := range []struct {
		where          string
		points, reqs   int
		anotherProcess bool
	}{
		{"the same instance", 0, 0, false}, {"another instance", 1, 1, true}, {"a third instance", 0, 1, true},
	} {
		gh.ResetCounters()
		h := w
		if step.anotherProcess {
			h = &worker.Worker[hygiene.Details]{Manager: sm, Clients: f, Reconcile: w.Reconcile, Decoder: w.Decoder,
				Logger: w.Logger, Timeout: time.Minute, GitHubTimeout: time.Minute}
		}
		if o, err := h.Handle(ctx, sync); o != worker.OutcomeSkipped {
			t.Fatalf("redelivery %d: %s %v", i+1, o, err)
		}
		if got, reqs := gh.RateLimitUsed(), len(gh.Requests()); got != step.points || reqs != step.reqs {
			t.Errorf("redelivery %d (%s): %d points in %d requests, want %d in %d", i+1, step.where, got, reqs, step.points, step.reqs)
		}
		emit(t, "redelivery", step.where, gh.RateLimitUsed(), len(gh.Requests()))
	}

	// A rerun of the same commit reads its diff again: the comparison is answered 304.
	gh.ResetCounters()
	rerun, _ := json.Marshal(map[string]any{"owner": owner, "repo": repo, "url": prURL(owner, repo, 3), "sha": sha(102),
		"rerun": true, "baseSha": base, "changedFiles": 100})
	if o, err := w.Handle(ctx, &events.Message{ID: "rerun-3", Data: rerun}); o != worker.OutcomeReconciled {
		t.Fatalf("rerun: %s %v", o, err)
	}
	var compared, free int
	for _, q := range gh.Requests() {
		if q.Route == string(githubtest.RouteCompareCommits) {
			compared++
			if q.ETagHit {
				free++
			}
		}
	}
	// a new run, created completed; the runs list (read by the skips just before) and the
	// comparison are answered 304
	if compared != 1 || free != 1 || gh.RateLimitUsed() != 1 {
		t.Errorf("rerun: %d comparisons (%d answered 304), %d points; want 1 (1), 1", compared, free, gh.RateLimitUsed())
	}
	emit(t, "redelivery", "a rerun of the commit (the comparison answered 304)", gh.RateLimitUsed(), len(gh.Requests()))
}

// lastOutcome is the last reconcile outcome record in logs.
func lastOutcome(t *testing.T, logs *logbuf.Buffer) map[string]any {
	t.Helper()
	var last map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec[worker.LogFieldStage] == worker.StageReconcile && rec[worker.LogFieldGitHubPoints] != nil {
			last = rec
		}
	}
	if last == nil {
		t.Fatal("no outcome record")
	}
	return last
}
