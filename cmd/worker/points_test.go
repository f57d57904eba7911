package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/relaytest"
)

// TestPointsPerPushEndToEnd publishes the two relay events of one push at a time to the
// relay topic of a worker process running both stages on the emulator, and counts the
// rate-limit points GitHub (the fake) was charged for each push, for pull requests of 10,
// 100, 300 and 1,000 files: 3 up to 300 files (the runs list, the comparison, the run
// created completed), then one read of the pull request and one point per 100 files beyond
// 300 (hygiene.Reconciler); one more when the reconcile outlasts IN_PROGRESS_AFTER (GitHub's
// latency makes it here) and its run is written in_progress first. The check_suite
// requested event is acknowledged at intake and costs nothing. The process's own records say
// the same.
func TestPointsPerPushEndToEnd(t *testing.T) {
	t.Parallel()
	sizes := []int{1, 10, 100, 300, 1000} // the first push warms up: the token and the budget's read
	modes := []struct {
		name    string
		env     []string
		latency time.Duration
		want    map[int]int
	}{
		{"defaults", nil, 0, map[int]int{10: 3, 100: 3, 300: 3, 1000: 11}},
		// The comparison alone outlasts IN_PROGRESS_AFTER by 200 ms.
		{"reconcile slower than IN_PROGRESS_AFTER", []string{"IN_PROGRESS_AFTER=100ms"}, 300 * time.Millisecond, map[int]int{10: 4, 100: 4, 300: 4, 1000: 12}},
	}
	points := make([]map[int][2]int, len(modes))
	for m, mode := range modes {
		points[m] = map[int][2]int{}
		t.Run(mode.name, func(t *testing.T) {
			f := newFleet(t, fmt.Sprintf("points-%d", m), 0)
			intake := f.subscribe("intake", f.relay, "", false)
			reconcile := f.subscribe("reconcile", f.reconc, "", true)
			f.startPull(1, append([]string{"INTAKE_SUBSCRIPTION=" + intake, "PUBSUB_SUBSCRIPTION=" + reconcile}, mode.env...)...)
			head := func(i int) string { return commitSHA(9, i+1) }
			for i, n := range sizes {
				f.gh.AddPullRequest(testOwner, testRepo, githubtest.PullRequest{Number: i + 1, HeadSHA: head(i), Files: relaytest.CleanFiles(n)})
			}
			p, _, err := f.gh.Client().PullRequests.Get(context.Background(), testOwner, testRepo, 1)
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range sizes {
				if i == 1 {
					f.gh.SetLatency(mode.latency)
				}
				mark := len(f.gh.Requests())
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				for _, m := range relaytest.Events(f.gh, relaytest.Push{Owner: testOwner, Repo: testRepo, Number: i + 1,
					Head: head(i), Base: p.GetBase().GetSHA(), ChangedFiles: n}) {
					if _, err := f.pubRelay.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: m.Attributes}).Get(ctx); err != nil {
						t.Fatal(err)
					}
				}
				cancel()
				var rec map[string]any
				waitFor(t, 2*time.Minute, "the push's reconcile and its check_suite ignored", func() bool {
					rec = record(f.procs[0], "reconcile", head(i))
					return rec != nil && record(f.procs[0], "intake", "check_suite requested at \""+head(i)) != nil
				})
				got, requests := 0, 0
				for _, q := range f.gh.Requests()[mark:] {
					requests++
					if q.RateLimited {
						got++
					}
				}
				if i == 0 {
					continue
				}
				if got != mode.want[n] || rec["github_points"] != float64(got) {
					t.Errorf("%d files: %d points in %d requests, the record says %v; want %d", n, got, requests, rec["github_points"], mode.want[n])
				}
				points[m][n] = [2]int{got, requests}
			}
		})
	}
	for _, n := range sizes[1:] {
		t.Logf("BENCH\tpush-e2e\t%d\t%d\t%d\t%d\t%d", n, points[0][n][0], points[0][n][1], points[1][n][0], points[1][n][1])
	}
}

// record is the first record of stage written by p whose labels name key (a SHA or a
// delivery id) or whose reason contains it, or nil.
func record(p *process, stage, key string) map[string]any {
	for _, line := range strings.Split(p.output(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["stage"] != stage {
			continue
		}
		labels, _ := rec["logging.googleapis.com/labels"].(map[string]any)
		if reason, _ := rec["reason"].(string); labels["sha"] == key || labels["delivery_id"] == key || strings.Contains(reason, key) {
			return rec
		}
	}
	return nil
}
