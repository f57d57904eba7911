package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/logbuf"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// matches evaluates the label terms of a Cloud Logging query (one `labels.k="v"` per line) on
// a record's labels; resource.* terms describe where the records come from (the Cloud Run
// service) and are set by the platform, not by the worker, so they select every record here.
func matches(t *testing.T, query string, labels map[string]any) bool {
	t.Helper()
	for _, term := range strings.Split(query, "\n") {
		if strings.HasPrefix(term, "resource.") {
			continue
		}
		key, quoted, ok := strings.Cut(strings.TrimPrefix(term, "labels."), "=")
		if !ok || !strings.HasPrefix(term, "labels.") {
			t.Fatalf("query term %q is neither resource.* nor labels.*", term)
		}
		want, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("query term %q: %v", term, err)
		}
		if labels[key] != want {
			return false
		}
	}
	return true
}

// TestDetailsLinkSelectsExactlyTheRecordsOfItsRequest handles requests for two PRs and two
// SHAs of one PR with the real worker and Cloud Logging handler, then evaluates each check
// run's details query over every record written: it selects all of that request's records
// and nothing else.
func TestDetailsLinkSelectsExactlyTheRecordsOfItsRequest(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.NewTestServer(t)
	gh.AddRepo("octo-org", "hello-world")
	gh.AddRepo("octo-org", "other")
	type req struct {
		repo string
		pr   int
		sha  string
	}
	reqs := []req{
		{"hello-world", 7, strings.Repeat("a", 40)},
		{"hello-world", 7, strings.Repeat("b", 40)},
		{"other", 7, strings.Repeat("a", 40)},
	}
	for _, r := range reqs {
		gh.AddPullRequest("octo-org", r.repo, githubtest.PullRequest{Number: r.pr, HeadSHA: r.sha,
			Files: []githubtest.File{{Filename: "a.go", Status: "added", Patch: "@@ -0,0 +1 @@\n+<<<<<<< HEAD"}}})
	}
	vars := appVars(gh, map[string]string{"GOOGLE_CLOUD_PROJECT": "my-proj", "K_SERVICE": "worker", "LOG_DESTINATION": "stdout"})
	var logs logbuf.Buffer
	w := startApp(t, vars, worker.Env{Stdout: &logs, Cloud: cloudlog.Env{Getenv: func(k string) string { return vars[k] }}}).Worker
	for i, r := range reqs {
		data, _ := json.Marshal(map[string]any{"owner": "octo-org", "repo": r.repo, "sha": r.sha,
			"url": fmt.Sprintf("https://github.com/octo-org/%s/pull/%d", r.repo, r.pr)})
		// Twice each: the second delivery is a skip, and its records belong to the request too.
		for j := 0; j < 2; j++ {
			if _, err := w.Handle(ctx, &events.Message{ID: fmt.Sprintf("m%d-%d", i, j), Data: data}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var records []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("not a JSON log line: %q", sc.Text())
		}
		records = append(records, rec)
	}
	for i, r := range reqs {
		run := gh.CheckRuns("octo-org", r.repo, r.sha)[0]
		res := &events.Resource{Owner: "octo-org", Repo: r.repo, Number: r.pr, URL: fmt.Sprintf("https://github.com/octo-org/%s/pull/%d", r.repo, r.pr)}
		if want := statusmanager.DetailsURL("my-proj", "worker", res, r.sha); withoutWindow(run.DetailsURL) != want {
			t.Fatalf("details URL %q, want %q", run.DetailsURL, want)
		}
		query := statusmanager.LogQuery("worker", res, r.sha)
		selected := 0
		for _, rec := range records {
			labels, _ := rec["logging.googleapis.com/labels"].(map[string]any)
			delivery, _ := labels[statusmanager.LogLabelDeliveryID].(string)
			mine := strings.HasPrefix(delivery, fmt.Sprintf("m%d-", i))
			if got := matches(t, query, labels); got != mine {
				t.Errorf("request %d: query selects record %v = %v, want %v", i, rec, got, mine)
			}
			if mine {
				selected++
			}
		}
		if selected < 2 {
			t.Errorf("request %d: only %d records carry its labels", i, selected)
		}
	}
}

// withoutWindow removes the time window from a Logs Explorer link, the part that depends on
// when the run was written.
func withoutWindow(link string) string {
	return regexp.MustCompile(`;timeRange=[^;?]*`).ReplaceAllString(link, "")
}
