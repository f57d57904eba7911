package redeliver_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/redeliver"
)

// seed records attempts of GUIDs on the fake: code per attempt, the first one ago before now.
func seed(t *testing.T, gh *githubtest.Server, guid string, ago time.Duration, codes ...int) {
	t.Helper()
	for i, c := range codes {
		gh.AddHookDelivery(gh.App(), githubtest.HookDelivery{GUID: guid, DeliveredAt: time.Now().Add(-ago + time.Duration(i)*time.Minute),
			Redelivery: i > 0, StatusCode: c, Event: "pull_request", Action: "opened", InstallationID: 7, RepositoryID: 9})
	}
}

// redelivered returns the GUIDs that got a redelivery after n attempts were recorded.
func redelivered(gh *githubtest.Server, n int) []string {
	var out []string
	for _, d := range gh.HookDeliveries(gh.App())[n:] {
		out = append(out, d.GUID)
	}
	slices.Sort(out)
	return out
}

func TestRun(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	seed(t, gh, "ok", time.Hour, 200)
	seed(t, gh, "failed", time.Hour, 503)
	seed(t, gh, "lost", 2*time.Hour, 0)
	seed(t, gh, "failed-then-ok", 3*time.Hour, 500, 202)
	seed(t, gh, "redelivered-and-failed", 3*time.Hour, 500, 502)
	seed(t, gh, "gave-up", 4*time.Hour, 500, 500, 500, 500)
	seed(t, gh, "too-old", 30*time.Hour, 500)
	gh.AddHookDelivery(gh.App(), githubtest.HookDelivery{GUID: "pending", DeliveredAt: time.Now().Add(-time.Hour), StatusCode: 500, Event: "ping"})
	gh.AddHookDelivery(gh.App(), githubtest.HookDelivery{GUID: "pending", Redelivery: true, Status: "pending", Event: "ping"})
	other := gh.AddApp("someone-else")
	gh.AddHookDelivery(other, githubtest.HookDelivery{GUID: "not-ours", StatusCode: 500})
	n := len(gh.HookDeliveries(gh.App()))
	client := gh.AppClient(gh.App())

	// A dry run requests nothing.
	var out bytes.Buffer
	sum, err := redeliver.Run(context.Background(), client, redeliver.Options{DryRun: true, Progress: &out, PerPage: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := redelivered(gh, n); len(got) != 0 {
		t.Fatalf("a dry run redelivered %v", got)
	}
	if sum.Redelivered != 3 || !strings.Contains(out.String(), "would redeliver failed pull_request.opened") {
		t.Errorf("dry run: %+v\n%s", sum, out.String())
	}

	// Pages of 2: the list crosses several pages by its cursor.
	out.Reset()
	sum, err = redeliver.Run(context.Background(), client, redeliver.Options{Progress: &out, PerPage: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"failed", "lost", "redelivered-and-failed"}
	if got := redelivered(gh, n); !slices.Equal(got, want) {
		t.Errorf("redelivered %v, want %v\n%s", got, want, out.String())
	}
	wantSum := redeliver.Summary{Listed: 14, GUIDs: 7, Succeeded: 2, Pending: 1, GaveUp: 1, Redelivered: 3}
	if sum != wantSum {
		t.Errorf("summary %+v, want %+v", sum, wantSum)
	}
	for _, line := range []string{"redelivered failed pull_request.opened: last 503 Service Unavailable at ", "given up   gave-up", "pending    pending ping", "ok         ok ", wantSum.String()} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("no %q in\n%s", line, out.String())
		}
	}
	if strings.Contains(out.String(), "too-old") {
		t.Errorf("a delivery before the window was looked at:\n%s", out.String())
	}

	// Again: the redeliveries succeeded (the fake answers 200), nothing more is asked.
	n = len(gh.HookDeliveries(gh.App()))
	if _, err := redeliver.Run(context.Background(), client, redeliver.Options{PerPage: 3}); err != nil {
		t.Fatal(err)
	}
	if got := redelivered(gh, n); len(got) != 0 {
		t.Errorf("a second run redelivered %v", got)
	}
}

// A window of 40 hours reaches the old delivery too; the redeliveries that keep failing stop at
// MaxRedeliveries.
func TestRunWindowAndBound(t *testing.T) {
	gh := githubtest.NewTestServer(t)
	gh.SetRedeliveryStatus(503)
	seed(t, gh, "old", 30*time.Hour, 500)
	seed(t, gh, "new", time.Hour, 500)
	client := gh.AppClient(gh.App())
	for run, want := range [][]string{{"new"}, {"new"}, {"new"}, nil} {
		n := len(gh.HookDeliveries(gh.App()))
		if _, err := redeliver.Run(context.Background(), client, redeliver.Options{}); err != nil {
			t.Fatal(err)
		}
		if got := redelivered(gh, n); !slices.Equal(got, want) {
			t.Errorf("run %d: redelivered %v, want %v", run+1, got, want)
		}
	}
	n := len(gh.HookDeliveries(gh.App()))
	if _, err := redeliver.Run(context.Background(), client, redeliver.Options{Since: 40 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if got := redelivered(gh, n); !slices.Equal(got, []string{"old"}) {
		t.Errorf("-since 40h redelivered %v, want [old]", got)
	}
}

// Run asks GitHub again for every delivery of the App that never got a 2xx.
func ExampleRun() {
	gh := githubtest.NewServer()
	defer gh.Close()
	gh.AddHookDelivery(gh.App(), githubtest.HookDelivery{GUID: "a1", StatusCode: 200, Event: "pull_request", Action: "opened",
		DeliveredAt: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)})
	gh.AddHookDelivery(gh.App(), githubtest.HookDelivery{GUID: "b2", StatusCode: 503, Event: "pull_request", Action: "synchronize",
		DeliveredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	now := func() time.Time { return time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC) }
	var out strings.Builder
	sum, err := redeliver.Run(context.Background(), gh.AppClient(gh.App()), redeliver.Options{Progress: &out, Now: now})
	fmt.Print(out.String())
	fmt.Println(sum.Redelivered, err)
	// Output:
	// ok         a1 pull_request.opened: delivered
	// redelivered b2 pull_request.synchronize: last 503 Service Unavailable at 2026-01-02T03:04:05Z
	// 2 deliveries in the window (2 attempts listed): 1 succeeded, 0 pending, 0 given up, 1 redelivered, 0 errors
	// 1 <nil>
}
