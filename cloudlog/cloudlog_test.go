package cloudlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lines parses every line of out as one JSON object, failing on anything else, and also checks
// that no object has a duplicate key.
func lines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var res []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		checkNoDuplicates(t, l)
		res = append(res, m)
	}
	return res
}

func checkNoDuplicates(t *testing.T, line string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	var walk func()
	walk = func() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, _ := dec.Token()
				if seen[k.(string)] {
					t.Fatalf("duplicate key %q in %s", k, line)
				}
				seen[k.(string)] = true
				walk()
			}
			dec.Token()
		case json.Delim('['):
			for dec.More() {
				walk()
			}
			dec.Token()
		}
	}
	walk()
}

func TestSeverityAndBasics(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l.Debug("d")
	l.Info("i", "n", 1)
	l.Warn("w")
	l.Error("e", "err", errors.New("boom"))
	l.Log(context.Background(), slog.LevelError+4, "c")
	l.Log(context.Background(), slog.LevelDebug-4, "trace")
	got := lines(t, buf.String())
	want := []string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "DEBUG"}
	for i, m := range got {
		if m["severity"] != want[i] {
			t.Errorf("line %d severity %v, want %s", i, m["severity"], want[i])
		}
		ts, err := time.Parse(time.RFC3339Nano, m["time"].(string))
		if err != nil || time.Since(ts) > time.Minute {
			t.Errorf("time %v: %v", m["time"], err)
		}
		if _, ok := m["msg"]; ok {
			t.Error("msg key written")
		}
		if _, ok := m["level"]; ok {
			t.Error("level key written")
		}
	}
	if got[1]["message"] != "i" || got[1]["n"] != float64(1) || got[3]["err"] != "boom" {
		t.Errorf("fields: %v %v", got[1], got[3])
	}
	// Level filtering.
	buf.Reset()
	l = slog.New(NewHandler(&buf, nil))
	l.Debug("hidden")
	l.Info("shown")
	if n := len(lines(t, buf.String())); n != 1 {
		t.Errorf("%d lines with the default level", n)
	}
}

func TestLabelsMergedOnce(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, nil))
	l = l.With(Label("pr_url", "https://github.com/o/r/pull/1"), Label("sha", "old"), "attempt", 1)
	l = l.With(Label("sha", "newer"), Label("delivery_id", "d1"))
	l.WithGroup("g").Info("hello", Label("outcome", "skipped"), Label("delivery_id", "d2"), "x", "y",
		slog.Group("inner", Label("nested", "n"), "k", "v"))
	l.Info("plain")
	got := lines(t, buf.String())
	labels := got[0][LabelsKey].(map[string]any)
	want := map[string]any{"pr_url": "https://github.com/o/r/pull/1", "sha": "newer", "delivery_id": "d2", "outcome": "skipped", "nested": "n"}
	if len(labels) != len(want) {
		t.Errorf("labels %v, want %v", labels, want)
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("label %s = %v, want %v", k, labels[k], v)
		}
	}
	if got[0]["attempt"] != float64(1) {
		t.Errorf("attempt: %v", got[0])
	}
	g := got[0]["g"].(map[string]any)
	if g["x"] != "y" || g["inner"].(map[string]any)["k"] != "v" || g["inner"].(map[string]any)["nested"] != nil {
		t.Errorf("group g: %v", g)
	}
	for _, k := range []string{"pr_url", "sha", "outcome"} {
		if _, ok := got[0][k]; ok {
			t.Errorf("label %s also written as a field", k)
		}
	}
	if l2 := got[1][LabelsKey].(map[string]any); l2["delivery_id"] != "d1" || l2["sha"] != "newer" {
		t.Errorf("second line labels %v", l2)
	}
	// The labels of the first logger are not changed by the derived one.
	if strings.Count(buf.String(), LabelsKey) != 2 {
		t.Error("labels object not exactly once per line")
	}
}

func TestGroups(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, nil))
	l.With("a", 1).WithGroup("req").With("id", "r1", Label("sha", "s")).WithGroup("empty").Info("m", "z", 2)
	l.WithGroup("req").WithGroup("sub").Info("no attrs")
	l.Info("m", slog.Group("g", "a", 1, slog.Group("", "inl", true)), slog.Group("nothing"), slog.Attr{}, "dur", time.Second,
		"f", math.Inf(1), "t", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), "message", "shadow", "any", struct{ A int }{3})
	got := lines(t, buf.String())
	req := got[0]["req"].(map[string]any)
	if got[0]["a"] != float64(1) || req["id"] != "r1" || req["empty"].(map[string]any)["z"] != float64(2) {
		t.Errorf("line 0: %v", got[0])
	}
	if got[0][LabelsKey].(map[string]any)["sha"] != "s" {
		t.Errorf("label in group: %v", got[0])
	}
	if _, ok := got[1]["req"]; ok {
		t.Errorf("empty groups written: %v", got[1])
	}
	g := got[2]["g"].(map[string]any)
	if g["a"] != float64(1) || g["inl"] != true {
		t.Errorf("group g %v", g)
	}
	if _, ok := got[2]["nothing"]; ok {
		t.Error("empty group written")
	}
	if got[2]["dur"] != "1s" || got[2]["f"] != "+Inf" || got[2]["t"] != "2026-01-02T03:04:05.000000006Z" {
		t.Errorf("values %v", got[2])
	}
	if got[2]["message"] != "m" || got[2]["fields.message"] != "shadow" {
		t.Errorf("shadowing attribute: %v", got[2])
	}
	if got[2]["any"].(map[string]any)["A"] != float64(3) {
		t.Errorf("struct %v", got[2]["any"])
	}
}

func TestSourceLocationAndReplaceAttr(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, &slog.HandlerOptions{AddSource: true, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		switch {
		case a.Key == slog.TimeKey && len(groups) == 0:
			return slog.Attr{}
		case a.Key == "secret":
			return slog.String("secret", "REDACTED")
		case a.Key == "sha" && len(groups) == 0:
			return slog.String("commit", a.Value.String())
		case a.Key == slog.LevelKey && a.Value.Any().(slog.Level) == slog.LevelInfo+2:
			return slog.String(slog.LevelKey, "NOTICE")
		}
		return a
	}}))
	l.Log(context.Background(), slog.LevelInfo+2, "m", "secret", "hunter2", Label("sha", "abc"))
	got := lines(t, buf.String())[0]
	if _, ok := got["time"]; ok {
		t.Error("time not removed")
	}
	if got["severity"] != "NOTICE" || got["secret"] != "REDACTED" || got[LabelsKey].(map[string]any)["commit"] != "abc" {
		t.Errorf("replaced: %v", got)
	}
	src := got[SourceLocationKey].(map[string]any)
	if !strings.HasSuffix(src["file"].(string), "cloudlog_test.go") || src["line"] == "" || !strings.Contains(src["function"].(string), "TestSourceLocation") {
		t.Errorf("source %v", src)
	}
}

func TestTextHandlerSeesLabelsAsStrings(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil)).With(Label("sha", "abc123"))
	l.Info("hello", Label("pr_url", "https://github.com/o/r/pull/1"))
	out := buf.String()
	if !strings.Contains(out, "sha=abc123") || !strings.Contains(out, "pr_url=https://github.com/o/r/pull/1") {
		t.Errorf("text output %q", out)
	}
	buf.Reset()
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("hello", Label("sha", "abc"))
	if !strings.Contains(buf.String(), `"sha":"abc"`) {
		t.Errorf("json output %q", buf.String())
	}
}

func TestConcurrentWritesAreWholeLines(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := slog.New(h).With(Label("i", strings.Repeat("x", i)))
			for range 20 {
				l.Info("m", "k", i)
			}
		}()
	}
	wg.Wait()
	if n := len(lines(t, buf.String())); n != 400 {
		t.Errorf("%d lines", n)
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestProject(t *testing.T) {
	var hits int
	var mu sync.Mutex
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		if r.URL.Path != "/computeMetadata/v1/project/project-id" || r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Write([]byte("my-project\n"))
	}))
	defer md.Close()
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(md.URL, "http://"))
	ctx := context.Background()

	if p := Project(ctx, env(map[string]string{"GOOGLE_CLOUD_PROJECT": "from-env", "K_SERVICE": "svc"})); p != "from-env" {
		t.Errorf("with env: %q", p)
	}
	if p := Project(ctx, env(nil)); p != "" {
		t.Errorf("off Cloud Run: %q", p)
	}
	if hits != 0 { // off Cloud Run no request at all: nothing to wait for
		t.Errorf("metadata server asked %d times without need", hits)
	}
	if p := Project(ctx, env(map[string]string{"K_SERVICE": "svc"})); p != "my-project" {
		t.Errorf("from metadata: %q", p)
	}
	// A metadata server that does not answer: the caller's context ends the lookup (and
	// MetadataTimeout bounds it otherwise). Signalled, not timed: the server says when the
	// request arrived, the caller then cancels, and Project must return.
	var hangHits atomic.Int32
	arrived := make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hangHits.Add(1)
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	defer hang.Close()
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(hang.URL, "http://"))
	hangEnv := env(map[string]string{"K_SERVICE": "svc"})
	cctx, cancel := context.WithCancel(ctx)
	got := make(chan string, 1)
	start := time.Now()
	go func() { got <- Project(cctx, hangEnv) }()
	<-arrived
	cancel()
	if p := <-got; p != "" {
		t.Errorf("hanging metadata: %q", p)
	}
	t.Logf("hanging metadata: Project returned %v after it started, once its context was cancelled", time.Since(start))
	// The caller's context is the request's: cancelled before, the server is not even asked.
	before := hangHits.Load()
	if p := Project(cctx, hangEnv); p != "" || hangHits.Load() != before {
		t.Errorf("with a cancelled context: %q, %d requests to the metadata server", p, hangHits.Load()-before)
	}
}

func TestService(t *testing.T) {
	if s := Service(env(map[string]string{"K_SERVICE": "worker"})); s != "worker" {
		t.Errorf("%q", s)
	}
	if s := Service(env(nil)); s != "" {
		t.Errorf("%q", s)
	}
}
