package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/prreconciler/prreconciler/githubtest"
)

// TestOrderedFleetKillMidReconcile kills (SIGKILL) the instance that is reconciling a commit,
// between the two annotation batches of its completed write: the other instance gets the
// message again and completes that commit's one run, with every annotation once.
func TestOrderedFleetKillMidReconcile(t *testing.T) {
	t.Parallel()
	f := newFleet(t, "fleet-kill", 0)
	f.gh.AddPullRequest(testOwner, testRepo, githubtest.PullRequest{Number: 1, HeadSHA: testSHA, Files: hundredMarkers()})
	b := f.startPush(2)
	f.subscribe("intake", f.relay, b.srv.URL+"/intake", false)
	f.subscribe("reconcile", f.reconc, b.srv.URL+"/reconcile", true)

	// Slow GitHub down so the gap between the two annotation batches is wide enough to kill in.
	f.gh.SetLatency(400 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := f.pubRelay.Publish(ctx, f.synchronize(1, testSHA, "kill-1")).Get(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the first annotation batch", func() bool {
		runs := f.gh.CheckRuns(testOwner, testRepo, testSHA)
		return len(runs) == 1 && runs[0].Status == "in_progress" && len(runs[0].Annotations) == 50
	})
	victim := -1
	for i, be := range b.backends {
		if be.inFlight.Load() > 0 {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatal("no instance is handling the reconcile push")
	}
	if err := f.procs[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	f.procs[victim].cmd.Wait()
	f.gh.SetLatency(0)
	killed := time.Now()

	waitFor(t, 5*time.Minute, "the other instance to complete the run", func() bool {
		runs := f.gh.CheckRuns(testOwner, testRepo, testSHA)
		return len(runs) > 0 && runs[len(runs)-1].Status == "completed"
	})
	t.Logf("completed by the other instance %s after the kill", time.Since(killed).Round(time.Millisecond))
	oneRunEveryAnnotationOnce(t, f.gh)
}

// TestOrderedFleetHotKey: 100 events for one commit at once give one reconcile and 99 skips,
// across two instances. It reports what the skips cost GitHub.
func TestOrderedFleetHotKey(t *testing.T) {
	t.Parallel()
	const events = 100
	f := newFleet(t, "fleet-hot", 50*time.Millisecond)
	f.setHeads(0, 1)
	b := f.startPush(2)
	f.subscribe("intake", f.relay, b.srv.URL+"/intake", false)
	f.subscribe("reconcile", f.reconc, b.srv.URL+"/reconcile", true)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mark := len(f.gh.Requests())
	sha := commitSHA(0, 1)
	var results []*pubsub.PublishResult
	for i := range events {
		results = append(results, f.pubRelay.Publish(ctx, f.synchronize(1, sha, fmt.Sprintf("hot-%d", i))))
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Minute, "every event's reconcile message to be answered", func() bool {
		return b.count("/reconcile", http.StatusNoContent) >= events
	})
	c := f.report(0, 1, mark)[1]
	skips := outcomes(f.procs, "skipped")
	var requests, points, notModified int
	for _, q := range f.gh.Requests()[mark:] {
		requests++
		if q.RateLimited {
			points++
		}
		if q.ETagHit {
			notModified++
		}
	}
	t.Logf("hot key: %d events for one commit: %d runs, %d reconciles, %d skips; GitHub: %d requests (%d answered 304), %d rate-limit points",
		events, c.runs, c.reconciles, skips, requests, notModified, points)
	bench(t, "hotkey", events, c.runs, c.reconciles, skips, requests, notModified, points)
	if c.runs != 1 || c.completed != 1 || c.reconciles != 1 || c.duplicateAnnotations != 0 {
		t.Errorf("%d runs, %d completed, %d reconciles, %d duplicate annotations; want one of each and none twice",
			c.runs, c.completed, c.reconciles, c.duplicateAnnotations)
	}
	if skips != events-1 {
		t.Errorf("%d skips, want %d", skips, events-1)
	}
}

// TestOrderedFleetKillBeforeTheWrite kills (SIGKILL) the instance reconciling a commit before
// its one write (the reconcile ends within IN_PROGRESS_AFTER, so the run would be created
// completed): nothing was written, and the redelivery to the other instance reconciles and
// writes exactly one run, with its annotations once.
func TestOrderedFleetKillBeforeTheWrite(t *testing.T) {
	t.Parallel()
	f := newFleet(t, "fleet-kill-before", 0)
	sha := commitSHA(0, 1)
	f.gh.AddPullRequest(testOwner, testRepo, githubtest.PullRequest{Number: 1, HeadSHA: sha, Files: fleetFiles(1)})
	// Long enough that GitHub's 1 s answers never make the reconcile write in_progress.
	b := f.startPush(2, "IN_PROGRESS_AFTER=1m")
	f.subscribe("intake", f.relay, b.srv.URL+"/intake", false)
	f.subscribe("reconcile", f.reconc, b.srv.URL+"/reconcile", true)

	// Slow GitHub down: after the runs list, the reconcile's reads (the pull request, the
	// comparison) take 2 s before the one write.
	f.gh.SetLatency(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := f.pubRelay.Publish(ctx, f.synchronize(1, sha, "kill-before-1")).Get(ctx); err != nil {
		t.Fatal(err)
	}
	listed := func() bool {
		for _, q := range f.gh.Requests() {
			if q.Route == string(githubtest.RouteListCheckRunsForRef) && strings.Contains(q.Path, sha) {
				return true
			}
		}
		return false
	}
	waitFor(t, time.Minute, "the runs list of the commit", listed)
	// The intake push was answered before the reconcile message existed: the one push in
	// flight is the reconcile's.
	victim := -1
	for i, be := range b.backends {
		if be.inFlight.Load() > 0 {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatal("no instance is handling the reconcile push")
	}
	if err := f.procs[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	f.procs[victim].cmd.Wait()
	if runs := f.gh.CheckRuns(testOwner, testRepo, sha); len(runs) != 0 {
		t.Fatalf("after the kill: %d runs; the kill missed the window before the write", len(runs))
	}
	f.gh.SetLatency(0)
	killed := time.Now()

	other := f.procs[1-victim]
	waitFor(t, 5*time.Minute, "the other instance to reconcile the commit", func() bool {
		rec := record(other, "reconcile", sha)
		return rec != nil && rec["logging.googleapis.com/labels"].(map[string]any)["outcome"] == "reconciled"
	})
	t.Logf("reconciled by the other instance %s after the kill", time.Since(killed).Round(time.Millisecond))
	runs := f.gh.CheckRuns(testOwner, testRepo, sha)
	if len(runs) != 1 || runs[0].Status != "completed" || runs[0].Conclusion != "failure" || len(runs[0].Annotations) != 3 {
		t.Fatalf("runs = %+v, want exactly one, completed, with its 3 annotations", runs)
	}
	seen := map[string]bool{}
	for _, a := range runs[0].Annotations {
		k := fmt.Sprintf("%s:%d", a.GetPath(), a.GetStartLine())
		if seen[k] {
			t.Errorf("annotation %s written twice", k)
		}
		seen[k] = true
	}
}
