package terraform_test

// Checks of every block against the real schema of the Google provider (testdata holds
// `terraform providers schema -json` of hashicorp/google 7.45.0, cut to the types this module may
// use; see testdata/README.md). No provider can be downloaded here, so `terraform validate` cannot
// run: this is the part of it that matters for a module, done from the JSON.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

const schemaFile = "testdata/google-provider-7.45.0-schema.json"

type providerSchema struct {
	Meta      map[string]any `json:"_meta"`
	Provider  schemaOf       `json:"provider"`
	Resources map[string]schemaOf
	Data      map[string]schemaOf
}

// UnmarshalJSON maps the file's key names.
func (p *providerSchema) UnmarshalJSON(b []byte) error {
	var raw struct {
		Meta      map[string]any      `json:"_meta"`
		Provider  schemaOf            `json:"provider"`
		Resources map[string]schemaOf `json:"resource_schemas"`
		Data      map[string]schemaOf `json:"data_source_schemas"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*p = providerSchema{Meta: raw.Meta, Provider: raw.Provider, Resources: raw.Resources, Data: raw.Data}
	return nil
}

type schemaOf struct {
	Block schemaBlock `json:"block"`
}

type schemaBlock struct {
	Attributes map[string]schemaAttr   `json:"attributes"`
	BlockTypes map[string]schemaNested `json:"block_types"`
}

type schemaAttr struct {
	Type       json.RawMessage `json:"type"`
	NestedType json.RawMessage `json:"nested_type"`
	Required   bool            `json:"required"`
	Optional   bool            `json:"optional"`
	Computed   bool            `json:"computed"`
	Deprecated bool            `json:"deprecated"`
}

type schemaNested struct {
	NestingMode string      `json:"nesting_mode"`
	Block       schemaBlock `json:"block"`
	MinItems    int         `json:"min_items"`
	MaxItems    int         `json:"max_items"`
}

var (
	schemaOnce   sync.Once
	loadedSchema *providerSchema
	schemaErr    error
)

// googleSchema returns the provider schema, read once.
func googleSchema() (*providerSchema, error) {
	schemaOnce.Do(func() {
		b, err := os.ReadFile(filepath.FromSlash(schemaFile))
		if err != nil {
			schemaErr = err
			return
		}
		var s providerSchema
		if err := json.Unmarshal(b, &s); err != nil {
			schemaErr = fmt.Errorf("%s: %w", schemaFile, err)
			return
		}
		if len(s.Resources) == 0 || len(s.Data) == 0 || len(s.Provider.Block.Attributes) == 0 {
			schemaErr = fmt.Errorf("%s: no resource, data source or provider schemas", schemaFile)
			return
		}
		loadedSchema = &s
	})
	return loadedSchema, schemaErr
}

// Meta-arguments Terraform accepts on every resource and data block.
var (
	metaAttributes = []string{"count", "for_each", "depends_on", "provider"}
	metaBlocks     = []string{"lifecycle", "provisioner", "connection"}
)

// checkBlockSchema compares one body with its schema block: every attribute and nested block is
// known and settable, required ones are present, nesting limits hold and literal values have the
// attribute's type.
func checkBlockSchema(body *hclsyntax.Body, sb schemaBlock, where string, top bool) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, where+": "+fmt.Sprintf(format, args...))
	}
	names := make([]string, 0, len(body.Attributes))
	for n := range body.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := body.Attributes[n]
		if top && slices.Contains(metaAttributes, n) {
			continue
		}
		sa, ok := sb.Attributes[n]
		if !ok {
			if _, isBlock := sb.BlockTypes[n]; isBlock {
				bad("%s is a block, not an attribute (%s)", n, a.SrcRange)
			} else {
				bad("unknown attribute %s (%s)", n, a.SrcRange)
			}
			continue
		}
		if !sa.Required && !sa.Optional {
			bad("attribute %s is computed only and cannot be set (%s)", n, a.SrcRange)
		}
		if sa.Deprecated {
			bad("attribute %s is deprecated (%s)", n, a.SrcRange)
		}
		if len(a.Expr.Variables()) > 0 || len(sa.Type) == 0 {
			continue
		}
		v, diags := a.Expr.Value(&hcl.EvalContext{Functions: functions})
		if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
			continue
		}
		var ty cty.Type
		if err := json.Unmarshal(sa.Type, &ty); err != nil {
			bad("schema type of %s: %v", n, err)
			continue
		}
		if _, err := convert.Convert(v, ty); err != nil {
			bad("attribute %s = %s is not a %s: %v (%s)", n, v.GoString(), ty.FriendlyName(), err, a.SrcRange)
		}
	}
	for n, sa := range sb.Attributes {
		if sa.Required {
			if _, ok := body.Attributes[n]; !ok {
				bad("required attribute %s is not set", n)
			}
		}
	}

	count := map[string]int{}
	dynamic := map[string]bool{}
	for _, b := range body.Blocks {
		typ, content := b.Type, b.Body
		if top && slices.Contains(metaBlocks, typ) {
			continue
		}
		if typ == "dynamic" {
			if len(b.Labels) != 1 {
				bad("dynamic block without a label (%s)", b.DefRange())
				continue
			}
			typ = b.Labels[0]
			dynamic[typ] = true
			// The dynamic block's own arguments are Terraform's; its content is checked below
			// as a block of type typ.
			for n, a := range b.Body.Attributes {
				if !slices.Contains([]string{"for_each", "iterator", "labels"}, n) {
					bad("dynamic %q: unknown argument %s (%s)", typ, n, a.SrcRange)
				}
			}
			if _, ok := b.Body.Attributes["for_each"]; !ok {
				bad("dynamic %q has no for_each (%s)", typ, b.DefRange())
			}
			content = nil
			for _, cb := range b.Body.Blocks {
				if cb.Type != "content" {
					bad("dynamic %q: unknown block %s (%s)", typ, cb.Type, cb.DefRange())
				}
			}
			if cb := one(b.Body, "content"); cb != nil {
				content = cb.Body
			} else {
				bad("dynamic %q has no content block, or more than one", typ)
			}
		}
		nested, ok := sb.BlockTypes[typ]
		if !ok {
			if _, isAttr := sb.Attributes[typ]; isAttr {
				bad("%s is an attribute, not a block: write %s = ... (%s)", typ, typ, b.DefRange())
			} else {
				bad("unknown block %s (%s)", typ, b.DefRange())
			}
			continue
		}
		count[typ]++
		if content != nil {
			problems = append(problems, checkBlockSchema(content, nested.Block, where+"."+typ, false)...)
		}
	}
	for typ, nested := range sb.BlockTypes {
		n := count[typ]
		if dynamic[typ] {
			continue // the number of blocks is only known at plan time
		}
		switch nested.NestingMode {
		case "single", "group":
			if n > 1 {
				bad("block %s may appear once, appears %d times", typ, n)
			}
		}
		if nested.MaxItems > 0 && n > nested.MaxItems {
			bad("block %s may appear at most %d times, appears %d times", typ, nested.MaxItems, n)
		}
		if nested.MinItems > 0 && n < nested.MinItems {
			bad("required block %s is missing (at least %d)", typ, nested.MinItems)
		}
	}
	sort.Strings(problems)
	return problems
}

// checkSchema checks every resource, data source and provider block of a configuration against
// the provider schema, and every reference to a resource's or data source's attribute.
func checkSchema(c *tfConfig, where string) []string {
	s, err := googleSchema()
	if err != nil {
		return []string{fmt.Sprintf("%s: provider schema: %v", where, err)}
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for key, b := range c.resources {
		rs, ok := s.Resources[b.Labels[0]]
		if !ok && outsideSchemaSelection[b.Labels[0]] != "" {
			continue // recorded below: not checkable against this file
		}
		if !ok {
			bad("%s: resource %s: no such type in the google provider's schema", where, key)
			continue
		}
		problems = append(problems, checkBlockSchema(b.Body, rs.Block, where+": "+key, true)...)
	}
	for key, b := range c.data {
		ds, ok := s.Data[b.Labels[0]]
		if !ok {
			bad("%s: data %s: no such data source in the google provider's schema", where, key)
			continue
		}
		problems = append(problems, checkBlockSchema(b.Body, ds.Block, where+": data."+key, true)...)
	}
	for name, b := range c.providers {
		if name != "google" {
			bad("%s: provider %q: only google's schema is known", where, name)
			continue
		}
		body := *b.Body
		attrs := map[string]*hclsyntax.Attribute{}
		for n, a := range b.Body.Attributes {
			if n != "alias" {
				attrs[n] = a
			}
		}
		body.Attributes = attrs
		problems = append(problems, checkBlockSchema(&body, s.Provider.Block, where+": provider.google", false)...)
	}

	// References: type.name.attr and data.type.name.attr name a declared block and an attribute
	// (or nested block) of its schema.
	for _, body := range c.bodies {
		for _, blk := range body.Blocks {
			if blk.Type == "moved" {
				continue // from names what no longer exists; checked below
			}
			hclsyntax.VisitAll(blk.Body, func(n hclsyntax.Node) hcl.Diagnostics {
				a, ok := n.(*hclsyntax.Attribute)
				if !ok {
					return nil
				}
				for _, tr := range a.Expr.Variables() {
					if p := checkReference(c, s, tr); p != "" {
						bad("%s: %s", where, p)
					}
				}
				return nil
			})
		}
	}
	// moved blocks point at a resource that exists, from one that no longer does.
	for _, m := range c.moved {
		from, to := m.Body.Attributes["from"], m.Body.Attributes["to"]
		if from == nil || to == nil {
			bad("%s: moved block without from or to (%s)", where, m.DefRange())
			continue
		}
		f, t := travString(from.Expr.Variables()[0]), travString(to.Expr.Variables()[0])
		if c.resources[t] == nil {
			bad("%s: moved to %s, which is not declared (%s)", where, t, m.DefRange())
		}
		if c.resources[f] != nil {
			bad("%s: moved from %s, which is still declared (%s)", where, f, m.DefRange())
		}
	}
	sort.Strings(problems)
	return slices.Compact(problems)
}

// checkReference returns a problem with one traversal, or "".
func checkReference(c *tfConfig, s *providerSchema, tr hcl.Traversal) string {
	var names []string
	for _, step := range tr {
		switch step := step.(type) {
		case hcl.TraverseRoot:
			names = append(names, step.Name)
		case hcl.TraverseAttr:
			names = append(names, step.Name)
		}
	}
	var block schemaBlock
	var rest []string
	switch {
	case len(names) >= 2 && names[0] == "data":
		if len(names) < 3 {
			return ""
		}
		ds, ok := s.Data[names[1]]
		if c.data[names[1]+"."+names[2]] == nil {
			return fmt.Sprintf("%s refers to an undeclared data source (%s)", strings.Join(names, "."), tr.SourceRange())
		}
		if !ok {
			return ""
		}
		block, rest = ds.Block, names[3:]
	case strings.HasPrefix(names[0], "google_"):
		rs, ok := s.Resources[names[0]]
		if len(names) < 2 {
			return ""
		}
		if c.resources[names[0]+"."+names[1]] == nil {
			return fmt.Sprintf("%s refers to an undeclared resource (%s)", strings.Join(names, "."), tr.SourceRange())
		}
		if !ok {
			return ""
		}
		block, rest = rs.Block, names[2:]
	case names[0] == "local":
		if len(names) >= 2 && c.locals[names[1]] == nil {
			return fmt.Sprintf("local.%s is not declared (%s)", names[1], tr.SourceRange())
		}
		return ""
	default:
		return ""
	}
	if len(rest) == 0 {
		return ""
	}
	if _, ok := block.Attributes[rest[0]]; ok {
		return ""
	}
	if _, ok := block.BlockTypes[rest[0]]; ok {
		return ""
	}
	return fmt.Sprintf("%s: the schema has no attribute %s (%s)", strings.Join(names, "."), rest[0], tr.SourceRange())
}

func TestSchemaFile(t *testing.T) {
	s, err := googleSchema()
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Meta["provider_version"].(string); v != "7.45.0" {
		t.Errorf("schema provider_version %q, want 7.45.0", v)
	}
	// Every type the module uses is in the file, the monitoring and logging ones among them.
	c := loadModule(t, readTF(t, moduleDir))
	used := map[string]bool{}
	for _, b := range c.resources {
		used[b.Labels[0]] = true
		if _, ok := s.Resources[b.Labels[0]]; !ok && outsideSchemaSelection[b.Labels[0]] == "" {
			t.Errorf("the schema file lacks resource type %s", b.Labels[0])
		}
	}
	for _, b := range c.data {
		if _, ok := s.Data[b.Labels[0]]; !ok {
			t.Errorf("the schema file lacks data source %s", b.Labels[0])
		}
	}
	for _, typ := range []string{"google_monitoring_alert_policy", "google_monitoring_dashboard", "google_logging_metric", "google_project_service"} {
		if !used[typ] {
			t.Errorf("the module declares no %s: the schema checks would not cover it", typ)
		}
	}
}

// outsideSchemaSelection lists the resource types the module uses that the schema file's
// selection (its _meta.selection) does not hold, with why each is there. The schema check cannot
// see their attributes: regenerate the file with them (terraform providers schema -json with the
// provider built, DEVELOPERS.md) and empty this list. Only what is here is exempt.
var outsideSchemaSelection = map[string]string{
	"google_cloud_scheduler_job": "the optional redeliver job's schedule (redeliver.tf); the file was generated before it",
}

// Every exemption is in use: an exemption nothing needs would hide a typo in a later type.
func TestOutsideSchemaSelectionIsUsed(t *testing.T) {
	s, err := googleSchema()
	if err != nil {
		t.Fatal(err)
	}
	c := loadModule(t, readTF(t, moduleDir))
	for typ, why := range outsideSchemaSelection {
		if _, ok := s.Resources[typ]; ok {
			t.Errorf("%s is in the schema file now: remove it from outsideSchemaSelection", typ)
		}
		if len(c.ofType(typ)) == 0 {
			t.Errorf("outsideSchemaSelection exempts %s (%s), which the module no longer uses", typ, why)
		}
		t.Logf("not checked against the provider schema: %s (%s)", typ, why)
	}
}

func TestModuleSchema(t *testing.T) {
	for _, p := range checkSchema(loadModule(t, readTF(t, moduleDir)), "module") {
		t.Error(p)
	}
}

func TestExampleSchema(t *testing.T) {
	for _, p := range checkSchema(loadModule(t, readTF(t, exampleDir)), "example") {
		t.Error(p)
	}
}

// Broken copies of the module must fail the schema check.
func TestSchemaCheckCatchesMistakes(t *testing.T) {
	orig := readTF(t, moduleDir)
	cases := []struct{ name, file, old, new, problem string }{
		// The webhook ingress and the redeliver job, against the same schema.
		{"ingress secret as a plain attribute", "ingress.tf",
			"          secret_key_ref {\n            secret  = var.webhook_ingress.secret\n", "          secret_key_ref {\n            secret_value = var.webhook_ingress.secret\n",
			"unknown attribute secret_value"},
		{"ingress scaling misspelt", "ingress.tf",
			"      max_instance_count = var.webhook_ingress.max_instances", "      max_instances = var.webhook_ingress.max_instances",
			"unknown attribute max_instances"},
		{"job's container at the wrong level", "redeliver.tf",
			"  template {\n    task_count = 1\n", "  template {\n    task_count = 1\n    service_account = \"x\"\n",
			"unknown attribute service_account"},
		{"job's args as a string", "redeliver.tf",
			`args  = ["redeliver", "-since", var.redeliver.since]`, `arguments = ["redeliver"]`,
			"unknown attribute arguments"},
		{"job invoker without its job", "redeliver.tf",
			"  name     = google_cloud_run_v2_job.redeliver[0].name\n", "",
			"required attribute name is not set"},
		{"misspelt ordering", "pubsub.tf",
			"enable_message_ordering = true", "enable_message_order = true",
			"unknown attribute enable_message_order"},
		{"ordering as a string", "pubsub.tf",
			"enable_message_ordering = true", `enable_message_ordering = "yes"`,
			"enable_message_ordering = cty.StringVal(\"yes\") is not a bool"},
		{"a block as an attribute", "pubsub.tf",
			"  expiration_policy {\n    ttl = \"\"\n  }\n}\n\n# The reconcile topic", "  expiration_policy = {\n    ttl = \"\"\n  }\n}\n\n# The reconcile topic",
			"expiration_policy is a block, not an attribute"},
		{"required attribute missing", "iam.tf",
			"  topic   = google_pubsub_topic.reconcile.id\n  role    = \"roles/pubsub.publisher\"\n  member  = google_service_account.worker.member\n",
			"  role    = \"roles/pubsub.publisher\"\n  member  = google_service_account.worker.member\n",
			"worker_publishes_reconcile: required attribute topic is not set"},
		{"computed attribute set", "pubsub.tf",
			"  name    = \"${var.name}-reconcile\"\n  labels  = var.labels\n",
			"  name    = \"${var.name}-reconcile\"\n  labels  = var.labels\n  effective_labels = {}\n",
			"attribute effective_labels is computed only"},
		{"unknown exported attribute", "run.tf",
			"value = google_pubsub_topic.reconcile.id", "value = google_pubsub_topic.reconcile.topic_id",
			"google_pubsub_topic.reconcile.topic_id: the schema has no attribute topic_id"},
		{"unknown nested block", "run.tf",
			"      startup_probe {", "      startup_probes {",
			"unknown block startup_probes"},
		{"two push configs", "pubsub.tf",
			"  push_config {\n    # The wrapped push envelope, reconciled directly.",
			"  push_config {\n    push_endpoint = \"https://example.com\"\n  }\n\n  push_config {\n    # The wrapped push envelope, reconciled directly.",
			"block push_config may appear at most 1 times"},
		{"undeclared resource", "iam.tf",
			"subscription = google_pubsub_subscription.reconcile.id", "subscription = google_pubsub_subscription.ordered.id",
			"google_pubsub_subscription.ordered.id refers to an undeclared resource"},
		{"dynamic block of an unknown type", "run.tf",
			`dynamic "env" {`, `dynamic "envs" {`,
			"containers: unknown block envs"},
		{"dynamic content with an unknown attribute", "run.tf",
			"          value = env.value\n", "          val   = env.value\n",
			"containers.env: unknown attribute val"},
		{"dynamic content without a required attribute", "run.tf",
			"          name  = env.key\n", "",
			"containers.env: required attribute name is not set"},
		{"dynamic content a block of the schema's attribute", "run.tf",
			"          value = env.value\n", "          value_source {\n            secret = env.value\n          }\n",
			"containers.env.value_source: unknown attribute secret"},
		{"dynamic without content", "run.tf",
			"        content {\n          name  = env.key", "        contents {\n          name  = env.key",
			`dynamic "env" has no content block`},
		{"dynamic for_each misspelt", "run.tf",
			"for_each = var.reconciler_env", "foreach = var.reconciler_env",
			`dynamic "env": unknown argument foreach`},
		{"misspelt alert threshold", "monitoring.tf",
			"      threshold_value = var.alert_backlog_messages\n", "      threshold       = var.alert_backlog_messages\n",
			"google_monitoring_alert_policy.backlog.conditions.condition_threshold: unknown attribute threshold"},
		{"alert without a combiner", "monitoring.tf",
			"  display_name          = \"${var.name}: subscription backlog\"\n  combiner              = \"OR\"\n",
			"  display_name          = \"${var.name}: subscription backlog\"\n",
			"google_monitoring_alert_policy.backlog: required attribute combiner is not set"},
		{"alert without conditions", "monitoring.tf",
			"  conditions {\n    display_name = \"failure outcomes > 0\"", "  condition {\n    display_name = \"failure outcomes > 0\"",
			"google_monitoring_alert_policy.failures: unknown block condition"},
		{"aggregations as an attribute", "monitoring.tf",
			"      aggregations {\n        alignment_period   = \"300s\"\n        per_series_aligner = \"ALIGN_MAX\"\n      }",
			"      aggregations = {\n        alignment_period   = \"300s\"\n        per_series_aligner = \"ALIGN_MAX\"\n      }",
			"condition_threshold: aggregations is a block, not an attribute"},
		{"two documentation blocks", "monitoring.tf",
			"  documentation {\n    mime_type = \"text/markdown\"\n    subject   = \"${var.name}: messages in the dead-letter topic\"",
			"  documentation {\n    content = \"x\"\n  }\n\n  documentation {\n    mime_type = \"text/markdown\"\n    subject   = \"${var.name}: messages in the dead-letter topic\"",
			"google_monitoring_alert_policy.dead_letters: block documentation may appear at most 1 times"},
		{"log metric without a filter", "monitoring.tf",
			"  filter          = each.value.field == null ? each.value.filter : \"${local.reconcile_records} AND jsonPayload.${each.value.field}:*\"\n", "",
			"google_logging_metric.log: required attribute filter is not set"},
		{"log metric descriptor misspelt", "monitoring.tf",
			"    metric_kind  = \"DELTA\"\n", "    metric_type  = \"DELTA\"\n",
			"google_logging_metric.log.metric_descriptor: unknown attribute metric_type"},
		{"log metric buckets of a number", "monitoring.tf",
			"          bounds = explicit_buckets.value\n", "          bounds = \"many\"\n",
			"bounds = cty.StringVal(\"many\") is not a list of number"},
		{"dashboard without its JSON", "monitoring.tf",
			"  dashboard_json = jsonencode({", "  dashboard = jsonencode({",
			"google_monitoring_dashboard.worker: unknown attribute dashboard"},
		{"dashboard's computed id set", "monitoring.tf",
			"resource \"google_monitoring_dashboard\" \"worker\" {\n  project = var.project_id\n",
			"resource \"google_monitoring_dashboard\" \"worker\" {\n  project = var.project_id\n  name    = \"x\"\n",
			"google_monitoring_dashboard.worker: unknown attribute name"},
		{"alert policy's computed name set", "monitoring.tf",
			"  display_name          = \"${var.name}: GitHub rate limit nearly spent\"\n",
			"  display_name          = \"${var.name}: GitHub rate limit nearly spent\"\n  name                  = \"x\"\n",
			"google_monitoring_alert_policy.github_budget: attribute name is computed only"},
		{"unknown resource type", "monitoring.tf",
			`resource "google_monitoring_dashboard" "worker" {`, `resource "google_monitoring_dashboards" "worker" {`,
			"resource google_monitoring_dashboards.worker: no such type"},
		{"project service without its service", "main.tf",
			"  service            = each.value\n", "",
			"google_project_service.apis: required attribute service is not set"},
		{"data source misspelt attribute", "main.tf",
			"  project_id = var.project_id\n\n  depends_on", "  project_ids = var.project_id\n\n  depends_on",
			"data.google_project.this: unknown attribute project_ids"},
		{"output of an unknown attribute", "outputs.tf",
			"basename(google_monitoring_dashboard.worker.id)", "basename(google_monitoring_dashboard.worker.dashboard_id)",
			"google_monitoring_dashboard.worker.dashboard_id: the schema has no attribute dashboard_id"},
		{"stale moved block", "pubsub.tf",
			"  to   = google_pubsub_subscription.intake\n", "  to   = google_pubsub_subscription.relay\n",
			"moved to google_pubsub_subscription.relay, which is not declared"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srcs := map[string][]byte{}
			for k, v := range orig {
				srcs[k] = v
			}
			src := string(srcs[tc.file])
			if strings.Count(src, tc.old) != 1 {
				t.Fatalf("the mutation no longer applies: %q occurs %d times in %s", tc.old, strings.Count(src, tc.old), tc.file)
			}
			srcs[tc.file] = []byte(strings.Replace(src, tc.old, tc.new, 1))
			problems := checkSchema(loadModule(t, srcs), "module")
			for _, p := range problems {
				if strings.Contains(p, tc.problem) {
					return
				}
			}
			t.Errorf("mutation not caught; want a problem containing %q, got:\n%s", tc.problem, strings.Join(problems, "\n"))
		})
	}
}
