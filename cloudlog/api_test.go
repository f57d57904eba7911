package cloudlog_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/logging"
	"google.golang.org/grpc/codes"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/cloudlog/cloudlogtest"
	"github.com/prreconciler/prreconciler/internal/logbuf"
)

// jsonLines parses each line of out as a JSON object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		recs = append(recs, m)
	}
	return recs
}

// testEnv is an environment of only the given variables, off Google Cloud, with no credentials.
func testEnv(vars map[string]string) cloudlog.Env {
	return cloudlog.Env{
		Getenv: func(k string) string { return vars[k] },
		OnGCE:  func() bool { return false },
		Credentials: func(context.Context) (cloudlog.Credentials, error) {
			return cloudlog.Credentials{}, cloudlog.ErrNoCredentials
		},
		Hostname: func() (string, error) { return "host-1", nil },
	}
}

// newAPI returns a Logging writing through the API to fake, closed when the test ends.
func newAPI(t *testing.T, fake *cloudlogtest.Server, stdout *logbuf.Buffer, o cloudlog.Options) *cloudlog.Logging {
	t.Helper()
	o.Destination = cloudlog.API
	if o.Project == "" {
		o.Project = "my-proj"
	}
	if o.Env.Getenv == nil {
		o.Env = testEnv(nil)
	}
	o.Stdout = stdout
	o.ClientOptions = append(o.ClientOptions, fake.ClientOptions()...)
	l, err := cloudlog.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Close(ctx)
	})
	return l
}

var fixedTime = time.Date(2026, 11, 23, 23, 19, 17, 631554582, time.UTC)

// logSample writes the same records, from the same lines, whatever the handler.
func logSample(h slog.Handler) {
	log := slog.New(h).With(cloudlog.Label("pr_url", "https://github.com/octo-org/hello-world/pull/7"), "worker", "w1")
	log.Debug("debug record", "n", 1)
	log.Info("info record", cloudlog.Label("sha", strings.Repeat("a", 40)), slog.Group("github", "attempt", 3, "ok", true))
	log.Warn("warn record", "time", "a field named time", "err", errors.New("boom"))
	log.Error("error record", "ratio", 0.5, cloudlog.Label("outcome", "failed"))
	log.Log(context.Background(), slog.LevelError+4, "critical record", "list", []string{"a", "b"})
}

var sampleOpts = &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true, ReplaceAttr: func(g []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(g) == 0 {
		a.Value = slog.TimeValue(fixedTime)
	}
	return a
}}

// TestAPIEntriesAreTheStdoutRecords logs the same records to stdout and through the API (to
// the fake): each entry has the log name, the generic_task resource, and the severity, labels,
// timestamp, source location and jsonPayload that the logging agent makes of the JSON line.
func TestAPIEntriesAreTheStdoutRecords(t *testing.T) {
	var stdout bytes.Buffer
	logSample(cloudlog.NewHandler(&stdout, sampleOpts))
	lines := jsonLines(t, stdout.String())

	fake := cloudlogtest.NewTestServer(t)
	var reports logbuf.Buffer
	l := newAPI(t, fake, &reports, cloudlog.Options{Handler: sampleOpts, Job: "diff-hygiene", DelayThreshold: time.Hour})
	logSample(l.Handler())
	if n := fake.Requests(); n != 0 {
		t.Errorf("%d writes before the flush, want the entries buffered", n)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries := fake.Entries()
	if len(entries) != len(lines)+1 { // +1: the record saying where logs go
		t.Fatalf("%d entries, want %d", len(entries), len(lines)+1)
	}
	if got := entries[0].GetJsonPayload().AsMap()["message"]; got != "logs written through the Cloud Logging API" {
		t.Errorf("first entry %q, want the destination's report", got)
	}
	entries = entries[1:]
	wantRes := map[string]string{"project_id": "my-proj", "location": "global", "namespace": "prreconciler",
		"job": "diff-hygiene", "task_id": entries[0].GetResource().GetLabels()["task_id"]}
	if !strings.HasPrefix(wantRes["task_id"], "host-1-") {
		t.Errorf("task_id %q, want host-1-PID", wantRes["task_id"])
	}
	for i, e := range entries {
		line := lines[i]
		if e.GetLogName() != "projects/my-proj/logs/prreconciler" || l.LogName() != e.GetLogName() {
			t.Errorf("entry %d: log name %q (Logging says %q)", i, e.GetLogName(), l.LogName())
		}
		if e.GetResource().GetType() != "generic_task" || !reflect.DeepEqual(e.GetResource().GetLabels(), wantRes) {
			t.Errorf("entry %d: resource %v, want generic_task %v", i, e.GetResource(), wantRes)
		}
		if got, want := e.GetSeverity().String(), line["severity"]; got != want {
			t.Errorf("entry %d: severity %s, stdout %s", i, got, want)
		}
		if !e.GetTimestamp().AsTime().Equal(fixedTime) || line["time"] != fixedTime.Format(time.RFC3339Nano) {
			t.Errorf("entry %d: timestamp %v, stdout %v", i, e.GetTimestamp().AsTime(), line["time"])
		}
		wantLabels := map[string]string{}
		for k, v := range line[cloudlog.LabelsKey].(map[string]any) {
			wantLabels[k] = v.(string)
		}
		if !reflect.DeepEqual(e.GetLabels(), wantLabels) {
			t.Errorf("entry %d: labels %v, stdout %v", i, e.GetLabels(), wantLabels)
		}
		src := line[cloudlog.SourceLocationKey].(map[string]any)
		if sl := e.GetSourceLocation(); sl.GetFile() != src["file"] || fmt.Sprint(sl.GetLine()) != src["line"] || sl.GetFunction() != src["function"] {
			t.Errorf("entry %d: source %v, stdout %v", i, sl, src)
		}
		// What the agent leaves in jsonPayload: everything but the keys it lifts.
		payload := map[string]any{}
		for k, v := range line {
			switch k {
			case cloudlog.TimeKey, cloudlog.SeverityKey, cloudlog.LabelsKey, cloudlog.SourceLocationKey:
			default:
				payload[k] = v
			}
		}
		if got := e.GetJsonPayload().AsMap(); !reflect.DeepEqual(got, payload) {
			t.Errorf("entry %d: payload %v\nstdout %v", i, got, payload)
		}
	}
	if l.Dropped() != 0 || reports.String() != "" {
		t.Errorf("dropped %d, reports %q", l.Dropped(), reports.String())
	}
}

// TestCloseFlushes: entries waiting for their batch are written by Close, and records after
// Close go to stdout.
func TestCloseFlushes(t *testing.T) {
	fake := cloudlogtest.NewTestServer(t)
	var stdout logbuf.Buffer
	l := newAPI(t, fake, &stdout, cloudlog.Options{DelayThreshold: time.Hour})
	log := slog.New(l.Handler())
	for i := 0; i < 3; i++ {
		log.Info("buffered", "i", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Entries()); n != 4 {
		t.Errorf("%d entries after Close, want 4", n)
	}
	log.Info("after close")
	if recs := jsonLines(t, stdout.String()); len(recs) != 1 || recs[0]["message"] != "after close" {
		t.Errorf("stdout after Close: %q", stdout.String())
	}
}

// TestOutageNeverBlocksAndIsReported: while the API fails or hangs, logging returns at once,
// the records are dropped and counted, the count is reported on stdout while running and at
// Close, and Close keeps to its deadline.
func TestOutageNeverBlocksAndIsReported(t *testing.T) {
	tests := []struct {
		name   string
		outage func(*cloudlogtest.Server)
	}{
		{"unavailable (retried)", func(s *cloudlogtest.Server) { s.Fail(codes.Unavailable) }},
		{"permission denied", func(s *cloudlogtest.Server) { s.Fail(codes.PermissionDenied) }},
		{"hangs", func(s *cloudlogtest.Server) { s.Hang(true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := cloudlogtest.NewTestServer(t)
			tt.outage(fake)
			var stdout logbuf.Buffer
			// A write may take an hour: a record or a Close that waited on the API would block the
			// test (caught by the watchdogs below) instead of being measured against a bound.
			l := newAPI(t, fake, &stdout, cloudlog.Options{BufferedByteLimit: 4 << 10, WriteTimeout: time.Hour,
				DelayThreshold: 10 * time.Millisecond, ReportInterval: 50 * time.Millisecond})
			log := slog.New(l.Handler())
			const goroutines, each = 4, 150
			var wg sync.WaitGroup
			var mu sync.Mutex
			var slowest time.Duration
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						start := time.Now()
						log.Info("during the outage", "i", i, cloudlog.Label("sha", "s"))
						d := time.Since(start)
						mu.Lock()
						slowest = max(slowest, d)
						mu.Unlock()
						time.Sleep(time.Millisecond)
					}
				}()
			}
			within(t, "logging during the outage", wg.Wait)
			t.Logf("slowest record: %s", slowest)
			waitFor(t, func() bool { return strings.Contains(stdout.String(), "cloud logging dropped entries") })

			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			within(t, "Close with a 300ms deadline", func() { _ = l.Close(ctx) })
			t.Logf("Close took %s with a 300ms deadline", time.Since(start))
			if n := len(fake.Entries()); n != 0 {
				t.Errorf("the failing API stored %d entries", n)
			}
			if d := l.Dropped(); d < goroutines*each {
				t.Errorf("dropped %d, want at least the %d records", d, goroutines*each)
			}
			recs := jsonLines(t, stdout.String())
			last := recs[len(recs)-1]
			if last["message"] != "cloud logging dropped entries" || last["severity"] != "WARNING" || last["dropped"] != float64(l.Dropped()) {
				t.Errorf("last stdout record %v, want the final report of %d dropped", last, l.Dropped())
			}
		})
	}
}

// TestOutageEnds: once the API answers again, records are written again.
func TestOutageEnds(t *testing.T) {
	fake := cloudlogtest.NewTestServer(t)
	fake.Fail(codes.PermissionDenied)
	var stdout logbuf.Buffer
	l := newAPI(t, fake, &stdout, cloudlog.Options{DelayThreshold: 10 * time.Millisecond})
	log := slog.New(l.Handler())
	log.Info("lost")
	waitFor(t, func() bool { return l.Dropped() > 0 })
	fake.Fail(codes.OK)
	log.Info("kept")
	if err := l.Close(context.Background()); err == nil {
		t.Error("Close reported no error after failed writes")
	}
	var msgs []string
	for _, e := range fake.Entries() {
		msgs = append(msgs, e.GetJsonPayload().AsMap()["message"].(string))
	}
	if !slices.Contains(msgs, "kept") || slices.Contains(msgs, "lost") {
		t.Errorf("entries after the outage: %q, want the record after it", msgs)
	}
	if recs := jsonLines(t, stdout.String()); len(recs) == 0 || recs[len(recs)-1]["dropped"] != float64(2) { // the start record and "lost"
		t.Errorf("stdout %q, want the report of 2 dropped entries", stdout.String())
	}
}

// within runs fn and fails the test if fn is still running after a minute: fn must not wait on
// an API whose writes may take an hour. The minute is no measure of fn, only a watchdog that
// turns a hang into a failure with a name.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s still blocked after a minute: it waits on the API", what)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
	}
}

// TestResource: the monitored resource and log name fit where the worker runs.
func TestResource(t *testing.T) {
	md := func(vals map[string]string) func(context.Context, string) (string, error) {
		return func(_ context.Context, p string) (string, error) {
			if v, ok := vals[p]; ok {
				return v, nil
			}
			return "", errors.New("no such metadata")
		}
	}
	tests := []struct {
		name string
		env  cloudlog.Env
		opts cloudlog.Options
		typ  string
		want map[string]string
	}{
		{"Cloud Run service, forced to the API", cloudlog.Env{
			Getenv: func(k string) string {
				return map[string]string{"K_SERVICE": "worker", "K_REVISION": "worker-00001-abc", "K_CONFIGURATION": "worker"}[k]
			},
			Metadata: md(map[string]string{"instance/region": "projects/123/regions/europe-west1"}),
		}, cloudlog.Options{}, "cloud_run_revision", map[string]string{"project_id": "my-proj", "location": "europe-west1",
			"service_name": "worker", "revision_name": "worker-00001-abc", "configuration_name": "worker"}},
		{"Cloud Run job", cloudlog.Env{
			Getenv: func(k string) string { return map[string]string{"CLOUD_RUN_JOB": "sweep"}[k] },
		}, cloudlog.Options{Location: "us-central1"}, "cloud_run_job", map[string]string{"project_id": "my-proj", "location": "us-central1", "job_name": "sweep"}},
		{"Compute Engine VM", cloudlog.Env{
			Getenv: func(string) string { return "" }, OnGCE: func() bool { return true },
			Metadata: md(map[string]string{"instance/zone": "projects/123/zones/us-east1-b"}),
			Hostname: func() (string, error) { return "vm-1", nil },
		}, cloudlog.Options{Job: "diff-hygiene", TaskID: "t1"}, "generic_task",
			map[string]string{"project_id": "my-proj", "location": "us-east1-b", "namespace": "prreconciler", "job": "diff-hygiene", "task_id": "t1"}},
		{"elsewhere", testEnv(nil), cloudlog.Options{Namespace: "ns", Job: "j", TaskID: "t", LogID: "custom"}, "generic_task",
			map[string]string{"project_id": "my-proj", "location": "global", "namespace": "ns", "job": "j", "task_id": "t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := cloudlogtest.NewTestServer(t)
			tt.opts.Env = tt.env
			l := newAPI(t, fake, &logbuf.Buffer{}, tt.opts)
			if l.Resource().GetType() != tt.typ || !reflect.DeepEqual(l.Resource().GetLabels(), tt.want) {
				t.Errorf("resource %v, want %s %v", l.Resource(), tt.typ, tt.want)
			}
			logID := tt.opts.LogID
			if logID == "" {
				logID = cloudlog.DefaultLogID
			}
			if l.LogName() != "projects/my-proj/logs/"+logID {
				t.Errorf("log name %q", l.LogName())
			}
		})
	}
}

// TestSeverityNames: every severity the handler writes is one the API knows.
func TestSeverityNames(t *testing.T) {
	for _, lv := range []slog.Level{slog.LevelDebug - 4, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelError + 4} {
		s := cloudlog.Severity(lv)
		if got := logging.ParseSeverity(s); got == logging.Default || !strings.EqualFold(got.String(), s) {
			t.Errorf("%s: %q parses as %v", lv, s, got)
		}
	}
}
