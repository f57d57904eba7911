package terraform_test

// The intake subscriptions' filter: counted in bytes (Pub/Sub's limit), valid Pub/Sub filter
// syntax, and delivering what the worker acts on. The Pub/Sub emulator ignores filters, so
// the text itself is checked here: with pstest's parser, and with an evaluator of the subset
// the module writes that also holds it to Pub/Sub's rule that AND and OR are not mixed
// without parentheses.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/zclconf/go-cty/cty"

	"github.com/prreconciler/prreconciler/events"
)

// pubsubFilter is a parsed filter of the subset the module writes: NOT, AND, OR,
// parentheses, attributes:KEY and attributes.KEY="VALUE".
type pubsubFilter interface {
	match(attrs map[string]string) bool
}

type (
	pfHas   string
	pfEq    struct{ key, value string }
	pfNot   struct{ x pubsubFilter }
	pfAnd   []pubsubFilter
	pfOr    []pubsubFilter
	pfParen struct{ x pubsubFilter }
)

func (k pfHas) match(a map[string]string) bool { _, ok := a[string(k)]; return ok }
func (e pfEq) match(a map[string]string) bool  { v, ok := a[e.key]; return ok && v == e.value }
func (n pfNot) match(a map[string]string) bool { return !n.x.match(a) }
func (p pfParen) match(a map[string]string) bool {
	return p.x.match(a)
}

func (l pfAnd) match(a map[string]string) bool {
	for _, x := range l {
		if !x.match(a) {
			return false
		}
	}
	return true
}

func (l pfOr) match(a map[string]string) bool {
	for _, x := range l {
		if x.match(a) {
			return true
		}
	}
	return false
}

var pfToken = regexp.MustCompile(`^(\(|\)|NOT\b|AND\b|OR\b|attributes:[A-Za-z0-9_-]+|attributes\.[A-Za-z0-9_-]+\s*=\s*"(?:[^"\\]|\\.)*")`)

// parsePubsubFilter parses f, refusing AND and OR side by side without parentheses.
func parsePubsubFilter(f string) (pubsubFilter, error) {
	var toks []string
	for rest := strings.TrimSpace(f); rest != ""; rest = strings.TrimSpace(rest) {
		m := pfToken.FindString(rest)
		if m == "" {
			return nil, fmt.Errorf("cannot read %q", rest)
		}
		toks = append(toks, m)
		rest = rest[len(m):]
	}
	p := &pfParser{toks: toks}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.i != len(toks) {
		return nil, fmt.Errorf("unexpected %q", toks[p.i])
	}
	return x, nil
}

type pfParser struct {
	toks []string
	i    int
}

func (p *pfParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

// expr is terms joined by one operator, AND or OR, never both.
func (p *pfParser) expr() (pubsubFilter, error) {
	first, err := p.term()
	if err != nil {
		return nil, err
	}
	terms, op := []pubsubFilter{first}, ""
	for p.peek() == "AND" || p.peek() == "OR" {
		if op != "" && p.peek() != op {
			return nil, fmt.Errorf("AND and OR mixed without parentheses")
		}
		op = p.peek()
		p.i++
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
	switch op {
	case "AND":
		return pfAnd(terms), nil
	case "OR":
		return pfOr(terms), nil
	}
	return first, nil
}

func (p *pfParser) term() (pubsubFilter, error) {
	t := p.peek()
	p.i++
	switch {
	case t == "NOT":
		x, err := p.term()
		return pfNot{x}, err
	case t == "(":
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return pfParen{x}, nil
	case strings.HasPrefix(t, "attributes:"):
		return pfHas(strings.TrimPrefix(t, "attributes:")), nil
	case strings.HasPrefix(t, "attributes."):
		k, v, _ := strings.Cut(strings.TrimPrefix(t, "attributes."), "=")
		uq, err := strconv.Unquote(strings.TrimSpace(v))
		if err != nil {
			return nil, err
		}
		return pfEq{strings.TrimSpace(k), uq}, nil
	}
	return nil, fmt.Errorf("unexpected %q", t)
}

func TestPubsubFilterSubset(t *testing.T) {
	for _, tc := range []struct {
		filter string
		ok     bool
	}{
		{`NOT attributes:a OR attributes.a="x" OR (attributes.a="y" AND NOT attributes.b="z")`, true},
		{`attributes.a = "x"`, true},
		{`attributes.a="x" OR attributes.a="y" AND attributes.b="z"`, false}, // Pub/Sub wants parentheses
		{`attributes.a == "x"`, false},
		{`(attributes.a="x"`, false},
	} {
		if _, err := parsePubsubFilter(tc.filter); (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok=%v", tc.filter, err, tc.ok)
		}
	}
}

// relayAttrs are the attributes of a relay event of type prefix.event (action may be "").
func relayAttrs(prefix, event, action string) map[string]string {
	a := map[string]string{"ce-type": prefix + "." + event, "ce-id": "gh-1", "ce-subject": "octo-org/hello-world"}
	if action != "" {
		a["ce-action"] = action
	}
	return a
}

func TestSubscriptionFilter(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	const def = events.DefaultTypePrefix
	events3 := cty.ListVal([]cty.Value{cty.StringVal("pull_request"), cty.StringVal("check_run"), cty.StringVal("check_suite")})
	type delivery struct {
		what  string
		attrs map[string]string
		want  bool
	}
	// What every filter with the default events must deliver or drop, at prefix p.
	common := func(p string) []delivery {
		return []delivery{
			{"a plain reconcile request", map[string]string{}, true},
			{"pull_request synchronize", relayAttrs(p, "pull_request", "synchronize"), true},
			{"check_run rerequested", relayAttrs(p, "check_run", "rerequested"), true},
			{"check_suite rerequested", relayAttrs(p, "check_suite", "rerequested"), true},
			{"check_suite completed", relayAttrs(p, "check_suite", "completed"), true},
			{"check_suite without an action", relayAttrs(p, "check_suite", ""), true},
			{"push", relayAttrs(p, "push", ""), false},
			{"pull_request of another relay", relayAttrs("other.relay", "pull_request", "opened"), false},
		}
	}
	for _, tc := range []struct {
		name   string
		prefix string
		events cty.Value
		// lean: check_suite requested dropped; fits: within 256 bytes.
		lean, fits bool
	}{
		{"defaults", def, events3, true, true},
		{"multi-byte prefix", "dév.relais.github", events3, true, true},
		// 25 characters, 35 bytes: the lean form is 250 characters but 280 bytes, so the
		// plain one (237 bytes) is used.
		{"multi-byte prefix past the lean form", strings.Repeat("é", 10) + strings.Repeat("r", 15), events3, false, true},
		// 40 characters, 45 bytes: the plain form is 252 characters, within length()'s count
		// of 256, but 267 bytes.
		{"multi-byte prefix past 256 bytes", strings.Repeat("é", 5) + strings.Repeat("r", 35), events3, false, false},
		{"one more event", def, cty.ListVal([]cty.Value{cty.StringVal("pull_request"), cty.StringVal("check_run"), cty.StringVal("check_suite"), cty.StringVal("release")}), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := opsSet()
			set["relay_type_prefix"] = cty.StringVal(tc.prefix)
			set["filter_events"] = tc.events
			filter := evalLocal(t, c, set, "subscription_filter").AsString()
			bytes, _ := evalLocal(t, c, set, "subscription_filter_bytes").AsBigFloat().Int64()
			if int(bytes) != len(filter) {
				t.Errorf("subscription_filter_bytes = %d, the filter has %d bytes (%d characters)", bytes, len(filter), utf8.RuneCountInString(filter))
			}
			if lean := strings.Contains(filter, `ce-action="requested"`); lean != tc.lean {
				t.Errorf("check_suite requested dropped: %v, want %v: %s", lean, tc.lean, filter)
			}
			// The intake subscriptions' precondition refuses exactly what does not fit.
			ok, msg := intakePreconditions(t, c, set)
			if ok != tc.fits || (len(filter) <= 256) != tc.fits {
				t.Errorf("precondition ok=%v, %d bytes; want fits=%v", ok, len(filter), tc.fits)
			}
			if !ok && !strings.Contains(msg, fmt.Sprintf("is %d bytes, more than Pub/Sub's 256", len(filter))) {
				t.Errorf("precondition message %q does not say the filter's bytes", msg)
			}
			if err := pstest.ValidateFilter(filter); err != nil {
				t.Errorf("pstest refuses the filter: %v\n%s", err, filter)
			}
			f, err := parsePubsubFilter(filter)
			if err != nil {
				t.Fatalf("%v\n%s", err, filter)
			}
			ds := append(common(tc.prefix), delivery{"check_suite requested", relayAttrs(tc.prefix, "check_suite", "requested"), !tc.lean})
			for _, d := range ds {
				if got := f.match(d.attrs); got != d.want {
					t.Errorf("%s: delivered=%v, want %v\n%s", d.what, got, d.want, filter)
				}
			}
		})
	}
	set := opsSet()
	set["filter_events"] = cty.ListValEmpty(cty.String)
	if f := evalLocal(t, c, set, "subscription_filter").AsString(); f != "" {
		t.Errorf("filter_events = []: filter %q, want none", f)
	}
}

// intakePreconditions evaluates the intake subscriptions' preconditions with set: whether they
// hold, and the message of the first that does not.
func intakePreconditions(t *testing.T, c *tfConfig, set map[string]cty.Value) (bool, string) {
	t.Helper()
	b := c.resources["google_pubsub_subscription.intake"]
	lc := one(b.Body, "lifecycle")
	if lc == nil || len(child(lc.Body, "precondition")) == 0 {
		t.Fatal("google_pubsub_subscription.intake has no precondition")
	}
	for _, p := range child(lc.Body, "precondition") {
		if v := evalAttr(t, c, set, p.Body, "condition"); v.False() {
			return false, evalStr(t, c, set, p.Body, "error_message")
		}
	}
	return true, ""
}

// Terraform itself counts the filter's bytes as the test does, from variables.tf alone.
func TestSubscriptionFilterWithTerraform(t *testing.T) {
	tf := offlineTerraform(t)
	for _, prefix := range []string{events.DefaultTypePrefix, "dév.relais.github", strings.Repeat("é", 10) + strings.Repeat("r", 15)} {
		out, err := tf.console(`jsonencode([local.subscription_filter, local.subscription_filter_bytes])`, "relay_type_prefix="+prefix)
		if err != nil {
			t.Fatalf("terraform console: %v\n%s", err, out)
		}
		// console prints the JSON as an HCL string: unquote it twice.
		s, err := strconv.Unquote(strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		var filter string
		var n int
		if _, err := fmt.Sscanf(s[strings.LastIndexByte(s, ',')+1:], "%d]", &n); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if filter, err = strconv.Unquote(s[1:strings.LastIndexByte(s, ',')]); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if n != len(filter) || !strings.Contains(filter, `"`+prefix+`.pull_request"`) {
			t.Errorf("prefix %q: Terraform counts %d bytes of a %d-byte filter %q", prefix, n, len(filter), filter)
		}
	}
}
