package loadtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/internal/relaytest"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// latencyGitHub is GitHub's answer time in TestLatencyInProgressAfter.
const latencyGitHub = 300 * time.Millisecond

// TestLatencyInProgressAfter measures the event-to-completed latency of a push (its
// pull_request synchronize event through worker.Handle, the diff hygiene reconciler, GitHub
// at 300 ms) with IN_PROGRESS_AFTER=0 (in_progress written first: the runs list, the
// in_progress create, the comparison, the completion) and with the default (the list, the
// comparison, the completed create), in alternating rounds of concurrent pushes so that
// both share the machine's conditions. It asserts the points (4 and 3 a commit) and reports
// the latencies and their ratio; timings are never asserted.
//
// It also measures what a cross-instance duplicate would cost if the reconciler's
// comparison were started beside the runs list (issue 20's part 2, not built): another
// instance has no ETag for the comparison, so the list's point and the comparison's are
// both spent before the list says the commit is completed.
func TestLatencyInProgressAfter(t *testing.T) {
	needLoad(t)
	ctx := context.Background()
	gh := githubtest.NewTestServer(t, githubtest.WithRateLimit(1<<30))
	gh.AddRepo(owner, repo)
	f, err := githubapp.New(gh.App().ID, gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: gh.URL() + "/", ResetJitter: -1})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := statusmanager.NewStatusManager[hygiene.Details](ctx, identity, statusmanager.WithAppID(gh.App().ID), statusmanager.WithoutDetailsURL())
	if err != nil {
		t.Fatal(err)
	}
	newWorker := func(inProgressAfter time.Duration) *worker.Worker[hygiene.Details] {
		return &worker.Worker[hygiene.Details]{Manager: sm, Clients: f, Reconcile: hygiene.Reconciler(hygiene.Options{}),
			Decoder: &events.Decoder{AppID: gh.App().ID, Identity: identity}, Cost: hygiene.Cost,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: time.Minute, GitHubTimeout: time.Minute,
			InProgressAfter: inProgressAfter}
	}
	modes := []struct {
		name   string
		w      *worker.Worker[hygiene.Details]
		points int
	}{
		{"IN_PROGRESS_AFTER=0 (before)", newWorker(-1), 4},
		{"IN_PROGRESS_AFTER=3s (now)", newWorker(0), 3},
	}
	const (
		rounds  = 4
		commits = 20 // pushes at once, each to its own pull request of 10 files
	)
	next := 0
	var base string
	push := func() relaytest.Push {
		next++
		gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: next, HeadSHA: sha(5000 + next), Files: relaytest.CleanFiles(10)})
		if base == "" {
			p, _, err := gh.Client().PullRequests.Get(ctx, owner, repo, next)
			if err != nil {
				t.Fatal(err)
			}
			base = p.GetBase().GetSHA()
		}
		return relaytest.Push{Owner: owner, Repo: repo, Number: next, Head: sha(5000 + next), Base: base, ChangedFiles: 10}
	}
	// Warm-up, at no latency: the token and the budget's first read.
	if o, err := modes[1].w.Handle(ctx, relaytest.Events(gh, push())[0]); o != worker.OutcomeReconciled {
		t.Fatalf("warm-up: %s %v", o, err)
	}
	gh.SetLatency(latencyGitHub)
	t.Cleanup(func() { gh.SetLatency(0) })
	lat := make([][]time.Duration, len(modes))
	for r := range rounds {
		for m, mode := range modes {
			var pushes []relaytest.Push
			for range commits {
				pushes = append(pushes, push())
			}
			gh.ResetCounters()
			var (
				wg sync.WaitGroup
				mu sync.Mutex
			)
			for _, p := range pushes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					o, err := mode.w.Handle(ctx, relaytest.Events(gh, p)[0])
					d := time.Since(start)
					if o != worker.OutcomeReconciled {
						t.Errorf("%s: %s %v", mode.name, o, err)
					}
					mu.Lock()
					lat[m] = append(lat[m], d)
					mu.Unlock()
				}()
			}
			wg.Wait()
			if got, want := gh.RateLimitUsed(), mode.points*commits; got != want {
				t.Errorf("%s, round %d: %d points for %d commits, want %d", mode.name, r, got, commits, want)
			}
		}
	}
	p := func(m, q int) time.Duration { return percentile(lat[m], q) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", d.Seconds()*1000) }
	for m, mode := range modes {
		t.Logf("%s: %d commits, p50 %s, p99 %s", mode.name, len(lat[m]), p(m, 50), p(m, 99))
		emit(t, "latency", mode.name, mode.points, len(lat[m]), ms(p(m, 50)), ms(p(m, 99)),
			fmt.Sprintf("%.2f", p(m, 50).Seconds()/p(0, 50).Seconds()), fmt.Sprintf("%.2f", p(m, 99).Seconds()/p(0, 99).Seconds()))
	}

	// Part 2, measured without being built: another instance (a new factory, so no ETag of
	// the comparison) gets a duplicate of a completed commit. Today it sends the list only;
	// with the comparison beside the list, both are sent before the list answers.
	done := relaytest.Push{Owner: owner, Repo: repo, Number: next, Head: sha(5000 + next), Base: base}
	other, err := githubapp.New(gh.App().ID, gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: gh.URL() + "/", ResetJitter: -1})
	if err != nil {
		t.Fatal(err)
	}
	client, err := other.Client(ctx, owner, repo, gh.InstallationID(gh.App(), owner))
	if err != nil {
		t.Fatal(err)
	}
	gh.SetLatency(0)
	gh.ResetCounters()
	if st, err := sm.ObservedStateAtSHA(ctx, client, &events.Resource{Owner: owner, Repo: repo, URL: prURL(owner, repo, done.Number), Number: done.Number}, done.Head); err != nil || st == nil || st.Status != statusmanager.StatusCompleted {
		t.Fatalf("the duplicate's list: %+v %v", st, err)
	}
	listOnly := gh.RateLimitUsed()
	if _, _, err := client.Repositories.CompareCommits(ctx, owner, repo, done.Base, done.Head, nil); err != nil {
		t.Fatal(err)
	}
	beside := gh.RateLimitUsed()
	t.Logf("a duplicate on another instance: %d point now, %d with the comparison beside the list", listOnly, beside)
	emit(t, "diff-beside", "a duplicate of a completed commit on another instance: rate-limit points", listOnly, beside)
	emit(t, "diff-beside", "a new commit: sequential round trips to GitHub before the completed write", 2, 1)
}

// percentile is the p-th percentile (0-100) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}
