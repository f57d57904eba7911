package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	logpb "cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/codes"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/cloudlog/cloudlogtest"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/internal/logbuf"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// loggingEnv is an injected environment: the given variables, Compute Engine or not, and
// credentials naming project "cred-proj" when withCreds.
func loggingEnv(vars map[string]string, onGCE, withCreds bool) cloudlog.Env {
	return cloudlog.Env{
		Getenv: func(k string) string { return vars[k] },
		OnGCE:  func() bool { return onGCE },
		Credentials: func(context.Context) (cloudlog.Credentials, error) {
			if !withCreds {
				return cloudlog.Credentials{}, cloudlog.ErrNoCredentials
			}
			return cloudlog.Credentials{Source: "a test key", Project: "cred-proj"}, nil
		},
		Metadata: func(_ context.Context, p string) (string, error) {
			if p == "instance/region" {
				return "projects/1/regions/europe-west1", nil
			}
			return "", errors.New("no metadata")
		},
		Hostname: func() (string, error) { return "vm-1", nil },
	}
}

// matchesEntry evaluates a Cloud Logging query of the details link (one term per line:
// resource.type="…", resource.labels.K="…" or labels.K="…", all of which must hold) on an
// entry as the Logging API stores it.
func matchesEntry(t *testing.T, query string, e *logpb.LogEntry) bool {
	t.Helper()
	for _, term := range strings.Split(query, "\n") {
		field, quoted, ok := strings.Cut(term, "=")
		want, err := strconv.Unquote(quoted)
		if !ok || err != nil {
			t.Fatalf("query term %q is not field=\"value\"", term)
		}
		var got string
		switch {
		case field == "resource.type":
			got = e.GetResource().GetType()
		case strings.HasPrefix(field, "resource.labels."):
			got = e.GetResource().GetLabels()[strings.TrimPrefix(field, "resource.labels.")]
		case strings.HasPrefix(field, "labels."):
			got = e.GetLabels()[strings.TrimPrefix(field, "labels.")]
		default:
			t.Fatalf("query term %q is on a field this evaluator does not know", term)
		}
		if got != want {
			return false
		}
	}
	return true
}

// detailsFixture is a fake GitHub with two PRs (one with two SHAs) and the configuration of a
// worker against it.
type detailsFixture struct {
	gh   *githubtest.Server
	vars map[string]string
	reqs []detailsReq
}

type detailsReq struct {
	repo string
	pr   int
	sha  string
}

func (r detailsReq) resource() *events.Resource {
	return &events.Resource{Owner: "octo-org", Repo: r.repo, Number: r.pr, URL: fmt.Sprintf("https://github.com/octo-org/%s/pull/%d", r.repo, r.pr)}
}

func newDetailsFixture(t *testing.T, dest string) *detailsFixture {
	t.Helper()
	gh := githubtest.NewTestServer(t)
	gh.AddRepo("octo-org", "hello-world")
	gh.AddRepo("octo-org", "other")
	reqs := []detailsReq{
		{"hello-world", 7, strings.Repeat("a", 40)},
		{"hello-world", 7, strings.Repeat("b", 40)},
		{"other", 7, strings.Repeat("a", 40)},
	}
	for _, r := range reqs {
		gh.AddPullRequest("octo-org", r.repo, githubtest.PullRequest{Number: r.pr, HeadSHA: r.sha,
			Files: []githubtest.File{{Filename: "a.go", Status: "added", Patch: "@@ -0,0 +1 @@\n+<<<<<<< HEAD"}}})
	}
	return &detailsFixture{gh: gh, vars: appVars(gh, map[string]string{"LOG_DESTINATION": dest}), reqs: reqs}
}

// handleInterleaved delivers every request twice, the requests interleaved (the second round
// is a skip whose records belong to the request too), each message ID "m<request>-<round>".
func (f *detailsFixture) handleInterleaved(t *testing.T, w *worker.Worker[hygiene.Details]) {
	t.Helper()
	for round := 0; round < 2; round++ {
		for i, r := range f.reqs {
			data, _ := json.Marshal(map[string]any{"owner": "octo-org", "repo": r.repo, "sha": r.sha, "url": r.resource().URL})
			o, err := w.Handle(context.Background(), &events.Message{ID: fmt.Sprintf("m%d-%d", i, round), Data: data})
			if err != nil || (o != worker.OutcomeReconciled && o != worker.OutcomeSkipped) {
				t.Fatalf("request %d round %d: %s, %v", i, round, o, err)
			}
		}
	}
}

// TestDetailsLinkSelectsExactlyTheAPIEntriesOfItsRequest handles interleaved requests with
// the real worker, its logs written through the real Cloud Logging client to the fake API,
// then evaluates each check run's details query, resource terms included, over every entry
// the API received: it selects all of that request's entries and nothing else. Off Google
// Cloud (auto picks the API) and on Cloud Run with the API forced.
func TestDetailsLinkSelectsExactlyTheAPIEntriesOfItsRequest(t *testing.T) {
	tests := []struct {
		name     string
		dest     string
		vars     map[string]string
		service  string
		resource string
	}{
		{"pull mode off Google Cloud (auto)", "auto", nil, "", "generic_task"},
		{"Cloud Run, api forced", "api", map[string]string{"K_SERVICE": "worker", "K_REVISION": "worker-00001-abc", "K_CONFIGURATION": "worker"},
			"worker", "cloud_run_revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDetailsFixture(t, tt.dest)
			f.vars["GOOGLE_CLOUD_PROJECT"] = "my-proj"
			maps.Copy(f.vars, tt.vars)
			fake := cloudlogtest.NewTestServer(t)
			var stdout logbuf.Buffer
			p := startApp(t, f.vars, worker.Env{Stdout: &stdout, Cloud: loggingEnv(tt.vars, false, true), LoggingOptions: fake.ClientOptions()})
			logs := p.Logging
			if logs.Choice().Destination != cloudlog.API {
				t.Fatalf("destination %+v, want the API", logs.Choice())
			}
			f.handleInterleaved(t, p.Worker)
			p.Close()
			if logs.Dropped() != 0 || stdout.Len() != 0 {
				t.Fatalf("dropped %d; stdout %q", logs.Dropped(), stdout.String())
			}
			entries := fake.Entries()
			for _, e := range entries {
				if e.GetResource().GetType() != tt.resource || e.GetLogName() != "projects/my-proj/logs/prreconciler" {
					t.Fatalf("entry on %s in %s, want %s in projects/my-proj/logs/prreconciler", e.GetResource().GetType(), e.GetLogName(), tt.resource)
				}
			}
			for i, r := range f.reqs {
				run := f.gh.CheckRuns("octo-org", r.repo, r.sha)[0]
				if want := statusmanager.DetailsURL("my-proj", tt.service, r.resource(), r.sha); withoutWindow(run.DetailsURL) != want {
					t.Fatalf("details URL %q, want %q", run.DetailsURL, want)
				}
				query := statusmanager.LogQuery(tt.service, r.resource(), r.sha)
				rounds := map[string]int{}
				for _, e := range entries {
					delivery := e.GetLabels()[statusmanager.LogLabelDeliveryID]
					mine := strings.HasPrefix(delivery, fmt.Sprintf("m%d-", i))
					if got := matchesEntry(t, query, e); got != mine {
						t.Errorf("request %d: query %q selects entry %v = %v, want %v", i, query, e, got, mine)
					}
					if mine {
						rounds[delivery]++
					}
				}
				if len(rounds) != 2 {
					t.Errorf("request %d: entries of deliveries %v, want both rounds'", i, rounds)
				}
			}
		})
	}
}

// TestLoggingOutageLeavesReconcilesUnaffected: with the Logging API failing or hanging, every
// request is still reconciled at once, the shutdown flush keeps to its budget, and the dropped
// entries are reported on stdout.
func TestLoggingOutageLeavesReconcilesUnaffected(t *testing.T) {
	tests := []struct {
		name   string
		outage func(*cloudlogtest.Server)
	}{
		{"failing", func(s *cloudlogtest.Server) { s.Fail(codes.Unavailable) }},
		{"hanging", func(s *cloudlogtest.Server) { s.Hang(true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDetailsFixture(t, "api")
			f.vars["GOOGLE_CLOUD_PROJECT"] = "my-proj"
			fake := cloudlogtest.NewTestServer(t)
			tt.outage(fake)
			var stdout logbuf.Buffer
			p := startApp(t, f.vars, worker.Env{Stdout: &stdout, Cloud: loggingEnv(nil, false, true), LoggingOptions: fake.ClientOptions()})
			logs := p.Logging
			start := time.Now()
			f.handleInterleaved(t, p.Worker)
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("reconciles took %s during the outage", d)
			}
			for _, r := range f.reqs {
				if run := f.gh.CheckRuns("octo-org", r.repo, r.sha)[0]; run.Status != "completed" {
					t.Errorf("%s@%s: check run %s, want completed", r.repo, r.sha, run.Status)
				}
			}
			start = time.Now()
			p.Close()
			if d := time.Since(start); d > cloudlog.DefaultFlushTimeout+2*time.Second {
				t.Errorf("the shutdown flush took %s, budget %s", d, cloudlog.DefaultFlushTimeout)
			}
			if len(fake.Entries()) != 0 || logs.Dropped() == 0 {
				t.Fatalf("stored %d, dropped %d", len(fake.Entries()), logs.Dropped())
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			var last map[string]any
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
				t.Fatalf("stdout %q: %v", stdout.String(), err)
			}
			if last["message"] != "cloud logging dropped entries" || last["dropped"] != float64(logs.Dropped()) {
				t.Errorf("last stdout record %v, want the report of %d dropped entries", last, logs.Dropped())
			}
		})
	}
}

// TestLogDestinationAuto: LOG_DESTINATION=auto picks stdout on Cloud Run and GKE, the API
// elsewhere with credentials, and stdout with a warning saying why without them.
func TestLogDestinationAuto(t *testing.T) {
	tests := []struct {
		name      string
		vars      map[string]string
		onGCE     bool
		creds     bool
		want      cloudlog.Destination
		severity  string
		reasonHas string
	}{
		{"Cloud Run", map[string]string{"K_SERVICE": "worker", "K_REVISION": "worker-1"}, true, true, cloudlog.Stdout, "INFO", "Cloud Run"},
		{"GKE", map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, true, true, cloudlog.Stdout, "INFO", "GKE"},
		{"neither, with credentials", nil, false, true, cloudlog.API, "", ""},
		{"neither, without credentials", nil, false, false, cloudlog.Stdout, "WARNING", cloudlog.ErrNoCredentials.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := cloudlogtest.NewTestServer(t)
			vars := appVars(githubtest.NewTestServer(t), map[string]string{"LOG_LEVEL": "info", "LOG_DESTINATION": "auto"})
			maps.Copy(vars, tt.vars)
			var stdout logbuf.Buffer
			p := startApp(t, vars, worker.Env{Stdout: &stdout, Cloud: loggingEnv(tt.vars, tt.onGCE, tt.creds), LoggingOptions: fake.ClientOptions()})
			p.Close()
			logs := p.Logging
			if logs.Choice().Destination != tt.want {
				t.Fatalf("picked %+v, want %s", logs.Choice(), tt.want)
			}
			if tt.want == cloudlog.API {
				// The destination's record, then the start's own (the version).
				if logs.Choice().Project != "cred-proj" || len(fake.Entries()) != 2 || stdout.Len() != 0 {
					t.Errorf("project %q, %d entries, stdout %q", logs.Choice().Project, len(fake.Entries()), stdout.String())
				}
				return
			}
			var rec map[string]any // the first record says where the logs go
			first, _, _ := strings.Cut(stdout.String(), "\n")
			if err := json.Unmarshal([]byte(first), &rec); err != nil {
				t.Fatalf("stdout %q: %v", stdout.String(), err)
			}
			if rec["severity"] != tt.severity || !strings.Contains(rec["reason"].(string), tt.reasonHas) || fake.Requests() != 0 {
				t.Errorf("stdout record %v, want %s saying %q; %d API writes", rec, tt.severity, tt.reasonHas, fake.Requests())
			}
		})
	}
}
