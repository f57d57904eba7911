package terraform_test

// Offline checks of the Terraform module and its example: the files are parsed with HCL's
// native syntax parser and their blocks, attributes and references are inspected. No provider
// schema is needed (none can be downloaded here), so these tests check what a mistake in
// wiring would break, not what `terraform validate` checks.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/prreconciler/prreconciler/config"
)

const (
	moduleDir  = "."
	exampleDir = "examples/github-checks"
)

// tfConfig is one directory of .tf files, indexed by block kind.
type tfConfig struct {
	bodies    []*hclsyntax.Body
	resources map[string]*hclsyntax.Block // "type.name"
	data      map[string]*hclsyntax.Block // "type.name"
	variables map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	modules   map[string]*hclsyntax.Block
	providers map[string]*hclsyntax.Block
	terraform []*hclsyntax.Block
}

func readTF(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("no .tf files in %s", dir)
	}
	srcs := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		srcs[filepath.Base(n)] = b
	}
	return srcs
}

func parseTF(srcs map[string][]byte) (*tfConfig, error) {
	c := &tfConfig{
		resources: map[string]*hclsyntax.Block{},
		data:      map[string]*hclsyntax.Block{},
		variables: map[string]*hclsyntax.Block{},
		outputs:   map[string]*hclsyntax.Block{},
		locals:    map[string]*hclsyntax.Attribute{},
		modules:   map[string]*hclsyntax.Block{},
		providers: map[string]*hclsyntax.Block{},
	}
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, diags := hclsyntax.ParseConfig(srcs[n], n, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, diags
		}
		body := f.Body.(*hclsyntax.Body)
		c.bodies = append(c.bodies, body)
		for _, b := range body.Blocks {
			dup := func(m map[string]*hclsyntax.Block, k string) error {
				if _, ok := m[k]; ok {
					return fmt.Errorf("%s: %s %q declared twice", n, b.Type, k)
				}
				m[k] = b
				return nil
			}
			var err error
			switch b.Type {
			case "resource":
				err = dup(c.resources, b.Labels[0]+"."+b.Labels[1])
			case "data":
				err = dup(c.data, b.Labels[0]+"."+b.Labels[1])
			case "variable":
				err = dup(c.variables, b.Labels[0])
			case "output":
				err = dup(c.outputs, b.Labels[0])
			case "module":
				err = dup(c.modules, b.Labels[0])
			case "provider":
				err = dup(c.providers, b.Labels[0])
			case "terraform":
				c.terraform = append(c.terraform, b)
			case "locals":
				for k, a := range b.Body.Attributes {
					c.locals[k] = a
				}
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// ofType returns the resources of one type, by name.
func (c *tfConfig) ofType(typ string) map[string]*hclsyntax.Block {
	out := map[string]*hclsyntax.Block{}
	for k, b := range c.resources {
		if b.Labels[0] == typ {
			out[strings.TrimPrefix(k, typ+".")] = b
		}
	}
	return out
}

func child(b *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, c := range b.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

// one returns the only nested block of a type, or nil.
func one(b *hclsyntax.Body, typ string) *hclsyntax.Block {
	bs := child(b, typ)
	if len(bs) != 1 {
		return nil
	}
	return bs[0]
}

// path follows single nested blocks, e.g. path(body, "template", "containers").
func path(b *hclsyntax.Body, types ...string) *hclsyntax.Block {
	var cur *hclsyntax.Block
	for _, t := range types {
		cur = one(b, t)
		if cur == nil {
			return nil
		}
		b = cur.Body
	}
	return cur
}

// travString renders a traversal's names, ignoring index steps:
// google_pubsub_subscription.push[each.key].id -> google_pubsub_subscription.push.id.
func travString(tr hcl.Traversal) string {
	var parts []string
	for _, s := range tr {
		switch s := s.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, s.Name)
		case hcl.TraverseAttr:
			parts = append(parts, s.Name)
		}
	}
	return strings.Join(parts, ".")
}

func refs(e hclsyntax.Expression) []string {
	var out []string
	for _, tr := range e.Variables() {
		out = append(out, travString(tr))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func attrRefs(b *hclsyntax.Body, name string) []string {
	a, ok := b.Attributes[name]
	if !ok {
		return nil
	}
	return refs(a.Expr)
}

// refersTo reports whether the attribute references exactly target (a dotted name) or
// something below it.
func refersTo(b *hclsyntax.Body, name, target string) bool {
	for _, r := range attrRefs(b, name) {
		if r == target || strings.HasPrefix(r, target+".") {
			return true
		}
	}
	return false
}

// literal returns the value of an attribute without references.
func literal(b *hclsyntax.Body, name string) (cty.Value, bool) {
	a, ok := b.Attributes[name]
	if !ok || len(a.Expr.Variables()) > 0 {
		return cty.NilVal, false
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}

func literalString(b *hclsyntax.Body, name string) (string, bool) {
	v, ok := literal(b, name)
	if !ok || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// varRefs returns the input variables an attribute uses.
func varRefs(b *hclsyntax.Body, name string) []string {
	var out []string
	for _, r := range attrRefs(b, name) {
		if v, ok := strings.CutPrefix(r, "var."); ok {
			out = append(out, strings.SplitN(v, ".", 2)[0])
		}
	}
	return out
}

// functions is the subset of Terraform's functions the variables' validations use, so they
// can be evaluated here.
var functions = map[string]function.Function{
	"alltrue":    allTrueFunc,
	"can":        tryfunc.CanFunc,
	"contains":   stdlib.ContainsFunc,
	"floor":      stdlib.FloorFunc,
	"keys":       stdlib.KeysFunc,
	"length":     lengthFunc,
	"regex":      stdlib.RegexFunc,
	"tonumber":   stdlib.MakeToFunc(cty.Number),
	"tostring":   stdlib.MakeToFunc(cty.String),
	"trimspace":  stdlib.TrimSpaceFunc,
	"trimsuffix": stdlib.TrimSuffixFunc,
	"try":        tryfunc.TryFunc,
	"values":     stdlib.ValuesFunc,
}

// allTrueFunc is Terraform's alltrue, which cty's stdlib lacks.
var allTrueFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		for it := args[0].ElementIterator(); it.Next(); {
			_, v := it.Element()
			if !v.IsKnown() {
				return cty.UnknownVal(cty.Bool), nil
			}
			if v.IsNull() || v.False() {
				return cty.False, nil
			}
		}
		return cty.True, nil
	},
})

// lengthFunc is Terraform's length: of a string (in characters) or of a collection.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].Type() == cty.String {
			return stdlib.Strlen(args[0])
		}
		return stdlib.Length(args[0])
	},
})

// accepts evaluates every validation of a variable for one value.
func (c *tfConfig) accepts(name string, v cty.Value) (bool, error) {
	vb := c.variables[name]
	if vb == nil {
		return false, fmt.Errorf("no variable %q", name)
	}
	if te, ok := vb.Body.Attributes["type"]; ok {
		ty, diags := typeexpr.TypeConstraint(te.Expr)
		if diags.HasErrors() {
			return false, fmt.Errorf("variable %q: type: %s", name, diags.Error())
		}
		cv, err := convert.Convert(v, ty)
		if err != nil {
			return false, fmt.Errorf("variable %q: %#v is not a %s: %v", name, v, ty.FriendlyName(), err)
		}
		v = cv
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{name: v})},
		Functions: functions,
	}
	for _, val := range child(vb.Body, "validation") {
		a, ok := val.Body.Attributes["condition"]
		if !ok {
			return false, fmt.Errorf("variable %q: validation without condition", name)
		}
		res, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			return false, fmt.Errorf("variable %q: %s", name, diags.Error())
		}
		if res.False() {
			return false, nil
		}
	}
	return true, nil
}

// defaults evaluates the variables' defaults (those that have one).
func (c *tfConfig) defaults() map[string]cty.Value {
	out := map[string]cty.Value{}
	for n, vb := range c.variables {
		if v, ok := literal(vb.Body, "default"); ok {
			out[n] = v
		}
	}
	return out
}

// checkVariables: every variable has a description and a type and is used outside its own
// declaration; every var.X used is declared; every output is described.
func checkVariables(c *tfConfig, where string) []string {
	var problems []string
	used := map[string]bool{}
	for _, body := range c.bodies {
		for _, b := range body.Blocks {
			if b.Type == "variable" {
				continue
			}
			hclsyntax.VisitAll(b.Body, func(n hclsyntax.Node) hcl.Diagnostics {
				if a, ok := n.(*hclsyntax.Attribute); ok {
					for _, r := range refs(a.Expr) {
						if v, ok := strings.CutPrefix(r, "var."); ok {
							used[strings.SplitN(v, ".", 2)[0]] = true
						}
					}
				}
				return nil
			})
		}
	}
	for n, vb := range c.variables {
		if d, ok := literalString(vb.Body, "description"); !ok || strings.TrimSpace(d) == "" {
			problems = append(problems, fmt.Sprintf("%s: variable %q has no description", where, n))
		}
		if _, ok := vb.Body.Attributes["type"]; !ok {
			problems = append(problems, fmt.Sprintf("%s: variable %q has no type", where, n))
		}
		if !used[n] {
			problems = append(problems, fmt.Sprintf("%s: variable %q is declared but unused", where, n))
		}
	}
	for n := range used {
		if c.variables[n] == nil {
			problems = append(problems, fmt.Sprintf("%s: var.%s is used but not declared", where, n))
		}
	}
	for n, ob := range c.outputs {
		if d, ok := literalString(ob.Body, "description"); !ok || strings.TrimSpace(d) == "" {
			problems = append(problems, fmt.Sprintf("%s: output %q has no description", where, n))
		}
	}
	return problems
}

// checkModule returns every problem found in the module's configuration; none when it is
// wired as the worker needs.
func checkModule(c *tfConfig) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	problems = append(problems, checkVariables(c, "module")...)

	// Versions: a Terraform floor and a bounded google provider.
	versioned := false
	for _, tb := range c.terraform {
		if _, ok := tb.Body.Attributes["required_version"]; ok {
			versioned = true
		}
		if rp := one(tb.Body, "required_providers"); rp != nil {
			g, ok := rp.Body.Attributes["google"]
			if !ok {
				bad("required_providers does not pin google")
				continue
			}
			v, diags := g.Expr.Value(nil)
			if diags.HasErrors() || !v.Type().IsObjectType() || !v.Type().HasAttribute("version") || !strings.Contains(v.GetAttr("version").AsString(), "<") && !strings.Contains(v.GetAttr("version").AsString(), "~>") {
				bad("required_providers.google must have an upper-bounded version")
			}
		}
	}
	if !versioned {
		bad("terraform.required_version is not set")
	}

	// Nobody public, anywhere.
	for _, body := range c.bodies {
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			if l, ok := n.(*hclsyntax.LiteralValueExpr); ok && l.Val.Type() == cty.String {
				s := l.Val.AsString()
				if strings.Contains(s, "allUsers") || strings.Contains(s, "allAuthenticatedUsers") {
					bad("%s: public principal %q", l.SrcRange, s)
				}
			}
			return nil
		})
	}

	// Service accounts.
	sas := c.ofType("google_service_account")

	// The Cloud Run service.
	services := c.ofType("google_cloud_run_v2_service")
	if len(services) != 1 {
		bad("want exactly one google_cloud_run_v2_service, have %d", len(services))
		return problems
	}
	var svcName string
	var svc *hclsyntax.Block
	for n, b := range services {
		svcName, svc = n, b
	}
	svcRef := "google_cloud_run_v2_service." + svcName
	if v, ok := literal(svc.Body, "invoker_iam_disabled"); ok && v.True() {
		bad("%s: invoker_iam_disabled makes the service public", svcRef)
	}
	if _, ok := svc.Body.Attributes["deletion_protection"]; !ok {
		bad("%s: deletion_protection is not set (it defaults to true; make it configurable)", svcRef)
	}
	tmpl := one(svc.Body, "template")
	if tmpl == nil {
		bad("%s: no template", svcRef)
		return problems
	}
	if s, ok := literalString(tmpl.Body, "timeout"); !ok || s != "600s" {
		bad("%s: template.timeout must be \"600s\" (the push request timeout is the 600 s ack deadline)", svcRef)
	}
	workerSA := ""
	for n := range sas {
		if refersTo(tmpl.Body, "service_account", "google_service_account."+n) {
			workerSA = n
		}
	}
	if workerSA == "" {
		bad("%s: template.service_account is not one of the module's service accounts", svcRef)
	}
	containers := child(tmpl.Body, "containers")
	if len(containers) != 1 {
		bad("%s: want one container, have %d", svcRef, len(containers))
		return problems
	}
	container := containers[0].Body
	if _, ok := container.Attributes["image"]; !ok {
		bad("%s: container has no image", svcRef)
	}

	known := map[string]config.Variable{}
	for _, v := range config.Variables() {
		known[v.Name] = v
	}
	env := map[string]*hclsyntax.Block{}
	for _, e := range child(container, "env") {
		name, ok := literalString(e.Body, "name")
		if !ok {
			bad("%s: an env block has no literal name", svcRef)
			continue
		}
		if env[name] != nil {
			bad("%s: env %s is set twice", svcRef, name)
		}
		env[name] = e
		if _, ok := known[name]; !ok {
			bad("%s: env %s is not a variable the worker reads (config.Variables)", svcRef, name)
		}
	}
	if len(child(container, "dynamic")) > 0 {
		bad("%s: dynamic blocks in the container hide env names from this check", svcRef)
	}
	want := []string{"GITHUB_APP_PRIVATE_KEY", "GOOGLE_CLOUD_PROJECT", "MAX_DELIVERY_ATTEMPTS", "MAX_IN_FLIGHT",
		"RECONCILE_TIMEOUT", "GITHUB_API_URL", "RELAY_TYPE_PREFIX", "LOG_LEVEL"}
	for _, v := range config.Variables() {
		if v.Required {
			want = append(want, v.Name)
		}
	}
	for _, name := range want {
		if env[name] == nil {
			bad("%s: env %s is not set", svcRef, name)
		}
	}
	if env["PORT"] != nil {
		bad("%s: env PORT is reserved by Cloud Run and must not be set", svcRef)
	}
	for _, name := range []string{"PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT"} {
		if env[name] != nil {
			bad("%s: env %s makes the worker verify push tokens whose signature Cloud Run strips", svcRef, name)
		}
	}
	var secretExpr []string
	if e := env["GITHUB_APP_PRIVATE_KEY"]; e != nil {
		if _, ok := e.Body.Attributes["value"]; ok {
			bad("%s: GITHUB_APP_PRIVATE_KEY must come from Secret Manager, not value", svcRef)
		}
		ref := path(e.Body, "value_source", "secret_key_ref")
		if ref == nil {
			bad("%s: GITHUB_APP_PRIVATE_KEY has no value_source.secret_key_ref", svcRef)
		} else {
			if _, ok := ref.Body.Attributes["version"]; !ok {
				bad("%s: GITHUB_APP_PRIVATE_KEY secret_key_ref has no version", svcRef)
			}
			secretExpr = attrRefs(ref.Body, "secret")
			if len(secretExpr) == 0 {
				bad("%s: GITHUB_APP_PRIVATE_KEY secret_key_ref.secret must reference the configured secret", svcRef)
			}
		}
	}
	for name, e := range env {
		if name == "GITHUB_APP_PRIVATE_KEY" {
			continue
		}
		if _, ok := e.Body.Attributes["value"]; !ok {
			bad("%s: env %s has no value", svcRef, name)
		}
	}

	// MAX_IN_FLIGHT is the per-instance concurrency.
	if e := env["MAX_IN_FLIGHT"]; e != nil {
		got, conc := varRefs(e.Body, "value"), varRefs(tmpl.Body, "max_instance_request_concurrency")
		if len(conc) != 1 || !slices.Equal(got, conc) {
			bad("%s: MAX_IN_FLIGHT (%v) and max_instance_request_concurrency (%v) must come from the same variable", svcRef, got, conc)
		}
	}

	// RECONCILE_TIMEOUT is below the request timeout, by default and by validation.
	if e := env["RECONCILE_TIMEOUT"]; e != nil {
		vars := varRefs(e.Body, "value")
		if len(vars) != 1 {
			bad("%s: RECONCILE_TIMEOUT must come from one variable, has %v", svcRef, vars)
		} else {
			ctx := &hcl.EvalContext{
				Variables: map[string]cty.Value{"var": cty.ObjectVal(c.defaults())},
				Functions: functions,
			}
			v, diags := e.Body.Attributes["value"].Expr.Value(ctx)
			if diags.HasErrors() || v.Type() != cty.String {
				bad("%s: RECONCILE_TIMEOUT does not evaluate with the defaults: %v", svcRef, diags)
			} else if d, err := time.ParseDuration(v.AsString()); err != nil || d <= 0 || d >= 600*time.Second {
				bad("%s: default RECONCILE_TIMEOUT %q must be a Go duration below 600s", svcRef, v.AsString())
			}
			if vb := c.variables[vars[0]]; vb != nil && len(child(vb.Body, "validation")) == 0 {
				bad("variable %q (RECONCILE_TIMEOUT) has no validation", vars[0])
			}
		}
	}

	// Invokers: only the push account, only through a member binding.
	pushSAFromInvoker := map[string]bool{}
	for key, b := range c.resources {
		role, _ := literalString(b.Body, "role")
		if role != "roles/run.invoker" {
			if strings.Contains(b.Labels[0], "cloud_run") && (strings.HasSuffix(b.Labels[0], "_iam_binding") || strings.HasSuffix(b.Labels[0], "_iam_policy")) {
				bad("%s: authoritative IAM on the service; use _iam_member", key)
			}
			continue
		}
		if b.Labels[0] != "google_cloud_run_v2_service_iam_member" || !refersTo(b.Body, "name", svcRef) {
			bad("%s: roles/run.invoker must be granted on %s with google_cloud_run_v2_service_iam_member", key, svcRef)
		}
		for n := range sas {
			if refersTo(b.Body, "member", "google_service_account."+n) {
				pushSAFromInvoker[n] = true
			}
		}
		if len(pushSAFromInvoker) == 0 {
			bad("%s: roles/run.invoker must go to a service account of the module", key)
		}
	}
	if len(pushSAFromInvoker) != 1 {
		bad("want roles/run.invoker for exactly one service account (the push account), have %d", len(pushSAFromInvoker))
	}

	// Pub/Sub service agent.
	agent := ""
	for n, a := range c.locals {
		for _, l := range templateLiterals(a.Expr) {
			if strings.Contains(l, "@gcp-sa-pubsub.iam.gserviceaccount.com") {
				agent = "local." + n
				hasNumber := false
				for _, r := range refs(a.Expr) {
					if strings.HasPrefix(r, "data.google_project.") && strings.HasSuffix(r, ".number") {
						hasNumber = true
					}
				}
				if !hasNumber {
					bad("%s: the Pub/Sub service agent must be built from data.google_project's number", agent)
				}
			}
		}
	}
	if agent == "" {
		bad("no local names the Pub/Sub service agent (service-N@gcp-sa-pubsub.iam.gserviceaccount.com)")
	}

	// Subscriptions: push ones deliver to the service; the rest must be the dead-letter hold.
	subs := c.ofType("google_pubsub_subscription")
	push := map[string]*hclsyntax.Block{}
	for n, b := range subs {
		if one(b.Body, "push_config") != nil {
			push[n] = b
		}
	}
	if len(push) == 0 {
		bad("no push subscription")
	}
	deadLetterTopics := map[string]bool{}
	var mdaVars []string
	for n, b := range push {
		ref := "google_pubsub_subscription." + n
		if v, ok := literal(b.Body, "ack_deadline_seconds"); !ok || !v.Type().Equals(cty.Number) || !v.RawEquals(cty.NumberIntVal(600)) {
			bad("%s: ack_deadline_seconds must be 600", ref)
		}
		if eps := child(b.Body, "expiration_policy"); len(eps) != 1 {
			bad("%s: want one expiration_policy, have %d (the default expires an idle subscription after 31 days)", ref, len(eps))
		} else if s, ok := literalString(eps[0].Body, "ttl"); !ok || s != "" {
			bad("%s: expiration_policy.ttl must be \"\" (never expire)", ref)
		}
		if rp := one(b.Body, "retry_policy"); rp == nil {
			bad("%s: no retry_policy", ref)
		} else {
			for _, a := range []string{"minimum_backoff", "maximum_backoff"} {
				if _, ok := rp.Body.Attributes[a]; !ok {
					bad("%s: retry_policy.%s not set", ref, a)
				}
			}
		}
		if dl := one(b.Body, "dead_letter_policy"); dl == nil {
			bad("%s: no dead_letter_policy", ref)
		} else {
			found := false
			for _, r := range attrRefs(dl.Body, "dead_letter_topic") {
				if strings.HasPrefix(r, "google_pubsub_topic.") && strings.HasSuffix(r, ".id") {
					deadLetterTopics[strings.TrimSuffix(r, ".id")] = true
					found = true
				}
			}
			if !found {
				bad("%s: dead_letter_policy.dead_letter_topic must be a google_pubsub_topic's id", ref)
			}
			mda := varRefs(dl.Body, "max_delivery_attempts")
			if len(mda) != 1 {
				bad("%s: dead_letter_policy.max_delivery_attempts must come from one variable", ref)
			}
			mdaVars = append(mdaVars, mda...)
		}
		pc := one(b.Body, "push_config")
		if !refersTo(pc.Body, "push_endpoint", svcRef+".uri") {
			bad("%s: push_config.push_endpoint must be built from %s.uri", ref, svcRef)
		}
		oidc := one(pc.Body, "oidc_token")
		if oidc == nil {
			bad("%s: push_config has no oidc_token", ref)
			continue
		}
		if !refersTo(oidc.Body, "audience", svcRef+".uri") {
			bad("%s: oidc_token.audience must be %s.uri", ref, svcRef)
		}
		pushSA := ""
		for sa := range sas {
			if refersTo(oidc.Body, "service_account_email", "google_service_account."+sa+".email") {
				pushSA = sa
			}
		}
		if pushSA == "" || !pushSAFromInvoker[pushSA] {
			bad("%s: oidc_token.service_account_email must be the service account holding roles/run.invoker", ref)
		}
		if pushSA != "" && pushSA == workerSA {
			bad("%s: the push account must not be the worker's account", ref)
		}
	}
	if len(deadLetterTopics) != 1 {
		bad("push subscriptions must share one dead-letter topic, have %d", len(deadLetterTopics))
	}
	var dlTopic string
	for t := range deadLetterTopics {
		dlTopic = t
	}

	// MAX_DELIVERY_ATTEMPTS and the dead-letter policy agree, and the variable enforces 5..100.
	mdaVars = slices.Compact(mdaVars)
	if e := env["MAX_DELIVERY_ATTEMPTS"]; e != nil {
		got := varRefs(e.Body, "value")
		if len(mdaVars) != 1 || !slices.Equal(got, mdaVars) {
			bad("%s: MAX_DELIVERY_ATTEMPTS (%v) and dead_letter_policy.max_delivery_attempts (%v) must come from the same variable", svcRef, got, mdaVars)
		}
	}
	if len(mdaVars) == 1 && c.variables[mdaVars[0]] != nil {
		for n, want := range map[int64]bool{4: false, 5: true, 100: true, 101: false} {
			ok, err := c.accepts(mdaVars[0], cty.NumberIntVal(n))
			if err != nil {
				bad("%v", err)
			} else if ok != want {
				bad("variable %q: max_delivery_attempts %d accepted=%v, want %v (Pub/Sub allows 5..100)", mdaVars[0], n, ok, want)
			}
		}
	}

	// The dead-letter topic has a pull subscription that keeps its messages.
	if dlTopic != "" {
		hold := false
		for n, b := range subs {
			if !refersTo(b.Body, "topic", dlTopic) {
				continue
			}
			ref := "google_pubsub_subscription." + n
			if one(b.Body, "push_config") != nil {
				bad("%s: the dead-letter subscription must be a pull subscription", ref)
			}
			if ep := one(b.Body, "expiration_policy"); ep == nil {
				bad("%s: no expiration_policy (dead letters must not vanish with an idle subscription)", ref)
			} else if s, ok := literalString(ep.Body, "ttl"); !ok || s != "" {
				bad("%s: expiration_policy.ttl must be \"\"", ref)
			}
			if _, ok := b.Body.Attributes["message_retention_duration"]; !ok {
				bad("%s: message_retention_duration not set (the default is 7 days)", ref)
			}
			hold = true
		}
		if !hold {
			bad("no subscription on the dead-letter topic %s: dead-lettered messages would be lost", dlTopic)
		}
	}

	// The Pub/Sub service agent publishes to the dead-letter topic and subscribes to every
	// push subscription.
	if agent != "" && dlTopic != "" {
		published := false
		for _, b := range c.ofType("google_pubsub_topic_iam_member") {
			role, _ := literalString(b.Body, "role")
			if role == "roles/pubsub.publisher" && refersTo(b.Body, "topic", dlTopic) && refersTo(b.Body, "member", agent) {
				published = true
			}
		}
		if !published {
			bad("the Pub/Sub service agent lacks roles/pubsub.publisher on %s", dlTopic)
		}
		for n := range push {
			subscribed := false
			for _, b := range c.ofType("google_pubsub_subscription_iam_member") {
				role, _ := literalString(b.Body, "role")
				if role != "roles/pubsub.subscriber" || !refersTo(b.Body, "member", agent) {
					continue
				}
				target := "google_pubsub_subscription." + n
				if refersTo(b.Body, "subscription", target) || refersTo(b.Body, "for_each", target) && refersTo(b.Body, "subscription", "each.value") {
					subscribed = true
				}
			}
			if !subscribed {
				bad("the Pub/Sub service agent lacks roles/pubsub.subscriber on google_pubsub_subscription.%s", n)
			}
		}
	}

	// The worker reads the key's secret, and only the worker.
	accessors := 0
	for key, b := range c.ofType("google_secret_manager_secret_iam_member") {
		role, _ := literalString(b.Body, "role")
		if role != "roles/secretmanager.secretAccessor" {
			continue
		}
		accessors++
		if workerSA == "" || !refersTo(b.Body, "member", "google_service_account."+workerSA) {
			bad("google_secret_manager_secret_iam_member.%s: the secret accessor must be the worker's account", key)
		}
		if len(secretExpr) > 0 && !slices.Equal(attrRefs(b.Body, "secret_id"), secretExpr) {
			bad("google_secret_manager_secret_iam_member.%s: secret_id (%v) is not the secret the service reads (%v)", key, attrRefs(b.Body, "secret_id"), secretExpr)
		}
	}
	if accessors != 1 {
		bad("want one roles/secretmanager.secretAccessor grant (the worker on the key), have %d", accessors)
	}

	// No project-wide roles beyond writing logs.
	for key, b := range c.resources {
		if !strings.HasPrefix(b.Labels[0], "google_project_iam") {
			continue
		}
		role, _ := literalString(b.Body, "role")
		if b.Labels[0] != "google_project_iam_member" || role != "roles/logging.logWriter" {
			bad("%s: project-level IAM other than a roles/logging.logWriter member (%q)", key, role)
		}
	}
	return problems
}

// templateLiterals returns the literal strings of an expression (the fixed parts of a template).
func templateLiterals(e hclsyntax.Expression) []string {
	var out []string
	hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		if l, ok := n.(*hclsyntax.LiteralValueExpr); ok && l.Val.Type() == cty.String {
			out = append(out, l.Val.AsString())
		}
		return nil
	})
	return out
}

// checkExample: the example calls the module with every required input and only declared
// ones, configures the provider, and its tfvars example covers its required variables.
func checkExample(ex, mod *tfConfig, tfvars []byte) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	problems = append(problems, checkVariables(ex, "example")...)
	if ex.providers["google"] == nil {
		bad("example: no provider \"google\" block")
	}
	calls := 0
	for name, m := range ex.modules {
		src, _ := literalString(m.Body, "source")
		if src != "../.." {
			continue
		}
		calls++
		for arg := range m.Body.Attributes {
			switch arg {
			case "source", "version", "providers", "depends_on", "count", "for_each":
				continue
			}
			if mod.variables[arg] == nil {
				bad("example: module %q sets %q, which the module does not declare", name, arg)
			}
		}
		for v, vb := range mod.variables {
			if _, ok := vb.Body.Attributes["default"]; ok {
				continue
			}
			if _, ok := m.Body.Attributes[v]; !ok {
				bad("example: module %q does not set the required input %q", name, v)
			}
		}
		for out := range mod.outputs {
			found := false
			for _, ob := range ex.outputs {
				if refersTo(ob.Body, "value", "module."+name+"."+out) {
					found = true
				}
			}
			if !found {
				bad("example: module output %q is not passed on", out)
			}
		}
	}
	if calls != 1 {
		bad("example: want one module call with source \"../..\", have %d", calls)
	}
	f, diags := hclsyntax.ParseConfig(tfvars, "terraform.tfvars.example", hcl.InitialPos)
	if diags.HasErrors() {
		bad("example: terraform.tfvars.example: %s", diags.Error())
		return problems
	}
	attrs := f.Body.(*hclsyntax.Body).Attributes
	for n := range attrs {
		if ex.variables[n] == nil {
			bad("example: terraform.tfvars.example sets undeclared %q", n)
		}
	}
	for n, vb := range ex.variables {
		if _, ok := vb.Body.Attributes["default"]; ok {
			continue
		}
		if _, ok := attrs[n]; !ok {
			bad("example: terraform.tfvars.example does not set required %q", n)
		}
	}
	return problems
}

func loadModule(t *testing.T, srcs map[string][]byte) *tfConfig {
	t.Helper()
	c, err := parseTF(srcs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestModule(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	for _, p := range checkModule(c) {
		t.Error(p)
	}
}

func TestExample(t *testing.T) {
	mod := loadModule(t, readTF(t, moduleDir))
	ex := loadModule(t, readTF(t, exampleDir))
	tfvars, err := os.ReadFile(filepath.Join(exampleDir, "terraform.tfvars.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkExample(ex, mod, tfvars) {
		t.Error(p)
	}
	// The example's values pass the module's validations.
	f, diags := hclsyntax.ParseConfig(tfvars, "terraform.tfvars.example", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for n, a := range f.Body.(*hclsyntax.Body).Attributes {
		if mod.variables[n] == nil {
			continue
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Errorf("terraform.tfvars.example: %s: %s", n, diags.Error())
			continue
		}
		ok, err := mod.accepts(n, v)
		if err != nil {
			t.Error(err)
		} else if !ok {
			t.Errorf("terraform.tfvars.example: %s = %s fails the module's validation", n, a.Expr.Range())
		}
	}
}

// The module's validations encode the limits the worker and the platform have.
func TestModuleValidations(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	cases := []struct {
		variable string
		value    cty.Value
		ok       bool
	}{
		{"reconcile_timeout_seconds", cty.NumberIntVal(300), true},
		{"reconcile_timeout_seconds", cty.NumberIntVal(600), false},
		{"reconcile_timeout_seconds", cty.NumberIntVal(360), true},
		{"reconcile_timeout_seconds", cty.NumberIntVal(361), false},
		{"concurrency", cty.NumberIntVal(0), false},
		{"concurrency", cty.NumberIntVal(1001), false},
		{"identity", cty.StringVal("prreconciler"), true},
		{"identity", cty.StringVal("a<b"), false},
		{"identity", cty.StringVal(strings.Repeat("x", 101)), false},
		{"name", cty.StringVal("prreconciler"), true},
		{"name", cty.StringVal("this-name-is-far-too-long-for-an-account"), false},
		{"retry_maximum_backoff", cty.StringVal("600s"), true},
		{"retry_maximum_backoff", cty.StringVal("700s"), false},
		{"ingress", cty.StringVal("INGRESS_TRAFFIC_INTERNAL_ONLY"), true},
		{"ingress", cty.StringVal("internal"), false},
		{"github_app_private_key_secret", cty.StringVal("projects/p/secrets/github-app-key"), true},
		{"github_app_private_key_secret", cty.StringVal("projects/p/secrets/k/versions/1"), false},
		{"relay_topics", cty.MapVal(map[string]cty.Value{"github": cty.StringVal("projects/p/topics/github-webhooks")}), true},
		{"relay_topics", cty.MapValEmpty(cty.String), false},
		{"relay_topics", cty.MapVal(map[string]cty.Value{"Bad_Key": cty.StringVal("t-topic")}), false},
		{"log_level", cty.StringVal("warning"), false},
	}
	for _, tc := range cases {
		ok, err := c.accepts(tc.variable, tc.value)
		if err != nil {
			t.Errorf("%s: %v", tc.variable, err)
		} else if ok != tc.ok {
			t.Errorf("%s = %#v: accepted=%v, want %v", tc.variable, tc.value, ok, tc.ok)
		}
	}
}

// Mutated copies of the module must fail the checks, so the checks cannot pass vacuously.
func TestCheckModuleCatchesMistakes(t *testing.T) {
	orig := readTF(t, moduleDir)
	cases := []struct {
		name    string
		file    string
		old     string
		new     string
		problem string
	}{
		{"dead-letter policy removed", "pubsub.tf",
			"  dead_letter_policy {\n    dead_letter_topic     = google_pubsub_topic.dead_letter.id\n    max_delivery_attempts = var.max_delivery_attempts\n  }\n", "",
			"no dead_letter_policy"},
		{"unused variable", "variables.tf",
			`variable "labels" {`, "variable \"unused\" {\n  description = \"x\"\n  type        = string\n}\n\nvariable \"labels\" {",
			`variable "unused" is declared but unused`},
		{"undocumented variable", "variables.tf",
			`  description = "Labels put on the service, topic and subscriptions."`, "",
			`variable "labels" has no description`},
		{"typo in an env name", "run.tf",
			`name  = "IDENTITY"`, `name  = "IDENTTY"`,
			"env IDENTTY is not a variable the worker reads"},
		{"required env missing", "run.tf",
			`name  = "GITHUB_APP_ID"`, `name  = "GITHUB_API_URL"`,
			"env GITHUB_APP_ID is not set"},
		{"PORT set", "run.tf",
			`name  = "LOG_LEVEL"`, `name  = "PORT"`,
			"env PORT is reserved"},
		{"key as a plain value", "run.tf",
			"        name = \"GITHUB_APP_PRIVATE_KEY\"\n", "        name  = \"GITHUB_APP_PRIVATE_KEY\"\n        value = \"-----BEGIN PRIVATE KEY-----\"\n",
			"GITHUB_APP_PRIVATE_KEY must come from Secret Manager"},
		{"short ack deadline", "pubsub.tf",
			"ack_deadline_seconds = 600", "ack_deadline_seconds = 60",
			"ack_deadline_seconds must be 600"},
		{"subscription expires", "pubsub.tf",
			"  expiration_policy {\n    ttl = \"\"\n  }\n\n  retry_policy {", "  expiration_policy {\n    ttl = \"2678400s\"\n  }\n\n  retry_policy {",
			"expiration_policy.ttl must be"},
		{"no retry policy", "pubsub.tf",
			"  retry_policy {\n    minimum_backoff = var.retry_minimum_backoff\n    maximum_backoff = var.retry_maximum_backoff\n  }\n", "",
			"no retry_policy"},
		{"endpoint not the service", "pubsub.tf",
			"push_endpoint = google_cloud_run_v2_service.worker.uri", `push_endpoint = "https://example.com/"`,
			"push_endpoint must be built from"},
		{"audience not the service", "pubsub.tf",
			"audience              = google_cloud_run_v2_service.worker.uri", `audience              = "https://example.com"`,
			"oidc_token.audience must be"},
		{"delivery attempts disagree", "run.tf",
			"value = tostring(var.max_delivery_attempts)", `value = "5"`,
			"MAX_DELIVERY_ATTEMPTS ([]) and dead_letter_policy.max_delivery_attempts"},
		{"in-flight not the concurrency", "run.tf",
			"value = tostring(var.concurrency)", `value = "80"`,
			"MAX_IN_FLIGHT ([]) and max_instance_request_concurrency"},
		{"timeout too short", "run.tf",
			`timeout                          = "600s"`, `timeout                          = "300s"`,
			`template.timeout must be "600s"`},
		{"reconcile timeout above the request timeout", "variables.tf",
			"default     = 300\n", "default     = 900\n",
			"default RECONCILE_TIMEOUT \"900s\" must be a Go duration below 600s"},
		{"public service", "iam.tf",
			"member   = google_service_account.push.member", `member   = "allUsers"`,
			"public principal \"allUsers\""},
		{"worker may invoke", "iam.tf",
			"  member   = google_service_account.push.member\n}\n", "  member   = google_service_account.push.member\n}\n\nresource \"google_cloud_run_v2_service_iam_member\" \"worker_invokes\" {\n  project  = var.project_id\n  location = var.region\n  name     = google_cloud_run_v2_service.worker.name\n  role     = \"roles/run.invoker\"\n  member   = google_service_account.worker.member\n}\n",
			"roles/run.invoker for exactly one service account"},
		{"agent cannot publish dead letters", "iam.tf",
			`role    = "roles/pubsub.publisher"`, `role    = "roles/pubsub.viewer"`,
			"lacks roles/pubsub.publisher"},
		{"agent cannot ack the source", "iam.tf",
			`role         = "roles/pubsub.subscriber"`, `role         = "roles/pubsub.viewer"`,
			"lacks roles/pubsub.subscriber"},
		{"dead letters not kept", "pubsub.tf",
			"  topic                      = google_pubsub_topic.dead_letter.id\n", "  topic                      = \"elsewhere\"\n",
			"dead-lettered messages would be lost"},
		{"broad project role", "iam.tf",
			`role    = "roles/logging.logWriter"`, `role    = "roles/editor"`,
			"project-level IAM other than"},
		{"secret accessor on another secret", "iam.tf",
			"secret_id = var.github_app_private_key_secret", `secret_id = "other"`,
			"is not the secret the service reads"},
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
			problems := checkModule(loadModule(t, srcs))
			for _, p := range problems {
				if strings.Contains(p, tc.problem) {
					return
				}
			}
			t.Errorf("mutation not caught; want a problem containing %q, got:\n%s", tc.problem, strings.Join(problems, "\n"))
		})
	}
}

// The example must also fail when it misses an input or its tfvars example is stale.
func TestCheckExampleCatchesMistakes(t *testing.T) {
	mod := loadModule(t, readTF(t, moduleDir))
	srcs := readTF(t, exampleDir)
	tfvars, err := os.ReadFile(filepath.Join(exampleDir, "terraform.tfvars.example"))
	if err != nil {
		t.Fatal(err)
	}
	main := string(srcs["main.tf"])
	const line = "  identity                      = var.identity\n"
	if !strings.Contains(main, line) {
		t.Fatalf("the mutation no longer applies: %q not in main.tf", line)
	}
	srcs["main.tf"] = []byte(strings.Replace(main, line, "", 1))
	problems := strings.Join(checkExample(loadModule(t, srcs), mod, tfvars), "\n")
	for _, want := range []string{`does not set the required input "identity"`, `variable "identity" is declared but unused`} {
		if !strings.Contains(problems, want) {
			t.Errorf("want a problem containing %q, got:\n%s", want, problems)
		}
	}
	problems = strings.Join(checkExample(loadModule(t, readTF(t, exampleDir)), mod, []byte("project_id = \"p\"\n")), "\n")
	if !strings.Contains(problems, `does not set required "image"`) {
		t.Errorf("a tfvars example without image was not caught:\n%s", problems)
	}
}

// The module README's tables list every input and output.
func TestReadmeListsInputsAndOutputs(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	inputs, outputs, ok := strings.Cut(readme, "## Outputs")
	if !ok {
		t.Fatal("README.md has no Outputs section")
	}
	if i := strings.Index(inputs, "## Inputs"); i >= 0 {
		inputs = inputs[i:]
	} else {
		t.Fatal("README.md has no Inputs section")
	}
	for n, vb := range c.variables {
		row := "| `" + n + "` |"
		if !strings.Contains(inputs, row) {
			t.Errorf("README.md has no input row for %q", n)
			continue
		}
		_, hasDefault := vb.Body.Attributes["default"]
		line := inputs[strings.Index(inputs, row):]
		line = line[:strings.IndexByte(line, '\n')]
		if !hasDefault && !strings.HasSuffix(line, "| required |") {
			t.Errorf("README.md: input %q is required but its row says otherwise: %s", n, line)
		}
	}
	for n := range c.outputs {
		if !strings.Contains(outputs, "| `"+n+"` |") {
			t.Errorf("README.md has no output row for %q", n)
		}
	}
}
