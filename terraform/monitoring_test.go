package terraform_test

// The module's operations side (monitoring.tf): the log-based metrics against the records a
// real worker writes, the alert policies and the dashboard against the subscriptions and
// metrics the module makes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/sethvargo/go-envconfig"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/internal/logbuf"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// opsSet is a deployment's required inputs with two relay topics, so that every list of
// subscriptions has more than one intake subscription in it.
func opsSet() map[string]cty.Value {
	return map[string]cty.Value{
		"project_id":                    cty.StringVal("acme-ci-prod"),
		"region":                        cty.StringVal("europe-west1"),
		"image":                         cty.StringVal("europe-west1-docker.pkg.dev/acme-ci-prod/prreconciler/worker:1"),
		"github_app_id":                 cty.NumberIntVal(123456),
		"github_app_private_key_secret": cty.StringVal("prreconciler-github-app-key"),
		"identity":                      cty.StringVal("prreconciler"),
		"relay_topics": cty.MapVal(map[string]cty.Value{
			"github": cty.StringVal("github-webhooks"), "ghes": cty.StringVal("projects/other/topics/ghes-webhooks")}),
	}
}

// opsSubscriptions are the push subscriptions opsSet makes: the intake ones and the
// reconcile one.
var opsSubscriptions = []string{"prreconciler-ghes", "prreconciler-github", "prreconciler-reconcile"}

// evalAttr evaluates one attribute of a body with the given variables (the rest at their
// defaults) and the module's stand-ins.
func evalAttr(t *testing.T, c *tfConfig, set map[string]cty.Value, b *hclsyntax.Body, name string) cty.Value {
	t.Helper()
	a, ok := b.Attributes[name]
	if !ok {
		t.Fatalf("%s is not set", name)
	}
	ctx, err := c.evalContext(set)
	if err != nil {
		t.Fatal(err)
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", name, diags.Error())
	}
	if !v.IsWhollyKnown() || v.IsNull() {
		t.Fatalf("%s is not known", name)
	}
	return v
}

func evalStr(t *testing.T, c *tfConfig, set map[string]cty.Value, b *hclsyntax.Body, name string) string {
	t.Helper()
	v, err := convert.Convert(evalAttr(t, c, set, b, name), cty.String)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v.AsString()
}

// evalLocal evaluates a local of the module with the given variables.
func evalLocal(t *testing.T, c *tfConfig, set map[string]cty.Value, name string) cty.Value {
	t.Helper()
	ctx, err := c.evalContext(set)
	if err != nil {
		t.Fatal(err)
	}
	v := ctx.Variables["local"].Type()
	if !v.HasAttribute(name) {
		t.Fatalf("local.%s does not evaluate with %v", name, set)
	}
	return ctx.Variables["local"].GetAttr(name)
}

// The metrics read the fields and labels the worker writes, by the worker's own names.
func TestLogNamesAreTheWorkers(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	fields := evalLocal(t, c, nil, "log_field").AsValueMap()
	want := map[string]string{
		"stage":            worker.LogFieldStage,
		"duration":         worker.LogFieldDuration,
		"github_requests":  worker.LogFieldGitHubRequests,
		"github_points":    worker.LogFieldGitHubPoints,
		"github_remaining": worker.LogFieldGitHubRemaining,
		"installation_id":  worker.LogFieldInstallationID,
	}
	if len(fields) != len(want) {
		t.Errorf("local.log_field has %d names, want %d", len(fields), len(want))
	}
	for k, w := range want {
		if v, ok := fields[k]; !ok || v.AsString() != w {
			t.Errorf("local.log_field.%s = %v, the worker writes %q", k, v, w)
		}
	}
	for local, w := range map[string]string{"log_label_outcome": statusmanager.LogLabelOutcome, "stage_reconcile": worker.StageReconcile} {
		if got := evalLocal(t, c, nil, local).AsString(); got != w {
			t.Errorf("local.%s = %q, the worker writes %q", local, got, w)
		}
	}
}

// logEntry is a record as Cloud Logging stores a JSON line of the worker on Cloud Run: the
// special keys lifted into the entry, the rest its jsonPayload.
type logEntry map[string]any

// entriesOf turns the worker's stdout into entries of service on cloud_run_revision.
func entriesOf(t *testing.T, out, service string) []logEntry {
	t.Helper()
	var entries []logEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		e := logEntry{"resource": map[string]any{"type": "cloud_run_revision", "labels": map[string]any{"service_name": service}}}
		labels, _ := m[cloudlog.LabelsKey].(map[string]any)
		e["labels"] = labels
		e["severity"] = m[cloudlog.SeverityKey]
		delete(m, cloudlog.LabelsKey)
		delete(m, cloudlog.SeverityKey)
		delete(m, cloudlog.SourceLocationKey)
		delete(m, cloudlog.TimeKey)
		e["jsonPayload"] = m // message stays in jsonPayload, as Cloud Run keeps it
		entries = append(entries, e)
	}
	return entries
}

// field looks up a dotted path; ok is false when it is absent.
func (e logEntry) field(path string) (any, bool) {
	var cur any = map[string]any(e)
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok || cur == nil {
			return nil, false
		}
	}
	return cur, true
}

// fieldString is a field's value as Cloud Logging compares and extracts it.
func (e logEntry) fieldString(path string) (string, bool) {
	v, ok := e.field(path)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return fmt.Sprint(v), true
}

var (
	logTermEq  = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.]*)="((?:[^"\\]|\\.)*)"$`)
	logTermHas = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.]*):\*$`)
	extractRE  = regexp.MustCompile(`^EXTRACT\(([A-Za-z_][A-Za-z0-9_.]*)\)$`)
)

// logFilter is a parsed Cloud Logging filter of the subset the module writes: terms joined by
// AND, each field="value" or field:* (present). Anything else is refused, so that the module
// cannot write a filter this test does not understand.
type logFilter []func(logEntry) bool

func parseLogFilter(f string) (logFilter, error) {
	var out logFilter
	for _, term := range strings.Split(f, " AND ") {
		if m := logTermEq.FindStringSubmatch(term); m != nil {
			path, want := m[1], strings.ReplaceAll(m[2], `\"`, `"`)
			out = append(out, func(e logEntry) bool { v, ok := e.fieldString(path); return ok && v == want })
		} else if m := logTermHas.FindStringSubmatch(term); m != nil {
			path := m[1]
			out = append(out, func(e logEntry) bool { _, ok := e.field(path); return ok })
		} else {
			return nil, fmt.Errorf("term %q of %q is not field=\"value\" or field:*", term, f)
		}
	}
	return out, nil
}

func (f logFilter) match(e logEntry) bool {
	for _, term := range f {
		if !term(e) {
			return false
		}
	}
	return true
}

// extract applies EXTRACT(field).
func extract(e logEntry, extractor string) (string, bool, error) {
	m := extractRE.FindStringSubmatch(extractor)
	if m == nil {
		return "", false, fmt.Errorf("extractor %q is not EXTRACT(field)", extractor)
	}
	v, ok := e.fieldString(m[1])
	return v, ok, nil
}

// workerRecords runs a real worker, both stages, with the diff hygiene reconciler against the
// GitHub fake, its logger the cloudlog handler Cloud Run reads, and returns what it wrote:
// reconciled, skipped (the same commit again), failed (a pull request that does not exist),
// ignored (a check_suite requested event), invalid (undecodable) in the reconcile stage;
// forwarded and invalid in the intake stage. installation is the installation's id.
func workerRecords(t *testing.T) (out string, installation int64) {
	t.Helper()
	ctx := context.Background()
	const (
		owner, repo = "octo-org", "hello-world"
		head        = "0123456789abcdef0123456789abcdef01234567"
		identity    = "prreconciler"
	)
	gh := githubtest.NewTestServer(t)
	gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: 7, HeadSHA: head,
		Files: []githubtest.File{{Filename: "README.md", Patch: "@@ -0,0 +1 @@\n+hello"}}})
	installation = gh.InstallationID(gh.App(), owner)
	clients, err := githubapp.New(gh.App().ID, gh.App().PrivateKeyPEM, githubapp.Options{BaseURL: gh.URL() + "/", RetryBudget: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := statusmanager.NewStatusManager[hygiene.Details](ctx, identity, statusmanager.WithAppID(gh.App().ID), statusmanager.WithoutDetailsURL())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := hygiene.New(ctx, envconfig.MapLookuper(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	buf := &logbuf.Buffer{}
	w := &worker.Worker[hygiene.Details]{
		Manager: sm, Clients: clients, Reconcile: rec, Cost: hygiene.Cost,
		Decoder:             &events.Decoder{AppID: gh.App().ID, Identity: identity},
		Logger:              slog.New(cloudlog.NewHandler(buf, nil)),
		Timeout:             20 * time.Second,
		GitHubTimeout:       20 * time.Second,
		MaxDeliveryAttempts: 5,
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", buf.String())
		}
	})

	request := func(id string, pr int, sha string, installationID int64) *events.Message {
		data, _ := json.Marshal(map[string]any{"owner": owner, "repo": repo, "sha": sha, "installationId": installationID,
			"url": fmt.Sprintf("https://github.com/%s/%s/pull/%d", owner, repo, pr)})
		return &events.Message{ID: id, Data: data, Attributes: map[string]string{}, DeliveryAttempt: 1}
	}
	body, _ := json.Marshal(map[string]any{"when": "2026-01-01T00:00:00Z",
		"headers": map[string]any{"event": "check_suite", "delivery_id": "gh-cs"},
		"body": map[string]any{"action": "requested",
			"check_suite":  map[string]any{"head_sha": head, "app": map[string]any{"id": gh.App().ID}, "pull_requests": []any{map[string]any{"number": 7}}},
			"repository":   map[string]any{"name": repo, "full_name": owner + "/" + repo, "owner": map[string]any{"login": owner}, "html_url": "https://github.com/" + owner + "/" + repo},
			"installation": map[string]any{"id": installation}}})
	checkSuite := &events.Message{ID: "cs", Data: body, DeliveryAttempt: 1, Attributes: map[string]string{
		"ce-id": "gh-cs", "ce-type": events.DefaultTypePrefix + ".check_suite", "ce-subject": owner + "/" + repo, "ce-action": "requested"}}
	invalid := &events.Message{ID: "bad", Data: []byte("{not json"), Attributes: map[string]string{}, DeliveryAttempt: 1}

	for _, tc := range []struct {
		m    *events.Message
		want worker.Outcome
	}{
		{request("m1", 7, head, installation), worker.OutcomeReconciled},
		{request("m2", 7, head, installation), worker.OutcomeSkipped},
		{request("m3", 99, strings.Repeat("9", 40), installation), worker.OutcomeFailed},
		{checkSuite, worker.OutcomeIgnored},
		{invalid, worker.OutcomeInvalid},
	} {
		if o, err := w.Handle(ctx, tc.m); o != tc.want {
			t.Fatalf("message %s: outcome %s (%v), want %s", tc.m.ID, o, err, tc.want)
		}
	}

	// The intake stage, publishing to an in-process Pub/Sub.
	client := pubsubemu.InProcess(t, "p")
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/p/topics/reconcile"}); err != nil {
		t.Fatal(err)
	}
	pub := client.Publisher("projects/p/topics/reconcile")
	pub.EnableMessageOrdering = true
	t.Cleanup(pub.Stop)
	in := w.Intake(pub)
	for _, tc := range []struct {
		m    *events.Message
		want worker.Outcome
	}{
		{request("i1", 7, head, installation), worker.OutcomeForwarded},
		{invalid, worker.OutcomeInvalid},
	} {
		if o, err := in.Handle(ctx, tc.m); o != tc.want {
			t.Fatalf("intake %s: outcome %s (%v), want %s", tc.m.ID, o, err, tc.want)
		}
	}
	return buf.String(), installation
}

// metricRow is what one log-based metric makes of one entry it selects: its labels, and its
// value when it has a value extractor.
type metricRow struct {
	labels map[string]string
	value  string
}

// metricInstance is one google_logging_metric instance: its block, and the context its
// attributes evaluate in (with each.key and each.value when the block has a for_each).
type metricInstance struct {
	block *hclsyntax.Block
	ctx   *hcl.EvalContext
}

// logMetrics returns the module's log-based metrics by short name: the for_each key of an
// instance, or the name of a block without one.
func logMetrics(t *testing.T, c *tfConfig, set map[string]cty.Value) map[string]metricInstance {
	t.Helper()
	ctx, err := c.evalContext(set)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]metricInstance{}
	for name, b := range c.ofType("google_logging_metric") {
		if _, ok := b.Body.Attributes["for_each"]; !ok {
			out[name] = metricInstance{b, ctx}
			continue
		}
		for it := evalIn(t, ctx, b.Body, "for_each").ElementIterator(); it.Next(); {
			k, v := it.Element()
			ectx := ctx.NewChild()
			ectx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
			out[k.AsString()] = metricInstance{b, ectx}
		}
	}
	return out
}

// blockKeys returns the key attribute of each nested block of a type, static or dynamic.
func blockKeys(t *testing.T, ctx *hcl.EvalContext, b *hclsyntax.Body, typ string) []string {
	t.Helper()
	var keys []string
	for _, l := range child(b, typ) {
		keys = append(keys, evalIn(t, ctx, l.Body, "key").AsString())
	}
	for _, d := range child(b, "dynamic") {
		if d.Labels[0] != typ {
			continue
		}
		content := one(d.Body, "content")
		for it := evalIn(t, ctx, d.Body, "for_each").ElementIterator(); it.Next(); {
			k, v := it.Element()
			ectx := ctx.NewChild()
			ectx.Variables = map[string]cty.Value{typ: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
			keys = append(keys, evalIn(t, ectx, content.Body, "key").AsString())
		}
	}
	return keys
}

// applyMetric runs a log-based metric's filter and extractors over entries.
func applyMetric(t *testing.T, name string, m metricInstance, entries []logEntry) []metricRow {
	t.Helper()
	body := m.block.Body
	f, err := parseLogFilter(evalIn(t, m.ctx, body, "filter").AsString())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	extractors := map[string]string{}
	if _, ok := body.Attributes["label_extractors"]; ok {
		for k, v := range evalIn(t, m.ctx, body, "label_extractors").AsValueMap() {
			extractors[k] = v.AsString()
		}
	}
	// Every label extracted is declared in the descriptor, and the other way round.
	var declared []string
	if md := one(body, "metric_descriptor"); md != nil {
		declared = blockKeys(t, m.ctx, md.Body, "labels")
	}
	if got := slices.Sorted(maps.Keys(extractors)); !slices.Equal(got, sorted(declared)) {
		t.Errorf("%s: label_extractors %v, metric_descriptor labels %v", name, got, sorted(declared))
	}
	valueExtractor := ""
	if _, ok := body.Attributes["value_extractor"]; ok {
		if v := evalIn(t, m.ctx, body, "value_extractor"); !v.IsNull() {
			valueExtractor = v.AsString()
		}
	}
	var rows []metricRow
	for _, e := range entries {
		if !f.match(e) {
			continue
		}
		r := metricRow{labels: map[string]string{}}
		for k, x := range extractors {
			v, ok, err := extract(e, x)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !ok {
				t.Errorf("%s: label %s: %s finds nothing in a selected record: %v", name, k, x, e)
			}
			r.labels[k] = v
		}
		if valueExtractor != "" {
			v, ok, err := extract(e, valueExtractor)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, perr := strconv.ParseFloat(v, 64); !ok || perr != nil {
				t.Errorf("%s: the value extractor finds no number in a selected record (%q): %v", name, v, e)
			}
			r.value = v
		}
		rows = append(rows, r)
	}
	return rows
}

// Each log-based metric selects the intended records of a real worker's output and extracts
// the intended labels and values.
func TestLogMetricsOnWorkerRecords(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	set := opsSet()
	out, installation := workerRecords(t)
	entries := entriesOf(t, out, "prreconciler")
	// Records of another service must never count.
	entries = append(entries, entriesOf(t, out, "another-service")...)

	metrics := logMetrics(t, c, set)
	names := slices.Sorted(maps.Keys(metrics))
	if want := []string{"github_points", "github_remaining", "github_requests", "outcomes", "reconcile_duration"}; !slices.Equal(names, want) {
		t.Fatalf("log-based metrics %v, want %v", names, want)
	}

	// outcomes: one row per outcome record of this service, outcome and stage extracted.
	var got []string
	for _, r := range applyMetric(t, "outcomes", metrics["outcomes"], entries) {
		got = append(got, r.labels["stage"]+"/"+r.labels["outcome"])
	}
	sort.Strings(got)
	want := []string{"intake/forwarded", "intake/invalid", "reconcile/failed", "reconcile/ignored", "reconcile/invalid", "reconcile/reconciled", "reconcile/skipped"}
	if !slices.Equal(got, want) {
		t.Errorf("outcomes selects %v, want %v", got, want)
	}

	// The reconcile stage's per-request records: duration, requests and points, by outcome.
	for _, name := range []string{"reconcile_duration", "github_requests", "github_points"} {
		rows := applyMetric(t, name, metrics[name], entries)
		var outcomes []string
		for _, r := range rows {
			outcomes = append(outcomes, r.labels["outcome"])
			if name != "reconcile_duration" {
				if _, err := strconv.Atoi(r.value); err != nil {
					t.Errorf("%s: value %q is not an integer", name, r.value)
				}
			}
			if name == "github_requests" && r.labels["outcome"] == "reconciled" && r.value == "0" {
				t.Errorf("github_requests: the reconciled request sent none")
			}
		}
		sort.Strings(outcomes)
		if want := []string{"failed", "reconciled", "skipped"}; !slices.Equal(outcomes, want) {
			t.Errorf("%s selects outcomes %v, want one per request of the reconcile stage %v", name, outcomes, want)
		}
	}

	// The remaining budget, by installation, from the records that know it.
	rows := applyMetric(t, "github_remaining", metrics["github_remaining"], entries)
	if len(rows) == 0 {
		t.Fatal("github_remaining selects no record")
	}
	for _, r := range rows {
		if r.labels["installation_id"] != strconv.FormatInt(installation, 10) {
			t.Errorf("github_remaining: installation_id %q, want %d", r.labels["installation_id"], installation)
		}
		if n, err := strconv.Atoi(r.value); err != nil || n <= 0 || n > 5000 {
			t.Errorf("github_remaining: value %q is not the fake's remaining points", r.value)
		}
	}
}

// The filter checks refuse what they cannot understand and select by value, so that the test
// above cannot pass vacuously.
func TestLogFilterSubset(t *testing.T) {
	e := logEntry{"labels": map[string]any{"outcome": "failed"}, "jsonPayload": map[string]any{"stage": "reconcile", "n": json.Number("3")}}
	for _, tc := range []struct {
		filter string
		match  bool
		bad    bool
	}{
		{`labels.outcome="failed" AND jsonPayload.stage:*`, true, false},
		{`labels.outcome="reconciled"`, false, false},
		{`jsonPayload.github_remaining:*`, false, false},
		{`jsonPayload.n="3"`, true, false},
		{`labels.outcome="failed" OR jsonPayload.stage:*`, false, true},
		{`labels.outcome:"fail"`, false, true},
	} {
		f, err := parseLogFilter(tc.filter)
		if (err != nil) != tc.bad {
			t.Errorf("%s: parse error %v, want error=%v", tc.filter, err, tc.bad)
			continue
		}
		if err == nil && f.match(e) != tc.match {
			t.Errorf("%s: match=%v, want %v", tc.filter, !tc.match, tc.match)
		}
	}
}

// monitoringFilters returns the filters of an alert policy's conditions (with their
// denominators).
func monitoringFilters(t *testing.T, c *tfConfig, set map[string]cty.Value, b *hclsyntax.Block) []string {
	t.Helper()
	var out []string
	for _, cond := range child(b.Body, "conditions") {
		ct := one(cond.Body, "condition_threshold")
		if ct == nil {
			t.Errorf("%s: a condition without condition_threshold", b.Labels[1])
			continue
		}
		for _, a := range []string{"filter", "denominator_filter"} {
			if _, ok := ct.Body.Attributes[a]; ok {
				out = append(out, evalStr(t, c, set, ct.Body, a))
			}
		}
	}
	return out
}

var oneOfRE = regexp.MustCompile(`resource\.labels\.subscription_id=one_of\(([^)]*)\)`)

// subscriptionsOf returns the subscriptions a Monitoring filter names (subscription_id=one_of
// or =).
func subscriptionsOf(filter string) []string {
	var out []string
	if m := oneOfRE.FindStringSubmatch(filter); m != nil {
		for _, s := range strings.Split(m[1], ",") {
			out = append(out, strings.Trim(strings.TrimSpace(s), `"`))
		}
	} else if m := regexp.MustCompile(`resource\.labels\.subscription_id="([^"]+)"`).FindStringSubmatch(filter); m != nil {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

// The alert policies: the five concerns, on every push subscription where it applies,
// each notifying var.notification_channels with documentation saying what to do, and a
// runbook entry in the README.
func TestAlertPolicies(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	set := opsSet()
	readme := readFile(t, "README.md")
	i := strings.Index(readme, "## Runbook")
	if i < 0 {
		t.Fatal("README.md has no Runbook section")
	}
	runbook := readme[i:]
	metricNames := map[string]bool{}
	for _, m := range logMetrics(t, c, set) {
		metricNames["logging.googleapis.com/user/"+evalIn(t, m.ctx, m.block.Body, "name").AsString()] = true
	}

	covered := map[string]bool{}
	for name, b := range c.ofType("google_monitoring_alert_policy") {
		if !refersTo(b.Body, "notification_channels", "var.notification_channels") {
			t.Errorf("%s: notification_channels must be var.notification_channels", name)
		}
		doc := one(b.Body, "documentation")
		if doc == nil {
			t.Errorf("%s: no documentation", name)
		} else {
			if mt, _ := literalString(doc.Body, "mime_type"); mt != "text/markdown" {
				t.Errorf("%s: documentation.mime_type %q, want text/markdown", name, mt)
			}
			if content := evalStr(t, c, set, doc.Body, "content"); len(content) < 200 || !strings.Contains(content, "Runbook:") {
				t.Errorf("%s: documentation says too little of what to do:\n%s", name, content)
			}
		}
		if !strings.Contains(runbook, "`"+name+"`") {
			t.Errorf("README's runbook has no entry for alert %s", name)
		}
		for _, f := range monitoringFilters(t, c, set, b) {
			for _, m := range regexp.MustCompile(`metric\.type="(logging\.googleapis\.com/user/[^"]+)"`).FindAllStringSubmatch(f, -1) {
				if !metricNames[m[1]] {
					t.Errorf("%s: filter reads %s, which is none of the module's log-based metrics", name, m[1])
				}
			}
			subs := subscriptionsOf(f)
			switch {
			case strings.Contains(f, "subscription/num_undelivered_messages") && slices.Equal(subs, []string{"prreconciler-dead-letter"}):
				covered["dead letters"] = true
			case strings.Contains(f, "subscription/oldest_unacked_message_age") && slices.Equal(subs, opsSubscriptions):
				covered["unacked age"] = true
			case strings.Contains(f, "subscription/num_undelivered_messages") && slices.Equal(subs, opsSubscriptions):
				covered["backlog"] = true
			case strings.Contains(f, "subscription/push_request_count") && strings.Contains(f, `response_class!="ack"`) && slices.Equal(subs, opsSubscriptions):
				covered["push errors"] = true
			case strings.Contains(f, "/outcomes\"") && strings.Contains(f, `"failed"`) && strings.Contains(f, `"gave_up"`) && strings.Contains(f, `"invalid"`):
				covered["failure outcomes"] = true
			case strings.Contains(f, "/github_remaining\""):
				covered["GitHub budget"] = true
			}
		}
	}
	for _, want := range []string{"dead letters", "unacked age", "backlog", "push errors", "failure outcomes", "GitHub budget"} {
		if !covered[want] {
			t.Errorf("no alert policy covers %s (on every push subscription: %v)", want, opsSubscriptions)
		}
	}
}

// The dashboard: the panels the issue asks for, each on the module's subscriptions, service
// or metrics, laid out without overlap.
func TestDashboard(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	set := opsSet()
	dashboards := c.ofType("google_monitoring_dashboard")
	if len(dashboards) != 1 {
		t.Fatalf("want one google_monitoring_dashboard, have %d", len(dashboards))
	}
	var d struct {
		DisplayName  string
		MosaicLayout struct {
			Columns int
			Tiles   []struct {
				XPos, YPos, Width, Height int
				Widget                    map[string]json.RawMessage
			}
		}
	}
	for _, b := range dashboards {
		dec := json.NewDecoder(strings.NewReader(evalStr(t, c, set, b.Body, "dashboard_json")))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("dashboard_json: %v", err)
		}
	}
	if d.DisplayName == "" || d.MosaicLayout.Columns != 48 {
		t.Errorf("dashboard: displayName %q, columns %d (want 48)", d.DisplayName, d.MosaicLayout.Columns)
	}
	var filters []string
	logsPanel := false
	occupied := map[[2]int]bool{}
	for i, tile := range d.MosaicLayout.Tiles {
		if tile.Width <= 0 || tile.Height <= 0 || tile.XPos+tile.Width > d.MosaicLayout.Columns {
			t.Errorf("tile %d does not fit: %+v", i, tile)
		}
		for x := tile.XPos; x < tile.XPos+tile.Width; x++ {
			for y := tile.YPos; y < tile.YPos+tile.Height; y++ {
				if occupied[[2]int{x, y}] {
					t.Fatalf("tile %d overlaps another", i)
				}
				occupied[[2]int{x, y}] = true
			}
		}
		var title string
		if err := json.Unmarshal(tile.Widget["title"], &title); err != nil || title == "" {
			t.Errorf("tile %d has no title", i)
		}
		if raw, ok := tile.Widget["logsPanel"]; ok {
			var lp struct {
				Filter        string
				ResourceNames []string
			}
			if err := json.Unmarshal(raw, &lp); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(lp.Filter, `resource.labels.service_name="prreconciler"`) || !slices.Equal(lp.ResourceNames, []string{"projects/acme-ci-prod"}) {
				t.Errorf("logs panel: %+v, want the worker's records in its project", lp)
			}
			logsPanel = true
			continue
		}
		var chart struct {
			DataSets []struct {
				PlotType, TargetAxis string
				TimeSeriesQuery      struct {
					TimeSeriesFilter struct {
						Filter      string
						Aggregation map[string]any
					}
				}
			}
		}
		if err := json.Unmarshal(tile.Widget["xyChart"], &chart); err != nil || len(chart.DataSets) == 0 {
			t.Errorf("tile %d (%s) is neither a logs panel nor a chart with data sets: %v", i, title, err)
		}
		for _, ds := range chart.DataSets {
			f := ds.TimeSeriesQuery.TimeSeriesFilter.Filter
			if ds.TimeSeriesQuery.TimeSeriesFilter.Aggregation["alignmentPeriod"] == nil {
				t.Errorf("%s: no alignment period", title)
			}
			filters = append(filters, f)
		}
	}
	if !logsPanel {
		t.Error("no logs panel")
	}
	all := strings.Join(filters, "\n")
	for _, want := range []string{
		"pubsub.googleapis.com/subscription/num_undelivered_messages",
		"pubsub.googleapis.com/subscription/oldest_unacked_message_age",
		"pubsub.googleapis.com/subscription/push_request_count",
		"pubsub.googleapis.com/subscription/push_request_latencies",
		"logging.googleapis.com/user/prreconciler/outcomes",
		"logging.googleapis.com/user/prreconciler/reconcile_duration",
		"logging.googleapis.com/user/prreconciler/github_requests",
		"logging.googleapis.com/user/prreconciler/github_points",
		"logging.googleapis.com/user/prreconciler/github_remaining",
		"run.googleapis.com/container/instance_count",
		"run.googleapis.com/container/cpu/utilizations",
		"run.googleapis.com/container/memory/utilizations",
	} {
		if !strings.Contains(all, `metric.type="`+want+`"`) {
			t.Errorf("the dashboard has no chart of %s", want)
		}
	}
	for _, f := range filters {
		if strings.Contains(f, "pubsub_subscription") && !strings.Contains(f, "dead-letter") {
			if subs := subscriptionsOf(f); !slices.Equal(subs, opsSubscriptions) {
				t.Errorf("a subscription chart shows %v, want every push subscription %v: %s", subs, opsSubscriptions, f)
			}
		}
	}
}

// The dashboard URL output names the dashboard's id in the console.
func TestDashboardURL(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	o := c.outputs["dashboard_url"]
	if o == nil {
		t.Fatal("no output dashboard_url")
	}
	got := evalStr(t, c, opsSet(), o.Body, "value")
	if want := "https://console.cloud.google.com/monitoring/dashboards/builder/" + mockDashboardID + "?project=acme-ci-prod"; got != want {
		t.Errorf("dashboard_url = %q, want %q", got, want)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}
