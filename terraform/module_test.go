package terraform_test

// Offline checks of the Terraform module and its example: the files are parsed with HCL's
// native syntax parser and their blocks, attributes and references are inspected, and
// expressions are evaluated with the variables' defaults and stand-ins for what only exists once
// applied (evalContext). No provider can be downloaded here, so `terraform validate` cannot run:
// schema_test.go checks every block against the provider's schema, these tests check what a
// mistake in wiring would break, and mutated copies of the module must fail them.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
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

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/hygiene"
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
	moved     []*hclsyntax.Block
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
			case "moved":
				c.moved = append(c.moved, b)
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

// functions is the subset of Terraform's functions the module's expressions use, so they can be
// evaluated here.
var functions = map[string]function.Function{
	"alltrue":      allTrueFunc,
	"base64encode": base64EncodeFunc,
	"basename":     baseNameFunc,
	"can":          tryfunc.CanFunc,
	"coalesce":     stdlib.CoalesceFunc,
	"concat":       stdlib.ConcatFunc,
	"contains":     stdlib.ContainsFunc,
	"floor":        stdlib.FloorFunc,
	"join":         stdlib.JoinFunc,
	"jsonencode":   stdlib.JSONEncodeFunc,
	"keys":         stdlib.KeysFunc,
	"length":       lengthFunc,
	"lower":        stdlib.LowerFunc,
	"max":          stdlib.MaxFunc,
	"merge":        stdlib.MergeFunc,
	"min":          stdlib.MinFunc,
	"pow":          stdlib.PowFunc,
	"range":        stdlib.RangeFunc,
	"regex":        stdlib.RegexFunc,
	"replace":      stdlib.ReplaceFunc,
	"sort":         stdlib.SortFunc,
	"startswith":   startsWithFunc,
	"sum":          sumFunc,
	"tonumber":     stdlib.MakeToFunc(cty.Number),
	"toset":        stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tostring":     stdlib.MakeToFunc(cty.String),
	"trimspace":    stdlib.TrimSpaceFunc,
	"trimsuffix":   stdlib.TrimSuffixFunc,
	"try":          tryfunc.TryFunc,
	"values":       stdlib.ValuesFunc,
}

// base64EncodeFunc is Terraform's base64encode: of the string's UTF-8 bytes.
var base64EncodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
	},
})

// baseNameFunc is Terraform's basename: the last element of a slash-separated path.
var baseNameFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(filepath.Base(args[0].AsString())), nil
	},
})

// startsWithFunc is Terraform's startswith.
var startsWithFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "prefix", Type: cty.String}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.BoolVal(strings.HasPrefix(args[0].AsString(), args[1].AsString())), nil
	},
})

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

// sumFunc is Terraform's sum: of a non-empty list, set or tuple of numbers.
var sumFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		l := args[0]
		if !l.CanIterateElements() {
			return cty.NilVal, fmt.Errorf("cannot sum %s", l.Type().FriendlyName())
		}
		if !l.IsWhollyKnown() {
			return cty.UnknownVal(cty.Number), nil
		}
		if l.LengthInt() == 0 {
			return cty.NilVal, fmt.Errorf("cannot sum an empty list")
		}
		sum := cty.Zero
		for it := l.ElementIterator(); it.Next(); {
			_, v := it.Element()
			n, err := convert.Convert(v, cty.Number)
			if err != nil || n.IsNull() {
				return cty.NilVal, fmt.Errorf("sum: not a number")
			}
			sum = sum.Add(n)
		}
		return sum, nil
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

// variableType returns a variable's type constraint (any when it has none).
func (c *tfConfig) variableType(name string) (cty.Type, error) {
	ty, _, err := c.variableTypeWithDefaults(name)
	return ty, err
}

// variableTypeWithDefaults returns a variable's type constraint and the defaults of its
// optional object attributes (nil when it has none), which Terraform applies before converting.
func (c *tfConfig) variableTypeWithDefaults(name string) (cty.Type, *typeexpr.Defaults, error) {
	vb := c.variables[name]
	if vb == nil {
		return cty.NilType, nil, fmt.Errorf("no variable %q", name)
	}
	te, ok := vb.Body.Attributes["type"]
	if !ok {
		return cty.DynamicPseudoType, nil, nil
	}
	ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(te.Expr)
	if diags.HasErrors() {
		return cty.NilType, nil, fmt.Errorf("variable %q: type: %s", name, diags.Error())
	}
	return ty, defaults, nil
}

// variableValues returns every variable's value: set (converted to its type), else its
// default, else unknown (a required variable nobody set).
func (c *tfConfig) variableValues(set map[string]cty.Value) (map[string]cty.Value, error) {
	out := map[string]cty.Value{}
	for n := range set {
		if c.variables[n] == nil {
			return nil, fmt.Errorf("no variable %q", n)
		}
	}
	for n, vb := range c.variables {
		ty, defaults, err := c.variableTypeWithDefaults(n)
		if err != nil {
			return nil, err
		}
		v, ok := set[n]
		if !ok {
			v, ok = literal(vb.Body, "default")
		}
		if !ok {
			out[n] = cty.UnknownVal(ty)
			continue
		}
		if defaults != nil {
			// Convert first so that Apply sees the object type's attributes, as Terraform does.
			if pre, err := convert.Convert(v, ty.WithoutOptionalAttributesDeep()); err == nil {
				v = defaults.Apply(pre)
			} else if pre, err := convert.Convert(v, ty); err == nil {
				v = defaults.Apply(pre)
			}
		}
		cv, err := convert.Convert(v, ty)
		if err != nil {
			return nil, fmt.Errorf("variable %q: %#v is not a %s: %v", n, v, ty.FriendlyName(), err)
		}
		out[n] = cv
	}
	return out, nil
}

// Stand-ins for what only exists once applied.
const (
	mockServiceURI    = "https://prreconciler-mock-ew.a.run.app"
	mockProjectNumber = "123456789012"
	mockDashboardID   = "mock-dashboard-id"
)

// evalContext evaluates like Terraform would with the given variables (the rest at their
// defaults): var.*, local.* (from the module's locals) and stand-ins for resources and data
// sources: a Cloud Run service's uri is mockServiceURI, a topic's or subscription's id is its
// projects/P/{topics,subscriptions}/NAME, a service account has an email and member,
// google_project a number.
func (c *tfConfig) evalContext(set map[string]cty.Value) (*hcl.EvalContext, error) {
	vars, err := c.variableValues(set)
	if err != nil {
		return nil, err
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)},
		Functions: functions,
	}
	str := func(b *hclsyntax.Body, attr, fallback string) string {
		a, ok := b.Attributes[attr]
		if !ok {
			return fallback
		}
		v, diags := a.Expr.Value(ctx)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			return fallback
		}
		return v.AsString()
	}
	project := "mock-project"
	if v := vars["project_id"]; v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
		project = v.AsString()
	}
	// instance is one resource instance's stand-in, its attributes evaluated in ectx (which
	// has each or count for a resource that repeats).
	instance := func(b *hclsyntax.Block, ectx *hcl.EvalContext) cty.Value {
		prev := ctx
		ctx = ectx
		defer func() { ctx = prev }()
		typ, name := b.Labels[0], b.Labels[1]
		attrs := map[string]cty.Value{"id": cty.StringVal("mock:" + typ + "." + name)}
		if _, ok := b.Body.Attributes["name"]; ok {
			attrs["name"] = cty.StringVal(str(b.Body, "name", name))
		}
		switch typ {
		case "google_pubsub_topic":
			n := str(b.Body, "name", name)
			attrs["name"] = cty.StringVal(n)
			attrs["id"] = cty.StringVal("projects/" + str(b.Body, "project", project) + "/topics/" + n)
		case "google_pubsub_subscription":
			n := str(b.Body, "name", name)
			attrs["name"] = cty.StringVal(n)
			attrs["id"] = cty.StringVal("projects/" + str(b.Body, "project", project) + "/subscriptions/" + n)
		case "google_cloud_run_v2_service":
			attrs["uri"] = cty.StringVal(mockServiceURI)
			attrs["name"] = cty.StringVal(str(b.Body, "name", name))
			attrs["location"] = cty.StringVal(str(b.Body, "location", "mock-region"))
		case "google_service_account":
			email := str(b.Body, "account_id", name) + "@" + str(b.Body, "project", project) + ".iam.gserviceaccount.com"
			attrs["email"] = cty.StringVal(email)
			attrs["member"] = cty.StringVal("serviceAccount:" + email)
			attrs["name"] = cty.StringVal("projects/" + project + "/serviceAccounts/" + email)
		case "google_monitoring_dashboard":
			attrs["id"] = cty.StringVal("projects/" + mockProjectNumber + "/dashboards/" + mockDashboardID)
		case "google_monitoring_alert_policy":
			attrs["name"] = cty.StringVal("projects/" + project + "/alertPolicies/mock-" + name)
		}
		return cty.ObjectVal(attrs)
	}
	// Resources may use locals (a count from a local) and locals resources (a topic's id):
	// evaluate both in rounds, each round's resources seeing the previous round's locals.
	for round := 0; round < 3; round++ {
		byType := map[string]map[string]cty.Value{}
		for _, b := range c.resources {
			typ, name := b.Labels[0], b.Labels[1]
			var v cty.Value
			if fe, ok := b.Body.Attributes["for_each"]; ok {
				// One instance per key: an object of them (unknown when for_each is).
				m, diags := fe.Expr.Value(ctx)
				if diags.HasErrors() || !m.IsWhollyKnown() || m.IsNull() || !m.CanIterateElements() {
					v = cty.DynamicVal
				} else {
					insts := map[string]cty.Value{}
					for it := m.ElementIterator(); it.Next(); {
						k, ev := it.Element()
						if m.Type().IsSetType() {
							k = ev
						}
						ectx := ctx.NewChild()
						ectx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": ev})}
						insts[k.AsString()] = instance(b, ectx)
					}
					v = cty.ObjectVal(insts)
				}
			} else if cnt, ok := b.Body.Attributes["count"]; ok {
				n, diags := cnt.Expr.Value(ctx)
				if diags.HasErrors() || !n.IsKnown() || n.IsNull() || n.Type() != cty.Number {
					v = cty.DynamicVal
				} else {
					i, _ := n.AsBigFloat().Int64()
					insts := []cty.Value{}
					for j := range i {
						ectx := ctx.NewChild()
						ectx.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(j)})}
						insts = append(insts, instance(b, ectx))
					}
					v = cty.TupleVal(insts)
				}
			} else {
				v = instance(b, ctx)
			}
			if byType[typ] == nil {
				byType[typ] = map[string]cty.Value{}
			}
			byType[typ][name] = v
		}
		for typ, m := range byType {
			ctx.Variables[typ] = cty.ObjectVal(m)
		}
		data := map[string]map[string]cty.Value{}
		for _, b := range c.data {
			typ, name := b.Labels[0], b.Labels[1]
			attrs := map[string]cty.Value{"id": cty.StringVal("mock:data." + typ + "." + name)}
			if typ == "google_project" {
				attrs["number"] = cty.StringVal(mockProjectNumber)
				attrs["project_id"] = cty.StringVal(project)
			}
			if data[typ] == nil {
				data[typ] = map[string]cty.Value{}
			}
			data[typ][name] = cty.ObjectVal(attrs)
		}
		if len(data) > 0 {
			d := map[string]cty.Value{}
			for typ, m := range data {
				d[typ] = cty.ObjectVal(m)
			}
			ctx.Variables["data"] = cty.ObjectVal(d)
		}
		// Locals may use each other: evaluate in passes until none is added.
		locals := map[string]cty.Value{}
		for progress := true; progress; {
			progress = false
			for n, a := range c.locals {
				if _, done := locals[n]; done {
					continue
				}
				ctx.Variables["local"] = cty.ObjectVal(locals)
				v, diags := a.Expr.Value(ctx)
				if diags.HasErrors() {
					continue
				}
				locals[n] = v
				progress = true
			}
		}
		ctx.Variables["local"] = cty.ObjectVal(locals)
	}
	return ctx, nil
}

// eval evaluates an attribute of a block with the defaults (and stand-ins).
func (c *tfConfig) eval(b *hclsyntax.Body, name string) (cty.Value, error) {
	a, ok := b.Attributes[name]
	if !ok {
		return cty.NilVal, fmt.Errorf("%s is not set", name)
	}
	ctx, err := c.evalContext(nil)
	if err != nil {
		return cty.NilVal, err
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("%s: %s", name, diags.Error())
	}
	if !v.IsWhollyKnown() || v.IsNull() {
		return cty.NilVal, fmt.Errorf("%s is not known with the defaults", name)
	}
	return v, nil
}

func (c *tfConfig) evalString(b *hclsyntax.Body, name string) (string, error) {
	v, err := c.eval(b, name)
	if err != nil {
		return "", err
	}
	if v, err = convert.Convert(v, cty.String); err != nil {
		return "", fmt.Errorf("%s: %v", name, err)
	}
	return v.AsString(), nil
}

// refused evaluates the validations that use the given variables (every validation when none
// is given), the other variables at their defaults, and returns the ones that fail, as
// "variable #n"; none when Terraform would accept the values. A condition that cannot be
// decided (it uses a required variable not given) is not counted.
func (c *tfConfig) refused(set map[string]cty.Value) ([]string, error) {
	// Conditions may refer to variables and locals (Terraform allows more; this module needs no
	// more).
	ctx, err := c.evalContext(set)
	if err != nil {
		return nil, err
	}
	var out []string
	for n, vb := range c.variables {
		for i, val := range child(vb.Body, "validation") {
			a, ok := val.Body.Attributes["condition"]
			if !ok {
				return nil, fmt.Errorf("variable %q: validation without condition", n)
			}
			if len(set) > 0 && !slices.ContainsFunc(c.varsUsed(a.Expr), func(v string) bool {
				_, given := set[v]
				return given
			}) {
				continue // decided by the defaults alone: see refused(nil)
			}
			res, diags := a.Expr.Value(ctx)
			if diags.HasErrors() {
				return nil, fmt.Errorf("variable %q: %s", n, diags.Error())
			}
			if !res.IsKnown() {
				continue
			}
			if res.IsNull() || res.Type() != cty.Bool {
				return nil, fmt.Errorf("variable %q: validation %d is not a bool", n, i+1)
			}
			if res.False() {
				out = append(out, fmt.Sprintf("%s #%d", n, i+1))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// varsUsed returns the variables an expression uses, directly or through locals.
func (c *tfConfig) varsUsed(e hclsyntax.Expression) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(e hclsyntax.Expression)
	walk = func(e hclsyntax.Expression) {
		for _, r := range refs(e) {
			if v, ok := strings.CutPrefix(r, "var."); ok {
				out = append(out, strings.SplitN(v, ".", 2)[0])
			} else if l, ok := strings.CutPrefix(r, "local."); ok {
				l = strings.SplitN(l, ".", 2)[0]
				if a := c.locals[l]; a != nil && !seen[l] {
					seen[l] = true
					walk(a.Expr)
				}
			}
		}
	}
	walk(e)
	return out
}

// accepts reports whether Terraform accepts one variable's value, the others at their defaults.
func (c *tfConfig) accepts(name string, v cty.Value) (bool, error) {
	r, err := c.refused(map[string]cty.Value{name: v})
	return len(r) == 0, err
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

	// Nobody public, anywhere but the webhook ingress's invoker grant (checkIngress checks it
	// names that service only).
	var publicOK hcl.Range
	if b := c.ofType("google_cloud_run_v2_service_iam_member")[ingressInvoker]; b != nil {
		if a, ok := b.Body.Attributes["member"]; ok {
			publicOK = a.Expr.Range()
		}
	}
	for _, body := range c.bodies {
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			if l, ok := n.(*hclsyntax.LiteralValueExpr); ok && l.Val.Type() == cty.String {
				if l.SrcRange.Filename == publicOK.Filename && publicOK.ContainsOffset(l.SrcRange.Start.Byte) {
					return nil
				}
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
	// The worker's; the webhook ingress's (checkIngress) is the only other one.
	services := c.ofType("google_cloud_run_v2_service")
	for n := range services {
		if n != "worker" && n != "ingress" {
			bad("unexpected google_cloud_run_v2_service.%s: want worker and, optionally, ingress", n)
		}
	}
	svcName, svc := "worker", services["worker"]
	if svc == nil {
		bad("want google_cloud_run_v2_service.worker")
		return problems
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
	requestTimeout := time.Duration(0)
	if s, err := c.evalString(tmpl.Body, "timeout"); err != nil {
		bad("%s: template.timeout: %v", svcRef, err)
	} else if d, err := time.ParseDuration(s); err != nil || d != 600*time.Second {
		bad("%s: template.timeout must be \"600s\" (the push request timeout is the 600 s ack deadline), is %q", svcRef, s)
	} else {
		requestTimeout = d
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
	problems = append(problems, checkReconcilerEnv(c, svcRef, container, env)...)
	want := []string{"GITHUB_APP_PRIVATE_KEY", "GOOGLE_CLOUD_PROJECT", "MAX_DELIVERY_ATTEMPTS", "MAX_IN_FLIGHT",
		"RECONCILE_TIMEOUT", "GITHUB_API_URL", "RELAY_TYPE_PREFIX", "LOG_LEVEL",
		"RECONCILE_TOPIC", "ACK_DEADLINE", "RETRY_MINIMUM_BACKOFF", "RETRY_MAXIMUM_BACKOFF"}
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
	var secretKeyRef *hclsyntax.Block
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
			secretKeyRef = ref
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
		if key == "google_cloud_run_v2_service_iam_member."+ingressInvoker || key == "google_cloud_run_v2_job_iam_member."+redeliverInvoker {
			continue // the webhook ingress's public invoker and the scheduler on the redeliver job: ingress_test.go
		}
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

	// The reconcile topic is the one RECONCILE_TOPIC names.
	reconcileTopic := ""
	if e := env["RECONCILE_TOPIC"]; e != nil {
		rs := attrRefs(e.Body, "value")
		if len(rs) != 1 || !strings.HasPrefix(rs[0], "google_pubsub_topic.") || !strings.HasSuffix(rs[0], ".id") || c.resources[strings.TrimSuffix(rs[0], ".id")] == nil {
			bad("%s: RECONCILE_TOPIC must be the id of the module's reconcile topic (a google_pubsub_topic), is %v", svcRef, rs)
		} else {
			reconcileTopic = strings.TrimSuffix(rs[0], ".id")
		}
	}

	// Subscriptions: push ones deliver to the service (the reconcile topic's to /reconcile,
	// the relay topics' to /intake); the rest must be the dead-letter hold.
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
	var mdaVars, minVars, maxVars []string
	var reconcileSubs, intakeSubs []string
	ackRefs := map[string][]string{}
	for n, b := range push {
		ref := "google_pubsub_subscription." + n
		toReconcile := reconcileTopic != "" && refersTo(b.Body, "topic", reconcileTopic)
		if v, err := c.eval(b.Body, "ack_deadline_seconds"); err != nil || !v.Type().Equals(cty.Number) || !v.RawEquals(cty.NumberIntVal(600)) {
			bad("%s: ack_deadline_seconds must be 600 (%v)", ref, err)
		}
		ackRefs[ref] = attrRefs(b.Body, "ack_deadline_seconds")
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
				if vs := varRefs(rp.Body, a); len(vs) != 1 {
					bad("%s: retry_policy.%s must come from one variable, has %v", ref, a, vs)
				} else if a == "minimum_backoff" {
					minVars = append(minVars, vs...)
				} else {
					maxVars = append(maxVars, vs...)
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
		ordered := false
		if v, ok := literal(b.Body, "enable_message_ordering"); ok && v.Type() == cty.Bool && v.True() {
			ordered = true
		}
		pc := one(b.Body, "push_config")
		path := "/intake"
		if toReconcile {
			path = "/reconcile"
			reconcileSubs = append(reconcileSubs, ref)
			if !ordered {
				bad("%s: the reconcile subscription must set enable_message_ordering = true (one message per commit at a time)", ref)
			}
			if _, ok := b.Body.Attributes["filter"]; ok {
				bad("%s: the reconcile subscription must not filter (every reconcile request is for the worker)", ref)
			}
		} else {
			intakeSubs = append(intakeSubs, ref)
			// local.intake_topics is relay_topics and the webhook ingress's topic (TestWebhookIngress).
			if !(refersTo(b.Body, "for_each", "var.relay_topics") || refersTo(b.Body, "for_each", "local.intake_topics")) || !refersTo(b.Body, "topic", "each.value") {
				bad("%s: an intake subscription must be one per relay_topics entry (for_each = var.relay_topics or local.intake_topics, topic = each.value)", ref)
			}
		}
		if !refersTo(pc.Body, "push_endpoint", svcRef+".uri") {
			bad("%s: push_config.push_endpoint must be built from %s.uri", ref, svcRef)
		} else if ep, err := c.evalString(pc.Body, "push_endpoint"); err != nil || ep != mockServiceURI+path {
			bad("%s: push_config.push_endpoint must be %s.uri + %q, is %q (%v)", ref, svcRef, path, strings.Replace(ep, mockServiceURI, svcRef+".uri", 1), err)
		}
		oidc := one(pc.Body, "oidc_token")
		if oidc == nil {
			bad("%s: push_config has no oidc_token", ref)
			continue
		}
		if !refersTo(oidc.Body, "audience", svcRef+".uri") {
			bad("%s: oidc_token.audience must be %s.uri", ref, svcRef)
		} else if aud, err := c.evalString(oidc.Body, "audience"); err != nil || aud != mockServiceURI {
			bad("%s: oidc_token.audience must be exactly %s.uri (Cloud Run's audience), is %q (%v)", ref, svcRef, aud, err)
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
	if reconcileTopic != "" {
		if reconcileTopic == dlTopic {
			bad("RECONCILE_TOPIC must not be the dead-letter topic")
		}
		if len(reconcileSubs) != 1 {
			bad("want one push subscription on the reconcile topic %s, have %d", reconcileTopic, len(reconcileSubs))
		}
		if o := c.outputs["reconcile_topic"]; o == nil || !refersTo(o.Body, "value", reconcileTopic+".id") {
			bad("output reconcile_topic must be %s.id (other publishers send reconcile requests there)", reconcileTopic)
		}
	}
	if len(intakeSubs) == 0 {
		bad("no intake subscription (push to /intake) on the relay topics")
	}

	// One ack deadline: every push subscription's, ACK_DEADLINE and the request timeout.
	if e := env["ACK_DEADLINE"]; e != nil {
		vrefs := attrRefs(e.Body, "value")
		if s, err := c.evalString(e.Body, "value"); err != nil {
			bad("%s: ACK_DEADLINE: %v", svcRef, err)
		} else if d, err := time.ParseDuration(s); err != nil || d != 600*time.Second {
			bad("%s: ACK_DEADLINE must be a Go duration equal to the subscriptions' 600 s ack deadline, is %q", svcRef, s)
		} else if requestTimeout != 0 && d != requestTimeout {
			bad("%s: ACK_DEADLINE %s and template.timeout %s differ", svcRef, d, requestTimeout)
		}
		for ref, rs := range ackRefs {
			if len(vrefs) == 0 || !slices.Equal(rs, vrefs) {
				bad("%s: ACK_DEADLINE (%v) and %s's ack_deadline_seconds (%v) must come from the same value", svcRef, vrefs, ref, rs)
			}
		}
	}

	// RETRY_*_BACKOFF are the retry policy's, MAX_DELIVERY_ATTEMPTS the dead-letter policy's.
	minVars, maxVars, mdaVars = slices.Compact(sorted(minVars)), slices.Compact(sorted(maxVars)), slices.Compact(sorted(mdaVars))
	for _, p := range []struct {
		env, policy string
		vars        []string
	}{
		{"RETRY_MINIMUM_BACKOFF", "retry_policy.minimum_backoff", minVars},
		{"RETRY_MAXIMUM_BACKOFF", "retry_policy.maximum_backoff", maxVars},
		{"MAX_DELIVERY_ATTEMPTS", "dead_letter_policy.max_delivery_attempts", mdaVars},
	} {
		if e := env[p.env]; e != nil {
			got := varRefs(e.Body, "value")
			if len(p.vars) != 1 || !slices.Equal(got, p.vars) {
				bad("%s: %s (%v) and %s (%v) must come from the same variable", svcRef, p.env, got, p.policy, p.vars)
			}
		}
	}

	// The retry window covers an hour, by default and by validation, computed as the README
	// explains (retryWindow).
	if len(mdaVars) == 1 && len(minVars) == 1 && len(maxVars) == 1 {
		problems = append(problems, checkRetryWindow(c, mdaVars[0], minVars[0], maxVars[0], smallRetryGrid)...)
	}

	// The worker publishes to the reconcile topic.
	if reconcileTopic != "" && workerSA != "" {
		granted := false
		for _, b := range c.ofType("google_pubsub_topic_iam_member") {
			role, _ := literalString(b.Body, "role")
			if role == "roles/pubsub.publisher" && refersTo(b.Body, "topic", reconcileTopic) && refersTo(b.Body, "member", "google_service_account."+workerSA) {
				granted = true
			}
		}
		if !granted {
			bad("the worker's account lacks roles/pubsub.publisher on %s (google_pubsub_topic_iam_member): intake could not publish", reconcileTopic)
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
		if role != "roles/secretmanager.secretAccessor" || refersTo(b.Body, "member", "google_service_account.ingress") {
			continue // the webhook ingress's account on the webhook secrets: TestWebhookIngress
		}
		accessors++
		ref := "google_secret_manager_secret_iam_member." + key
		if workerSA == "" || !refersTo(b.Body, "member", "google_service_account."+workerSA) {
			bad("%s: the secret accessor must be the worker's account", ref)
		}
		// The provider reads the project from a full secret_id; a project beside it that
		// disagrees (a secret in another project) replaces the grant on every plan.
		if _, ok := b.Body.Attributes["project"]; ok {
			bad("%s: must not set project (secret_id is the full path, whose project may be another)", ref)
		}
		if len(secretExpr) == 0 {
			continue
		}
		// With a secret of the project and one of another project: secret_id is the full
		// path of the secret the service reads.
		for _, secret := range []string{"prreconciler-github-app-key", "projects/other-project/secrets/github-app-key"} {
			set := map[string]cty.Value{"github_app_private_key_secret": cty.StringVal(secret), "project_id": cty.StringVal("acme-ci-prod")}
			ctx, err := c.evalContext(set)
			if err != nil {
				bad("%s: %v", ref, err)
				break
			}
			want := secret
			if !strings.HasPrefix(want, "projects/") {
				want = "projects/acme-ci-prod/secrets/" + want
			}
			got, diags := b.Body.Attributes["secret_id"].Expr.Value(ctx)
			if diags.HasErrors() || !got.IsKnown() || got.IsNull() || got.Type() != cty.String {
				bad("%s: secret_id does not evaluate with github_app_private_key_secret = %q: %v", ref, secret, diags)
				continue
			}
			if got.AsString() != want {
				if strings.HasPrefix(got.AsString(), "projects/") {
					bad("%s: secret_id %q is not the secret the service reads (%q)", ref, got.AsString(), want)
				} else {
					bad("%s: secret_id %q is not the full path %q (a secret of another project needs it)", ref, got.AsString(), want)
				}
			}
			if sv, diags := secretKeyRef.Body.Attributes["secret"].Expr.Value(ctx); diags.HasErrors() || !sv.IsKnown() || sv.Type() != cty.String {
				bad("%s: the service's secret does not evaluate: %v", svcRef, diags)
			} else if norm := sv.AsString(); norm != want && "projects/acme-ci-prod/secrets/"+norm != want {
				bad("%s: reads secret %q, the grant is on %q", svcRef, norm, want)
			}
		}
	}
	if accessors != 1 {
		bad("want one roles/secretmanager.secretAccessor grant (the worker on the key), have %d", accessors)
	}

	// No project-wide roles beyond writing logs, and that only when the worker writes through
	// the Logging API: on Cloud Run its stdout is ingested without a role.
	for key, b := range c.resources {
		if !strings.HasPrefix(b.Labels[0], "google_project_iam") {
			continue
		}
		role, _ := literalString(b.Body, "role")
		if b.Labels[0] != "google_project_iam_member" || role != "roles/logging.logWriter" {
			bad("%s: project-level IAM other than a roles/logging.logWriter member (%q)", key, role)
			continue
		}
		for dest, want := range map[string]int64{"auto": 0, "stdout": 0, "api": 1} {
			n := int64(-1)
			if a, ok := b.Body.Attributes["count"]; ok {
				if ctx, err := c.evalContext(map[string]cty.Value{"log_destination": cty.StringVal(dest)}); err == nil {
					if v, diags := a.Expr.Value(ctx); !diags.HasErrors() && v.IsKnown() && v.Type() == cty.Number {
						n, _ = v.AsBigFloat().Int64()
					}
				}
			} else {
				n = 1
			}
			if n != want {
				bad("%s: with log_destination = %q the worker gets roles/logging.logWriter %d times, want %d (only the Logging API needs it)", key, dest, n, want)
			}
		}
	}

	// With grant_pubsub_token_creator, the push subscriptions wait for the grant: before it, the
	// Pub/Sub agent of an old project cannot mint their OIDC tokens.
	for key, b := range c.ofType("google_service_account_iam_member") {
		if role, _ := literalString(b.Body, "role"); role != "roles/iam.serviceAccountTokenCreator" {
			continue
		}
		for n := range push {
			if !slices.Contains(attrRefs(push[n].Body, "depends_on"), "google_service_account_iam_member."+key) {
				bad("google_pubsub_subscription.%s: depends_on lacks google_service_account_iam_member.%s (the token-creator grant)", n, key)
			}
		}
	}
	return problems
}

// cloudRunReservedEnv are the names Cloud Run sets itself and refuses in a service's spec.
var cloudRunReservedEnv = []string{"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}

// pushDeploymentConflicts are worker variables the module leaves unset because they would undo
// its push deployment: the push token verified again (Cloud Run strips its signature), pull
// mode instead of the push subscriptions, a key file beside the secret's key (refused by the
// worker).
var pushDeploymentConflicts = []string{"PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT", "PUBSUB_SUBSCRIPTION", "INTAKE_SUBSCRIPTION", "GITHUB_APP_PRIVATE_KEY_FILE"}

// envName is what the module accepts as an environment variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkReconcilerEnv checks the container's dynamic blocks, given its literal env blocks (by
// name). The only one allowed is a dynamic "env" over one map(string) variable (the
// reconciler's own settings), name = key, value = value, whose validations refuse every name
// that is not an environment variable name, every name the module sets (run.tf's env blocks),
// Cloud Run's reserved names and pushDeploymentConflicts; and the names those validations
// list (in the conditions or the locals they use) are exactly those.
func checkReconcilerEnv(c *tfConfig, svcRef string, container *hclsyntax.Body, env map[string]*hclsyntax.Block) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	variable := ""
	for _, d := range child(container, "dynamic") {
		if len(d.Labels) != 1 || d.Labels[0] != "env" {
			bad("%s: dynamic %v blocks in the container hide their names from this check", svcRef, d.Labels)
			continue
		}
		if variable != "" {
			bad("%s: more than one dynamic \"env\" block", svcRef)
			continue
		}
		var tr *hclsyntax.ScopeTraversalExpr
		if fe, ok := d.Body.Attributes["for_each"]; ok {
			tr, _ = fe.Expr.(*hclsyntax.ScopeTraversalExpr)
		}
		if tr == nil || len(tr.Traversal) != 2 || tr.Traversal.RootName() != "var" {
			bad("%s: dynamic \"env\" must iterate over one variable (for_each = var.NAME)", svcRef)
			continue
		}
		variable = travString(tr.Traversal)[len("var."):]
		iter := "env"
		if it, ok := d.Body.Attributes["iterator"]; ok {
			iter = hcl.ExprAsKeyword(it.Expr)
		}
		content := one(d.Body, "content")
		if content == nil {
			bad("%s: dynamic \"env\" has no content block", svcRef)
			continue
		}
		if got := attrRefs(content.Body, "name"); !slices.Equal(got, []string{iter + ".key"}) {
			bad("%s: dynamic \"env\": name must be %s.key (the variable's names, which its validations check), is %v", svcRef, iter, got)
		}
		if got := attrRefs(content.Body, "value"); !slices.Equal(got, []string{iter + ".value"}) {
			bad("%s: dynamic \"env\": value must be %s.value, is %v", svcRef, iter, got)
		}
		if len(content.Body.Blocks) > 0 {
			bad("%s: dynamic \"env\": content must be a plain name and value", svcRef)
		}
	}
	if variable == "" {
		return problems
	}
	vb := c.variables[variable]
	if vb == nil {
		return problems // checkVariables reports it
	}
	if ty, err := c.variableType(variable); err != nil || !ty.Equals(cty.Map(cty.String)) {
		bad("variable %q (dynamic env) must be a map(string)", variable)
		return problems
	}
	just := func(name string) cty.Value { return cty.MapVal(map[string]cty.Value{name: cty.StringVal("x")}) }
	moduleSet := slices.Sorted(maps.Keys(env))
	reserved := map[string]string{}
	for _, n := range moduleSet {
		reserved[n] = "the module sets it (run.tf)"
	}
	for _, n := range cloudRunReservedEnv {
		reserved[n] = "Cloud Run reserves it"
	}
	for _, n := range pushDeploymentConflicts {
		reserved[n] = "it would undo the push deployment"
	}
	for _, n := range slices.Sorted(maps.Keys(reserved)) {
		if ok, err := c.accepts(variable, just(n)); err != nil {
			bad("variable %q: %v", variable, err)
		} else if ok {
			bad("variable %q (dynamic env) accepts %s, which it must refuse: %s", variable, n, reserved[n])
		}
	}
	for _, n := range []string{"", "1ST", "MY-VAR", "A=B", "MY VAR", "ÉTÉ"} {
		if ok, err := c.accepts(variable, just(n)); err == nil && ok {
			bad("variable %q (dynamic env) accepts %q, which is not an environment variable name", variable, n)
		}
	}
	for _, v := range config.VariablesOf(hygiene.Config{}) {
		if ok, err := c.accepts(variable, just(v.Name)); err == nil && !ok {
			bad("variable %q (dynamic env) refuses %s, a setting of the diff hygiene reconciler", variable, v.Name)
		}
	}
	// The names the validations list: the environment-variable-like literals of their
	// conditions and of the locals those use.
	listed := map[string]bool{}
	for _, val := range child(vb.Body, "validation") {
		cond, ok := val.Body.Attributes["condition"]
		if !ok {
			continue
		}
		exprs := []hclsyntax.Expression{cond.Expr}
		for _, r := range refs(cond.Expr) {
			if l, ok := strings.CutPrefix(r, "local."); ok && c.locals[l] != nil {
				exprs = append(exprs, c.locals[l].Expr)
			}
		}
		for _, e := range exprs {
			for _, lit := range templateLiterals(e) {
				if envName.MatchString(lit) && strings.ToUpper(lit) == lit {
					listed[lit] = true
				}
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(listed)) {
		if _, ok := reserved[n]; !ok {
			bad("variable %q (dynamic env): its validation lists %s, which run.tf does not set (nor is it Cloud Run's or a push deployment conflict)", variable, n)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(reserved)) {
		if !listed[n] {
			bad("variable %q (dynamic env): its validation does not list %s (%s)", variable, n, reserved[n])
		}
	}
	return problems
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
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
	// Every module.NAME.OUTPUT the example uses is an output of the module.
	for _, body := range ex.bodies {
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			a, ok := n.(*hclsyntax.Attribute)
			if !ok {
				return nil
			}
			for _, r := range refs(a.Expr) {
				p := strings.Split(r, ".")
				if len(p) < 3 || p[0] != "module" {
					continue
				}
				if ex.modules[p[1]] == nil {
					bad("example: %s refers to an undeclared module", r)
				} else if mod.outputs[p[2]] == nil {
					bad("example: %s is not an output of the module", r)
				}
			}
			return nil
		})
	}
	f, diags := hclsyntax.ParseConfig(tfvars, "terraform.tfvars.example", hcl.InitialPos)
	if diags.HasErrors() {
		bad("example: terraform.tfvars.example: %s", diags.Error())
		return problems
	}
	attrs := f.Body.(*hclsyntax.Body).Attributes
	exVals := map[string]cty.Value{}
	for n, a := range attrs {
		if ex.variables[n] == nil {
			bad("example: terraform.tfvars.example sets undeclared %q", n)
			continue
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			bad("example: terraform.tfvars.example: %s: %s", n, diags.Error())
			continue
		}
		exVals[n] = v
	}
	// With the tfvars example, the module call's inputs pass the module's validations (tflint
	// does not evaluate them).
	if ctx, err := ex.evalContext(exVals); err != nil {
		bad("example: %v", err)
	} else {
		for name, m := range ex.modules {
			inputs := map[string]cty.Value{}
			for arg, a := range m.Body.Attributes {
				if mod.variables[arg] == nil {
					continue
				}
				v, diags := a.Expr.Value(ctx)
				if diags.HasErrors() {
					bad("example: module %q: %s: %s", name, arg, diags.Error())
					continue
				}
				inputs[arg] = v
			}
			if refused, err := mod.refused(inputs); err != nil {
				bad("example: module %q: %v", name, err)
			} else if len(refused) > 0 {
				bad("example: module %q: the module refuses the example's inputs: %v", name, refused)
			}
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
		{"relay_topics", cty.MapVal(map[string]cty.Value{"reconcile": cty.StringVal("t-topic")}), false},
		{"relay_topics", cty.MapVal(map[string]cty.Value{"dead-letter": cty.StringVal("t-topic")}), false},
		{"reconcile_publishers", cty.ListValEmpty(cty.String), true},
		{"reconcile_publishers", cty.ListVal([]cty.Value{cty.StringVal("serviceAccount:ci@p.iam.gserviceaccount.com"), cty.StringVal("group:ci@example.com")}), true},
		{"reconcile_publishers", cty.ListVal([]cty.Value{cty.StringVal("allUsers")}), false},
		{"reconcile_publishers", cty.ListVal([]cty.Value{cty.StringVal("allAuthenticatedUsers")}), false},
		{"reconcile_publishers", cty.ListVal([]cty.Value{cty.StringVal("ci@p.iam.gserviceaccount.com")}), false},
		// The retry window at the default backoffs (10s..600s): 10 attempts span 2430 s.
		{"max_delivery_attempts", cty.NumberIntVal(10), false},
		{"max_delivery_attempts", cty.NumberIntVal(11), false},
		{"max_delivery_attempts", cty.NumberIntVal(12), true},
		{"max_delivery_attempts", cty.NumberIntVal(15), true},
		{"max_delivery_attempts", cty.NumberIntVal(100), true},
		{"max_delivery_attempts", cty.NumberIntVal(101), false},
		{"retry_maximum_backoff", cty.StringVal("5s"), false}, // below the minimum 10s
		{"retry_minimum_backoff", cty.StringVal("12.5s"), true},
		{"reconciler_env", cty.MapValEmpty(cty.String), true},
		{"reconciler_env", cty.MapVal(map[string]cty.Value{"HYGIENE_MAX_FILE_LINES": cty.StringVal("300"), "PRSIZE_MAX_LINES": cty.StringVal("")}), true},
		{"reconciler_env", cty.MapVal(map[string]cty.Value{"GITHUB_RETRY_BUDGET": cty.StringVal("1m")}), true},
		{"reconciler_env", cty.MapVal(map[string]cty.Value{"LOG_DESTINATION": cty.StringVal("api")}), false}, // log_destination sets it
		{"reconciler_env", cty.MapVal(map[string]cty.Value{"HYGIENE_MAX_FILE_LINES": cty.StringVal("300"), "GITHUB_APP_ID": cty.StringVal("1")}), false},
		{"reconciler_env", cty.MapVal(map[string]cty.Value{"ACK_DEADLINE": cty.StringVal("60s")}), false},
		{"reconciler_env", cty.MapVal(map[string]cty.Value{"K_SERVICE": cty.StringVal("x")}), false},
		{"reconciler_env", cty.MapVal(map[string]cty.Value{"PUSH_AUDIENCE": cty.StringVal("x")}), false},
		{"reconciler_env", cty.MapVal(map[string]cty.Value{"hygiene-max": cty.StringVal("1")}), false},
		{"reconciler_env", cty.MapVal(map[string]cty.Value{"9LIVES": cty.StringVal("1")}), false},
		// cpu, memory and concurrency together (the others at their defaults: 1 CPU, 512Mi, 10).
		{"cpu", cty.StringVal("2"), true},
		{"cpu", cty.StringVal("1000m"), true},
		{"cpu", cty.StringVal("0.5"), false}, // concurrency 10 needs 1 CPU
		{"cpu", cty.StringVal("4"), false},   // 512Mi is below 4 CPUs' 2Gi
		{"cpu", cty.StringVal("3"), false},
		{"memory", cty.StringVal("4Gi"), true},
		{"memory", cty.StringVal("4096Mi"), true},
		{"memory", cty.StringVal("5Gi"), false}, // above 1 CPU's 4Gi
		{"memory", cty.StringVal("512MB"), false},
		{"memory", cty.StringVal("100Mi"), false},
		{"concurrency", cty.NumberIntVal(1), true},
		{"log_destination", cty.StringVal("api"), true},
		{"log_destination", cty.StringVal("stderr"), false},
		{"notification_channels", cty.ListVal([]cty.Value{cty.StringVal("projects/p/notificationChannels/1")}), true},
		{"notification_channels", cty.ListVal([]cty.Value{cty.StringVal("1")}), false},
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

// mutate returns a copy of the sources with one replacement: of the only occurrence of old in
// file, or of its nth (1-based) when nth > 0; it fails the test when that occurrence is gone.
func mutate(t *testing.T, orig map[string][]byte, file, old, new string, nth int) map[string][]byte {
	t.Helper()
	srcs := map[string][]byte{}
	for k, v := range orig {
		srcs[k] = v
	}
	src := string(srcs[file])
	n := strings.Count(src, old)
	if nth == 0 && n != 1 || nth > n {
		t.Fatalf("the mutation no longer applies: %q occurs %d times in %s", old, n, file)
	}
	if nth == 0 {
		nth = 1
	}
	at := 0
	for range nth - 1 {
		at += strings.Index(src[at:], old) + len(old)
	}
	at += strings.Index(src[at:], old)
	srcs[file] = []byte(src[:at] + new + src[at+len(old):])
	return srcs
}

// Mutated copies of the module must fail the checks, so the checks cannot pass vacuously.
func TestCheckModuleCatchesMistakes(t *testing.T) {
	orig := readTF(t, moduleDir)
	// In pubsub.tf the reconcile subscription comes first (occurrence 1), the intake one second.
	cases := []struct {
		name    string
		file    string
		old     string
		new     string
		nth     int
		problem string
	}{
		{"dead-letter policy removed", "pubsub.tf",
			"  dead_letter_policy {\n    dead_letter_topic     = google_pubsub_topic.dead_letter.id\n    max_delivery_attempts = var.max_delivery_attempts\n  }\n", "", 1,
			"google_pubsub_subscription.reconcile: no dead_letter_policy"},
		{"unused variable", "variables.tf",
			`variable "labels" {`, "variable \"unused\" {\n  description = \"x\"\n  type        = string\n}\n\nvariable \"labels\" {", 0,
			`variable "unused" is declared but unused`},
		{"undocumented variable", "variables.tf",
			`  description = "Labels put on the service, topic and subscriptions."`, "", 0,
			`variable "labels" has no description`},
		{"typo in an env name", "run.tf",
			`name  = "IDENTITY"`, `name  = "IDENTTY"`, 0,
			"env IDENTTY is not a variable the worker reads"},
		{"required env missing", "run.tf",
			`name  = "GITHUB_APP_ID"`, `name  = "GITHUB_API_URL"`, 0,
			"env GITHUB_APP_ID is not set"},
		{"PORT set", "run.tf",
			`name  = "LOG_LEVEL"`, `name  = "PORT"`, 0,
			"env PORT is reserved"},
		{"key as a plain value", "run.tf",
			"        name = \"GITHUB_APP_PRIVATE_KEY\"\n", "        name  = \"GITHUB_APP_PRIVATE_KEY\"\n        value = \"-----BEGIN PRIVATE KEY-----\"\n", 0,
			"GITHUB_APP_PRIVATE_KEY must come from Secret Manager"},
		{"short ack deadline", "main.tf",
			"ack_deadline_seconds = 600", "ack_deadline_seconds = 60", 0,
			"ack_deadline_seconds must be 600"},
		{"a subscription's own ack deadline", "pubsub.tf",
			"ack_deadline_seconds = local.ack_deadline_seconds", "ack_deadline_seconds = 600", 2,
			"and google_pubsub_subscription.intake's ack_deadline_seconds ([]) must come from the same value"},
		{"ACK_DEADLINE a literal", "run.tf",
			`value = "${local.ack_deadline_seconds}s"`, `value = "600s"`, 0,
			"ACK_DEADLINE ([]) and google_pubsub_subscription.reconcile's ack_deadline_seconds ([local.ack_deadline_seconds]) must come from the same value"},
		{"ACK_DEADLINE not a duration of 600 s", "run.tf",
			`value = "${local.ack_deadline_seconds}s"`, `value = "${local.ack_deadline_seconds}ms"`, 0,
			"ACK_DEADLINE must be a Go duration equal to the subscriptions' 600 s ack deadline"},
		{"subscription expires", "pubsub.tf",
			"  expiration_policy {\n    ttl = \"\"\n  }\n\n  retry_policy {", "  expiration_policy {\n    ttl = \"2678400s\"\n  }\n\n  retry_policy {", 1,
			"google_pubsub_subscription.reconcile: expiration_policy.ttl must be"},
		{"no retry policy", "pubsub.tf",
			"  retry_policy {\n    minimum_backoff = var.retry_minimum_backoff\n    maximum_backoff = var.retry_maximum_backoff\n  }\n", "", 2,
			"google_pubsub_subscription.intake: no retry_policy"},
		{"endpoint not the service", "pubsub.tf",
			`push_endpoint = "${google_cloud_run_v2_service.worker.uri}/intake"`, `push_endpoint = "https://example.com/intake"`, 0,
			"google_pubsub_subscription.intake: push_config.push_endpoint must be built from"},
		{"reconcile pushes to /intake", "pubsub.tf",
			`push_endpoint = "${google_cloud_run_v2_service.worker.uri}/reconcile"`, `push_endpoint = "${google_cloud_run_v2_service.worker.uri}/intake"`, 0,
			`google_pubsub_subscription.reconcile: push_config.push_endpoint must be google_cloud_run_v2_service.worker.uri + "/reconcile", is "google_cloud_run_v2_service.worker.uri/intake"`},
		{"intake pushes to /", "pubsub.tf",
			`push_endpoint = "${google_cloud_run_v2_service.worker.uri}/intake"`, `push_endpoint = google_cloud_run_v2_service.worker.uri`, 0,
			`google_pubsub_subscription.intake: push_config.push_endpoint must be google_cloud_run_v2_service.worker.uri + "/intake"`},
		{"reconcile not ordered", "pubsub.tf",
			"enable_message_ordering = true", "enable_message_ordering = false", 0,
			"google_pubsub_subscription.reconcile: the reconcile subscription must set enable_message_ordering = true"},
		{"reconcile ordering removed", "pubsub.tf",
			"  enable_message_ordering = true\n", "", 0,
			"google_pubsub_subscription.reconcile: the reconcile subscription must set enable_message_ordering = true"},
		{"reconcile filtered", "pubsub.tf",
			"  enable_message_ordering = true\n", "  enable_message_ordering = true\n  filter                  = local.subscription_filter\n", 0,
			"the reconcile subscription must not filter"},
		{"intake not per relay topic", "pubsub.tf",
			"  topic   = each.value\n", "  topic   = \"projects/p/topics/t\"\n", 0,
			"an intake subscription must be one per relay_topics entry"},
		{"audience with a path", "pubsub.tf",
			"audience              = google_cloud_run_v2_service.worker.uri", `audience              = "${google_cloud_run_v2_service.worker.uri}/reconcile"`, 1,
			"google_pubsub_subscription.reconcile: oidc_token.audience must be exactly"},
		{"audience not the service", "pubsub.tf",
			"audience              = google_cloud_run_v2_service.worker.uri", `audience              = "https://example.com"`, 2,
			"google_pubsub_subscription.intake: oidc_token.audience must be"},
		{"delivery attempts disagree", "run.tf",
			"value = tostring(var.max_delivery_attempts)", `value = "5"`, 0,
			"MAX_DELIVERY_ATTEMPTS ([]) and dead_letter_policy.max_delivery_attempts"},
		{"retry backoff env disagrees", "run.tf",
			"value = var.retry_minimum_backoff", `value = "10s"`, 0,
			"RETRY_MINIMUM_BACKOFF ([]) and retry_policy.minimum_backoff ([retry_minimum_backoff]) must come from the same variable"},
		{"in-flight not the concurrency", "run.tf",
			"value = tostring(var.concurrency)", `value = "80"`, 0,
			"MAX_IN_FLIGHT ([]) and max_instance_request_concurrency"},
		{"timeout too short", "run.tf",
			`timeout                          = "${local.ack_deadline_seconds}s"`, `timeout                          = "300s"`, 0,
			`template.timeout must be "600s"`},
		{"reconcile timeout above the request timeout", "variables.tf",
			"default     = 300\n", "default     = 900\n", 0,
			"default RECONCILE_TIMEOUT \"900s\" must be a Go duration below 600s"},
		{"public service", "iam.tf",
			"member   = google_service_account.push.member", `member   = "allUsers"`, 0,
			"public principal \"allUsers\""},
		{"worker may invoke", "iam.tf",
			"  member   = google_service_account.push.member\n}\n", "  member   = google_service_account.push.member\n}\n\nresource \"google_cloud_run_v2_service_iam_member\" \"worker_invokes\" {\n  project  = var.project_id\n  location = var.region\n  name     = google_cloud_run_v2_service.worker.name\n  role     = \"roles/run.invoker\"\n  member   = google_service_account.worker.member\n}\n", 0,
			"roles/run.invoker for exactly one service account"},
		{"agent cannot publish dead letters", "iam.tf",
			"  topic   = google_pubsub_topic.dead_letter.id\n  role    = \"roles/pubsub.publisher\"", "  topic   = google_pubsub_topic.dead_letter.id\n  role    = \"roles/pubsub.viewer\"", 0,
			"lacks roles/pubsub.publisher"},
		{"agent cannot ack intake", "iam.tf",
			`role         = "roles/pubsub.subscriber"`, `role         = "roles/pubsub.viewer"`, 1,
			"lacks roles/pubsub.subscriber on google_pubsub_subscription.intake"},
		{"agent cannot ack reconcile", "iam.tf",
			`role         = "roles/pubsub.subscriber"`, `role         = "roles/pubsub.viewer"`, 2,
			"lacks roles/pubsub.subscriber on google_pubsub_subscription.reconcile"},
		{"worker cannot publish", "iam.tf",
			"  role    = \"roles/pubsub.publisher\"\n  member  = google_service_account.worker.member", "  role    = \"roles/pubsub.publisher\"\n  member  = google_service_account.push.member", 0,
			"the worker's account lacks roles/pubsub.publisher on google_pubsub_topic.reconcile"},
		{"worker publishes to the wrong topic", "iam.tf",
			"  topic   = google_pubsub_topic.reconcile.id\n  role    = \"roles/pubsub.publisher\"\n  member  = google_service_account.worker.member", "  topic   = google_pubsub_topic.dead_letter.id\n  role    = \"roles/pubsub.publisher\"\n  member  = google_service_account.worker.member", 0,
			"the worker's account lacks roles/pubsub.publisher on google_pubsub_topic.reconcile"},
		{"RECONCILE_TOPIC the dead-letter topic", "run.tf",
			"value = google_pubsub_topic.reconcile.id", "value = google_pubsub_topic.dead_letter.id", 0,
			"RECONCILE_TOPIC must not be the dead-letter topic"},
		{"RECONCILE_TOPIC a literal", "run.tf",
			"value = google_pubsub_topic.reconcile.id", `value = "projects/p/topics/prreconciler-reconcile"`, 0,
			"RECONCILE_TOPIC must be the id of the module's reconcile topic"},
		{"RECONCILE_TOPIC missing", "run.tf",
			`name  = "RECONCILE_TOPIC"`, `name  = "SHUTDOWN_GRACE"`, 0,
			"env RECONCILE_TOPIC is not set"},
		{"reconcile topic not an output", "outputs.tf",
			"value       = google_pubsub_topic.reconcile.id", "value       = google_pubsub_topic.dead_letter.id", 0,
			"output reconcile_topic must be google_pubsub_topic.reconcile.id"},
		{"retry window validation weakened", "variables.tf",
			">= 3600, false)", ">= 2400, false)", 0,
			"retry window: max_delivery_attempts = 10 with backoffs 10s..600s (window 40m30s): accepted=true, want false"},
		{"retry window validation removed", "variables.tf",
			"    condition     = try(sum(", "    condition     = true || try(sum(", 0,
			"retry window: max_delivery_attempts = 5 with backoffs 0s..10s (window 0s): accepted=true, want false"},
		{"retry window default too short", "variables.tf",
			"  default     = 15\n", "  default     = 10\n", 0,
			"retry window: the defaults (10 attempts, 10s..10m0s) give 40m30s"},
		{"log writer unconditional", "iam.tf",
			"  count = var.log_destination == \"api\" ? 1 : 0\n\n", "", 0,
			`with log_destination = "stdout" the worker gets roles/logging.logWriter 1 times, want 0`},
		{"log writer on the wrong value", "iam.tf",
			`count = var.log_destination == "api" ? 1 : 0`, `count = var.log_destination == "auto" ? 1 : 0`, 0,
			`with log_destination = "api" the worker gets roles/logging.logWriter 0 times, want 1`},
		{"reconcile does not wait for the token grant", "pubsub.tf",
			"    google_service_account_iam_member.pubsub_agent_mints_push_tokens,\n", "", 1,
			"google_pubsub_subscription.reconcile: depends_on lacks google_service_account_iam_member.pubsub_agent_mints_push_tokens"},
		{"intake does not wait for the token grant", "pubsub.tf",
			"    google_service_account_iam_member.pubsub_agent_mints_push_tokens,\n", "", 2,
			"google_pubsub_subscription.intake: depends_on lacks google_service_account_iam_member.pubsub_agent_mints_push_tokens"},
		{"broad project role", "iam.tf",
			`role    = "roles/logging.logWriter"`, `role    = "roles/editor"`, 0,
			"project-level IAM other than"},
		{"secret accessor on another secret", "iam.tf",
			"secret_id = local.app_key_secret", `secret_id = "projects/acme-ci-prod/secrets/other"`, 0,
			"is not the secret the service reads"},
		{"secret accessor by the bare secret id", "iam.tf",
			"secret_id = local.app_key_secret", "secret_id = var.github_app_private_key_secret", 0,
			`secret_id "prreconciler-github-app-key" is not the full path "projects/acme-ci-prod/secrets/prreconciler-github-app-key"`},
		{"secret accessor with a project", "iam.tf",
			"  secret_id = local.app_key_secret\n", "  project   = var.project_id\n  secret_id = local.app_key_secret\n", 0,
			"worker_reads_app_key: must not set project"},
		{"secret path of the wrong project", "main.tf",
			`"projects/${var.project_id}/secrets/${var.github_app_private_key_secret}"`, `"projects/other/secrets/${var.github_app_private_key_secret}"`, 0,
			"is not the secret the service reads"},
	}
	// The reconciler's own environment (dynamic "env" over reconciler_env) and its validations.
	cases = append(cases, []struct {
		name    string
		file    string
		old     string
		new     string
		nth     int
		problem string
	}{
		{"reserved list misses a name run.tf sets", "variables.tf",
			`"RELAY_TYPE_PREFIX", "LOG_LEVEL",`, `"RELAY_TYPE_PREFIX",`, 0,
			`variable "reconciler_env" (dynamic env) accepts LOG_LEVEL, which it must refuse: the module sets it (run.tf)`},
		{"run.tf sets a name the reserved list lacks", "run.tf",
			"      # The reconciler's own settings", "      env {\n        name  = \"SHUTDOWN_GRACE\"\n        value = \"8s\"\n      }\n      # The reconciler's own settings", 0,
			`variable "reconciler_env" (dynamic env) accepts SHUTDOWN_GRACE, which it must refuse`},
		{"reserved list names what run.tf no longer sets", "variables.tf",
			`"RELAY_TYPE_PREFIX", "LOG_LEVEL",`, `"RELAY_TYPE_PREFIX", "LOG_LEVEL", "LOG_FORMAT",`, 0,
			`its validation lists LOG_FORMAT, which run.tf does not set`},
		{"Cloud Run's reserved names dropped", "variables.tf",
			`["PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"],`, `["PORT"],`, 0,
			"accepts K_REVISION, which it must refuse: Cloud Run reserves it"},
		{"push deployment conflicts dropped", "variables.tf",
			`"PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT", `, "", 0,
			"accepts PUSH_AUDIENCE, which it must refuse: it would undo the push deployment"},
		{"reserved-name validation weakened", "variables.tf",
			": !contains(local.reconciler_env_reserved, k)])", `: k != "PORT"])`, 0,
			"accepts GITHUB_APP_ID, which it must refuse"},
		{"name validation removed", "variables.tf",
			`: can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k))])`, `: k != ""])`, 0,
			`accepts "1ST", which is not an environment variable name`},
		{"name validation too strict for hygiene", "variables.tf",
			`: can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k))])`, `: can(regex("^[A-Z]+$", k))])`, 0,
			"refuses HYGIENE_MAX_FILE_BYTES, a setting of the diff hygiene reconciler"},
		{"dynamic env over another variable", "run.tf",
			"for_each = var.reconciler_env", "for_each = var.labels", 0,
			`variable "labels" (dynamic env) accepts GITHUB_APP_ID`},
		{"dynamic env over an expression", "run.tf",
			"for_each = var.reconciler_env", "for_each = { for k, v in var.reconciler_env : lower(k) => v }", 0,
			`dynamic "env" must iterate over one variable`},
		{"dynamic env named by its value", "run.tf",
			"name  = env.key", "name  = env.value", 0,
			`dynamic "env": name must be env.key`},
		{"dynamic env valued by a literal", "run.tf",
			"value = env.value", `value = "x"`, 0,
			`dynamic "env": value must be env.value`},
		{"another dynamic block in the container", "run.tf",
			"      # The reconciler's own settings", "      dynamic \"volume_mounts\" {\n        for_each = var.labels\n        content {\n          name       = volume_mounts.key\n          mount_path = volume_mounts.value\n        }\n      }\n      # The reconciler's own settings", 0,
			"dynamic [volume_mounts] blocks in the container hide their names"},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems := checkModule(loadModule(t, mutate(t, orig, tc.file, tc.old, tc.new, tc.nth)))
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
	srcs = mutate(t, readTF(t, exampleDir), "main.tf", "max_delivery_attempts = 15", "max_delivery_attempts = 10", 0)
	problems = strings.Join(checkExample(loadModule(t, srcs), mod, tfvars), "\n")
	if !strings.Contains(problems, "the module refuses the example's inputs: [max_delivery_attempts #2]") {
		t.Errorf("an example whose retry window is too short was not caught:\n%s", problems)
	}
	srcs = readTF(t, exampleDir)
	srcs = mutate(t, srcs, "outputs.tf", "module.prreconciler.intake_subscriptions", "module.prreconciler.push_subscriptions", 0)
	problems = strings.Join(checkExample(loadModule(t, srcs), mod, tfvars), "\n")
	if !strings.Contains(problems, "module.prreconciler.push_subscriptions is not an output of the module") {
		t.Errorf("a stale module output was not caught:\n%s", problems)
	}
	const envLine = `HYGIENE_MAX_FILE_LINES = "500"`
	if !strings.Contains(string(tfvars), envLine) {
		t.Fatalf("the mutation no longer applies: %q not in terraform.tfvars.example", envLine)
	}
	reserved := []byte(strings.Replace(string(tfvars), envLine, `LOG_LEVEL = "debug"`, 1))
	problems = strings.Join(checkExample(loadModule(t, readTF(t, exampleDir)), mod, reserved), "\n")
	if !strings.Contains(problems, "the module refuses the example's inputs: [reconciler_env #2]") {
		t.Errorf("a tfvars example whose reconciler_env sets LOG_LEVEL was not caught:\n%s", problems)
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

// moduleEnv evaluates the container's environment with the given variables (the rest at their
// defaults), as Cloud Run would set it: the key's secret is a stand-in PEM, PORT is Cloud Run's.
func moduleEnv(c *tfConfig, set map[string]cty.Value) (map[string]string, error) {
	ctx, err := c.evalContext(set)
	if err != nil {
		return nil, err
	}
	svc := c.ofType("google_cloud_run_v2_service")
	if svc["worker"] == nil {
		return nil, fmt.Errorf("want google_cloud_run_v2_service.worker")
	}
	var container *hclsyntax.Body
	for _, b := range []*hclsyntax.Block{svc["worker"]} {
		if cb := path(b.Body, "template", "containers"); cb != nil {
			container = cb.Body
		}
	}
	if container == nil {
		return nil, fmt.Errorf("no template.containers")
	}
	env := map[string]string{"PORT": "8080"}
	for _, e := range child(container, "env") {
		name, _ := literalString(e.Body, "name")
		if name == "GITHUB_APP_PRIVATE_KEY" {
			env[name] = standInKey() // the worker parses it at start: a real key, of no App
			continue
		}
		a, ok := e.Body.Attributes["value"]
		if !ok {
			return nil, fmt.Errorf("env %s has no value", name)
		}
		v, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			return nil, fmt.Errorf("env %s: %s", name, diags.Error())
		}
		if !v.IsWhollyKnown() || v.IsNull() {
			return nil, fmt.Errorf("env %s is not known from the given variables", name)
		}
		sv, err := convert.Convert(v, cty.String)
		if err != nil {
			return nil, fmt.Errorf("env %s: %v", name, err)
		}
		env[name] = sv.AsString()
	}
	// A dynamic "env" (checkReconcilerEnv) adds a map's entries, after the module's own.
	for _, d := range child(container, "dynamic") {
		content := one(d.Body, "content")
		fe, ok := d.Body.Attributes["for_each"]
		if len(d.Labels) != 1 || d.Labels[0] != "env" || !ok || content == nil {
			return nil, fmt.Errorf("a dynamic block other than a dynamic \"env\" with for_each and content")
		}
		m, diags := fe.Expr.Value(ctx)
		if diags.HasErrors() {
			return nil, fmt.Errorf("dynamic env: for_each: %s", diags.Error())
		}
		if !m.IsWhollyKnown() || m.IsNull() || !m.CanIterateElements() {
			return nil, fmt.Errorf("dynamic env: for_each is not known from the given variables")
		}
		iter := "env"
		if it, ok := d.Body.Attributes["iterator"]; ok {
			iter = hcl.ExprAsKeyword(it.Expr)
		}
		for it := m.ElementIterator(); it.Next(); {
			k, v := it.Element()
			ectx := ctx.NewChild()
			ectx.Variables = map[string]cty.Value{iter: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
			var nv [2]string
			for i, attr := range []string{"name", "value"} {
				a, ok := content.Body.Attributes[attr]
				if !ok {
					return nil, fmt.Errorf("dynamic env: content has no %s", attr)
				}
				av, diags := a.Expr.Value(ectx)
				if diags.HasErrors() {
					return nil, fmt.Errorf("dynamic env: %s: %s", attr, diags.Error())
				}
				sv, err := convert.Convert(av, cty.String)
				if err != nil || sv.IsNull() || !sv.IsKnown() {
					return nil, fmt.Errorf("dynamic env: %s is not a known string", attr)
				}
				nv[i] = sv.AsString()
			}
			if _, dup := env[nv[0]]; dup {
				return nil, fmt.Errorf("env %s is set twice (a module env block and the dynamic one)", nv[0])
			}
			env[nv[0]] = nv[1]
		}
	}
	return env, nil
}

// The environment the module gives the worker is one the worker's configuration accepts: with
// the example's values, and at the limits the module's validations allow.
func TestModuleEnvironmentLoads(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	tfvars, err := os.ReadFile(filepath.Join(exampleDir, "terraform.tfvars.example"))
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(tfvars, "terraform.tfvars.example", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	example := map[string]cty.Value{}
	for n, a := range f.Body.(*hclsyntax.Body).Attributes {
		if c.variables[n] == nil {
			continue
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		example[n] = v
	}
	with := func(extra map[string]cty.Value) map[string]cty.Value {
		out := map[string]cty.Value{}
		for k, v := range example {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		name string
		set  map[string]cty.Value
	}{
		{"example", example},
		{"longest reconcile timeout", with(map[string]cty.Value{"reconcile_timeout_seconds": cty.NumberIntVal(360)})},
		{"most attempts", with(map[string]cty.Value{"max_delivery_attempts": cty.NumberIntVal(100)})},
		{"fewest attempts", with(map[string]cty.Value{"max_delivery_attempts": cty.NumberIntVal(7), "retry_minimum_backoff": cty.StringVal("600s")})},
		{"fractional backoff", with(map[string]cty.Value{"retry_minimum_backoff": cty.StringVal("12.5s")})},
		{"the reconciler's own settings", with(map[string]cty.Value{"reconciler_env": cty.MapVal(map[string]cty.Value{
			"HYGIENE_MAX_FILE_LINES": cty.StringVal("300"), "HYGIENE_MAX_FILE_BYTES": cty.StringVal("65536")})})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if refused, err := c.refused(tc.set); err != nil || len(refused) > 0 {
				t.Fatalf("the module refuses these values: %v %v", refused, err)
			}
			env, err := moduleEnv(c, tc.set)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(t.Context(), envconfig.MapLookuper(env))
			if err != nil {
				t.Fatalf("the worker refuses the module's environment: %v\n%v", err, env)
			}
			if got, want := cfg.ReconcileTopicName(), env["RECONCILE_TOPIC"]; got != want || !strings.HasSuffix(got, "/topics/prreconciler-reconcile") {
				t.Errorf("RECONCILE_TOPIC: the worker publishes to %q, the module created %q", got, want)
			}
			if cfg.AckDeadline != 600*time.Second {
				t.Errorf("ACK_DEADLINE: the worker uses %s, the subscriptions 600s", cfg.AckDeadline)
			}
			if cfg.Pull() {
				t.Errorf("the module's environment puts the worker in pull mode")
			}
			// The reconciler reads its own settings from the same environment.
			hc, err := hygiene.LoadConfig(t.Context(), envconfig.MapLookuper(env))
			if err != nil {
				t.Fatalf("the diff hygiene reconciler refuses the module's environment: %v", err)
			}
			read := map[string]int{"HYGIENE_MAX_FILE_LINES": hc.MaxFileLines, "HYGIENE_MAX_FILE_BYTES": hc.MaxFileBytes}
			if rv, ok := tc.set["reconciler_env"]; ok {
				for k, v := range rv.AsValueMap() {
					if got := strconv.Itoa(read[k]); got != v.AsString() {
						t.Errorf("reconciler_env %s = %s reaches the reconciler as %s", k, v.AsString(), got)
					}
				}
			}
		})
	}
}

// standInKey is a PEM RSA key of no App, generated once, for the worker's configuration check.
var standInKey = sync.OnceValue(func() string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
})
