package terraform_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// ingressInvoker is the only resource that may name a public principal: the webhook ingress's
// invoker grant. GitHub calls the ingress without credentials; the signature authenticates it.
const ingressInvoker = "public_invokes_ingress"

// ingressOn is webhook_ingress enabled with the given further attributes.
func ingressOn(extra map[string]cty.Value) map[string]cty.Value {
	attrs := map[string]cty.Value{
		"enabled": cty.True,
		"secret":  cty.StringVal("gh-webhook-secret"),
	}
	for k, v := range extra {
		attrs[k] = v
	}
	return map[string]cty.Value{"webhook_ingress": cty.ObjectVal(attrs)}
}

// withVars adds the module's required variables (as the example sets them) to set.
func withVars(set map[string]cty.Value) map[string]cty.Value {
	out := map[string]cty.Value{
		"project_id":                    cty.StringVal("acme-ci-prod"),
		"region":                        cty.StringVal("europe-west1"),
		"image":                         cty.StringVal("europe-west1-docker.pkg.dev/acme-ci-prod/prreconciler/prreconciler@sha256:0"),
		"github_app_id":                 cty.NumberIntVal(123456),
		"github_app_private_key_secret": cty.StringVal("github-app-key"),
		"identity":                      cty.StringVal("diff-hygiene"),
	}
	for k, v := range set {
		out[k] = v
	}
	return out
}

// count is the number of instances a counted resource has with ctx (1 when it has no count).
func count(t *testing.T, ctx *hcl.EvalContext, b *hclsyntax.Block) int {
	t.Helper()
	a, ok := b.Body.Attributes["count"]
	if !ok {
		return 1
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() {
		t.Fatalf("%s.%s: count does not evaluate: %v", b.Labels[0], b.Labels[1], diags)
	}
	n, _ := v.AsBigFloat().Int64()
	return int(n)
}

// evalIn evaluates attribute name of b in ctx, with count.index = 0 (the module's counted
// resources have at most one instance).
func evalIn(t *testing.T, ctx *hcl.EvalContext, b *hclsyntax.Body, name string) cty.Value {
	t.Helper()
	a, ok := b.Attributes[name]
	if !ok {
		t.Fatalf("%s is not set", name)
	}
	ectx := ctx.NewChild()
	ectx.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(0)})}
	v, diags := a.Expr.Value(ectx)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", name, diags.Error())
	}
	return v
}

// envOf expands a container's env blocks, static and dynamic, in ctx: by name, the block body
// that gives its value (and the iterator's value for a dynamic one).
type envEntry struct {
	body  *hclsyntax.Body
	ctx   *hcl.EvalContext
	value cty.Value // the value attribute, cty.NilVal when the entry has none
}

func envOf(t *testing.T, ctx *hcl.EvalContext, container *hclsyntax.Body) map[string]envEntry {
	t.Helper()
	out := map[string]envEntry{}
	add := func(b *hclsyntax.Body, ectx *hcl.EvalContext) {
		name := evalIn(t, ectx, b, "name").AsString()
		e := envEntry{body: b, ctx: ectx, value: cty.NilVal}
		if _, ok := b.Attributes["value"]; ok {
			e.value = evalIn(t, ectx, b, "value")
		}
		if _, dup := out[name]; dup {
			t.Errorf("env %s is set twice", name)
		}
		out[name] = e
	}
	for _, b := range child(container, "env") {
		add(b.Body, ctx)
	}
	for _, d := range child(container, "dynamic") {
		if len(d.Labels) != 1 || d.Labels[0] != "env" {
			continue
		}
		items := evalIn(t, ctx, d.Body, "for_each")
		content := one(d.Body, "content")
		for it := items.ElementIterator(); it.Next(); {
			k, v := it.Element()
			ectx := ctx.NewChild()
			ectx.Variables = map[string]cty.Value{"env": cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
			add(content.Body, ectx)
		}
	}
	return out
}

// TestWebhookIngress evaluates the module with the ingress off and on: off, nothing of it
// exists and the intake subscriptions are the relay topics' alone; on, the ingress runs the
// worker's image in ingress mode with the secret by reference, its account's only grants are
// publishing to its topic and reading the secret(s), it is the only public service and the
// intake stage consumes its topic.
func TestWebhookIngress(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	relay := map[string]cty.Value{"relay_topics": cty.MapVal(map[string]cty.Value{"github": cty.StringVal("projects/acme-relay/topics/github-events")})}
	for _, tc := range []struct {
		name     string
		set      map[string]cty.Value
		on       bool
		topic    string   // RELAY_TOPIC and the intake subscription's topic
		secrets  []string // the secrets the ingress account reads, full paths
		env      map[string]string
		previous bool
	}{
		{name: "off by default", set: relay},
		{
			name:    "on, its own topic",
			set:     ingressOn(nil),
			on:      true,
			topic:   "projects/acme-ci-prod/topics/prreconciler-webhooks",
			secrets: []string{"projects/acme-ci-prod/secrets/gh-webhook-secret"},
			env:     map[string]string{"MODE": "ingress", "RELAY_TYPE_PREFIX": "dev.chainguard.github", "GOOGLE_CLOUD_PROJECT": "acme-ci-prod"},
		},
		{
			name: "on beside a relay, a given topic, a rotation and a publish deadline",
			set: func() map[string]cty.Value {
				s := ingressOn(map[string]cty.Value{
					"topic":           cty.StringVal("projects/acme-shared/topics/github-hooks"),
					"previous_secret": cty.StringVal("projects/acme-sec/secrets/old-hook"),
					"publish_timeout": cty.StringVal("5s"),
				})
				s["relay_topics"] = relay["relay_topics"]
				s["relay_type_prefix"] = cty.StringVal("com.example.github")
				return s
			}(),
			on:       true,
			topic:    "projects/acme-shared/topics/github-hooks",
			secrets:  []string{"projects/acme-ci-prod/secrets/gh-webhook-secret", "projects/acme-sec/secrets/old-hook"},
			env:      map[string]string{"MODE": "ingress", "RELAY_TYPE_PREFIX": "com.example.github", "WEBHOOK_PUBLISH_TIMEOUT": "5s"},
			previous: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := withVars(tc.set)
			if refused, err := c.refused(set); err != nil || len(refused) > 0 {
				t.Fatalf("the module refuses these values: %v %v", refused, err)
			}
			ctx, err := c.evalContext(set)
			if err != nil {
				t.Fatal(err)
			}

			// The intake subscriptions: the relay topics, and the ingress's as key "ingress".
			intake := c.resources["google_pubsub_subscription.intake"]
			subs := evalIn(t, ctx, intake.Body, "for_each")
			wantKeys := []string{}
			if tc.set["relay_topics"] != cty.NilVal {
				wantKeys = append(wantKeys, "github")
			}
			topics := map[string]string{}
			var keys []string
			for it := subs.ElementIterator(); it.Next(); {
				k, v := it.Element()
				keys = append(keys, k.AsString())
				topics[k.AsString()] = v.AsString()
			}
			if tc.on {
				wantKeys = append(wantKeys, "ingress")
				if got := topics["ingress"]; got != tc.topic {
					t.Errorf("the intake subscription \"ingress\" reads %q, want %q", got, tc.topic)
				}
			}
			sort.Strings(keys)
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("intake subscriptions %v, want %v", keys, wantKeys)
			}

			// Every resource of the ingress exists only with it on.
			for key, b := range c.resources {
				if !strings.Contains(key, "ingress") && !strings.Contains(key, "webhooks") {
					continue
				}
				n := 0
				if fe, ok := b.Body.Attributes["for_each"]; ok {
					v, diags := fe.Expr.Value(ctx)
					if diags.HasErrors() {
						t.Fatalf("%s: for_each: %v", key, diags)
					}
					n = v.LengthInt()
				} else {
					n = count(t, ctx, b)
				}
				want := 0
				switch {
				case key == "google_pubsub_topic.webhooks":
					if tc.on && strings.HasSuffix(tc.topic, "/prreconciler-webhooks") { // created, not given
						want = 1
					}
				case key == "google_secret_manager_secret_iam_member.ingress_reads_webhook_secret":
					want = len(tc.secrets)
				case tc.on:
					want = 1
				}
				if n != want {
					t.Errorf("%s has %d instances, want %d", key, n, want)
				}
			}
			url := evalIn(t, ctx, c.outputs["webhook_url"].Body, "value")
			if !tc.on {
				if !url.IsNull() {
					t.Errorf("webhook_url is %#v with the ingress off, want null", url)
				}
				return
			}
			if url.AsString() != mockServiceURI+"/webhook" {
				t.Errorf("webhook_url is %q, want the ingress's uri + /webhook", url.AsString())
			}

			checkIngressGrants(t, c, ctx, tc.topic, tc.secrets)
			checkWorkerPrivate(t, c, ctx)

			// The ingress: the worker's image, in ingress mode, the secret by reference.
			svc := c.resources["google_cloud_run_v2_service.ingress"]
			tmpl := one(svc.Body, "template")
			if sa := attrRefs(tmpl.Body, "service_account"); !slices.Contains(sa, "google_service_account.ingress[0].email") && !slices.Contains(sa, "google_service_account.ingress.email") {
				t.Errorf("the ingress runs as %v, want its own service account", sa)
			}
			if !refersTo(one(tmpl.Body, "containers").Body, "image", "var.image") {
				t.Errorf("the ingress's container does not run var.image, the worker's")
			}
			for _, n := range []string{"max_instance_request_concurrency"} {
				if !refersTo(tmpl.Body, n, "var.webhook_ingress") {
					t.Errorf("template.%s is not set from webhook_ingress", n)
				}
			}
			for _, n := range []string{"min_instance_count", "max_instance_count"} {
				if !refersTo(one(tmpl.Body, "scaling").Body, n, "var.webhook_ingress") {
					t.Errorf("scaling.%s is not set from webhook_ingress", n)
				}
			}
			env := envOf(t, ctx, one(tmpl.Body, "containers").Body)
			want := map[string]string{"RELAY_TOPIC": tc.topic}
			for k, v := range tc.env {
				want[k] = v
			}
			for k, v := range want {
				e, ok := env[k]
				if !ok || e.value == cty.NilVal || e.value.AsString() != v {
					t.Errorf("env %s = %#v, want %q", k, e.value, v)
				}
			}
			if _, ok := env["WEBHOOK_PUBLISH_TIMEOUT"]; ok != (tc.env["WEBHOOK_PUBLISH_TIMEOUT"] != "") {
				t.Errorf("WEBHOOK_PUBLISH_TIMEOUT set = %v, want it only when publish_timeout is", ok)
			}
			// In ingress mode the process needs no App key or identity: the public service
			// must not hold the key.
			for _, n := range []string{"GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_PRIVATE_KEY_FILE", "IDENTITY", "RECONCILE_TOPIC"} {
				if _, ok := env[n]; ok {
					t.Errorf("the ingress sets %s, which only the worker needs", n)
				}
			}
			wantSecrets := map[string]string{"WEBHOOK_SECRET": tc.secrets[0]}
			if tc.previous {
				wantSecrets["WEBHOOK_SECRET_PREVIOUS"] = tc.secrets[1]
			} else if _, ok := env["WEBHOOK_SECRET_PREVIOUS"]; ok {
				t.Errorf("WEBHOOK_SECRET_PREVIOUS is set without previous_secret")
			}
			for n, full := range wantSecrets {
				e, ok := env[n]
				if !ok {
					t.Errorf("env %s is not set", n)
					continue
				}
				// By reference: a value would put the secret in the state and the spec.
				if e.value != cty.NilVal {
					t.Errorf("env %s has a value; it must come from Secret Manager by value_source.secret_key_ref", n)
				}
				ref := path(e.body, "value_source", "secret_key_ref")
				if ref == nil {
					t.Errorf("env %s has no value_source.secret_key_ref", n)
					continue
				}
				got := evalIn(t, e.ctx, ref.Body, "secret").AsString()
				if got != full && "projects/acme-ci-prod/secrets/"+got != full {
					t.Errorf("env %s reads secret %q, the grant is on %q", n, got, full)
				}
				if v := evalIn(t, e.ctx, ref.Body, "version").AsString(); v != "latest" {
					t.Errorf("env %s reads version %q, want the default latest", n, v)
				}
			}
		})
	}
}

// checkIngressGrants checks that the ingress's service account has exactly two kinds of
// grants: roles/pubsub.publisher on its topic and roles/secretmanager.secretAccessor on the
// webhook secret(s).
func checkIngressGrants(t *testing.T, c *tfConfig, ctx *hcl.EvalContext, topic string, secrets []string) {
	t.Helper()
	var got []string
	for key, b := range c.resources {
		if !refersTo(b.Body, "member", "google_service_account.ingress") {
			continue
		}
		role := evalIn(t, ctx, b.Body, "role").AsString()
		switch b.Labels[0] {
		case "google_pubsub_topic_iam_member":
			got = append(got, fmt.Sprintf("%s on topic %s", role, evalIn(t, ctx, b.Body, "topic").AsString()))
		case "google_secret_manager_secret_iam_member":
			fe := evalIn(t, ctx, b.Body, "for_each")
			for it := fe.ElementIterator(); it.Next(); {
				k, v := it.Element()
				ectx := ctx.NewChild()
				ectx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
				got = append(got, fmt.Sprintf("%s on secret %s", role, evalIn(t, ectx, b.Body, "secret_id").AsString()))
			}
		default:
			got = append(got, fmt.Sprintf("%s: %s", key, role))
		}
	}
	want := []string{"roles/pubsub.publisher on topic " + topic}
	for _, s := range secrets {
		want = append(want, "roles/secretmanager.secretAccessor on secret "+s)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("the ingress's account has the grants\n%s\nwant only\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Nothing else names the account: no project role, no role on the worker's resources.
	for key, b := range c.resources {
		if strings.HasPrefix(b.Labels[0], "google_project_iam") && refersTo(b.Body, "member", "google_service_account.ingress") {
			t.Errorf("%s grants the ingress's account a project role", key)
		}
	}
}

// checkWorkerPrivate checks, with the ingress on, that the worker service's only invoker is
// the push account and that the public grant names the ingress service alone.
func checkWorkerPrivate(t *testing.T, c *tfConfig, ctx *hcl.EvalContext) {
	t.Helper()
	publics := 0
	for name, b := range c.ofType("google_cloud_run_v2_service_iam_member") {
		n := count(t, ctx, b)
		if n == 0 {
			continue
		}
		member := evalIn(t, ctx, b.Body, "member").AsString()
		public := member == "allUsers" || member == "allAuthenticatedUsers"
		switch {
		case refersTo(b.Body, "name", "google_cloud_run_v2_service.worker"):
			if public || member != "serviceAccount:prreconciler-push@acme-ci-prod.iam.gserviceaccount.com" {
				t.Errorf("google_cloud_run_v2_service_iam_member.%s: the worker is invoked by %q, want the push account only", name, member)
			}
		case refersTo(b.Body, "name", "google_cloud_run_v2_service.ingress"):
			if public {
				publics++
			}
		default:
			t.Errorf("google_cloud_run_v2_service_iam_member.%s names neither service", name)
		}
		if public && name != ingressInvoker {
			t.Errorf("google_cloud_run_v2_service_iam_member.%s is public", name)
		}
	}
	if publics != 1 {
		t.Errorf("want one public invoker grant on the ingress, have %d", publics)
	}
	worker := c.resources["google_cloud_run_v2_service.worker"]
	if v, ok := literal(worker.Body, "invoker_iam_disabled"); ok && v.True() {
		t.Errorf("the worker has invoker_iam_disabled: public")
	}
	for _, typ := range []string{"google_cloud_run_v2_service_iam_binding", "google_cloud_run_v2_service_iam_policy"} {
		if len(c.ofType(typ)) > 0 {
			t.Errorf("%s would replace the worker's invokers", typ)
		}
	}
}

// redeliverInvoker is the scheduler's grant to run the redeliver job.
const redeliverInvoker = "scheduler_runs_redeliver"

// TestRedeliverJob evaluates the redeliver job off (the default: nothing of it exists) and on:
// the job runs the worker's image as `redeliver -since <since>` with the App's settings only,
// the key by reference; the scheduler calls the Run Admin API's run method of that job with an
// OAuth token of an account whose only grant is roles/run.invoker on the job.
func TestRedeliverJob(t *testing.T) {
	c := loadModule(t, readTF(t, moduleDir))
	relay := cty.MapVal(map[string]cty.Value{"github": cty.StringVal("github-events")})
	for _, tc := range []struct {
		name  string
		set   map[string]cty.Value
		on    bool
		since string
	}{
		{name: "off by default", set: map[string]cty.Value{"relay_topics": relay}},
		{name: "on", set: map[string]cty.Value{"relay_topics": relay, "redeliver": cty.ObjectVal(map[string]cty.Value{"enabled": cty.True})}, on: true, since: "24h"},
		{name: "on, a window of its own", set: map[string]cty.Value{"relay_topics": relay, "redeliver": cty.ObjectVal(map[string]cty.Value{"enabled": cty.True, "since": cty.StringVal("6h"), "schedule": cty.StringVal("*/30 * * * *")})}, on: true, since: "6h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := withVars(tc.set)
			if refused, err := c.refused(set); err != nil || len(refused) > 0 {
				t.Fatalf("the module refuses these values: %v %v", refused, err)
			}
			ctx, err := c.evalContext(set)
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{"google_cloud_run_v2_job.redeliver", "google_cloud_scheduler_job.redeliver", "google_service_account.scheduler", "google_cloud_run_v2_job_iam_member." + redeliverInvoker} {
				b := c.resources[key]
				if b == nil {
					t.Fatalf("no %s", key)
				}
				want := 0
				if tc.on {
					want = 1
				}
				if n := count(t, ctx, b); n != want {
					t.Errorf("%s has %d instances, want %d", key, n, want)
				}
			}
			apis := ctx.Variables["local"].GetAttr("apis")
			got := false
			for it := apis.ElementIterator(); it.Next(); {
				_, v := it.Element()
				got = got || v.AsString() == "cloudscheduler.googleapis.com"
			}
			if got != tc.on {
				t.Errorf("enable_apis would enable Cloud Scheduler: %v, want %v", got, tc.on)
			}
			if !tc.on {
				if out := evalIn(t, ctx, c.outputs["redeliver_job"].Body, "value"); !out.IsNull() {
					t.Errorf("redeliver_job is %#v with the job off", out)
				}
				return
			}

			job := c.resources["google_cloud_run_v2_job.redeliver"]
			tmpl := path(job.Body, "template", "template")
			container := one(tmpl.Body, "containers").Body
			if !refersTo(container, "image", "var.image") {
				t.Errorf("the job does not run var.image")
			}
			var args []string
			for it := evalIn(t, ctx, container, "args").ElementIterator(); it.Next(); {
				_, v := it.Element()
				args = append(args, v.AsString())
			}
			if want := []string{"redeliver", "-since", tc.since}; !slices.Equal(args, want) {
				t.Errorf("the job's args are %q, want %q", args, want)
			}
			env := envOf(t, ctx, container)
			var names []string
			for n := range env {
				names = append(names, n)
			}
			sort.Strings(names)
			if want := []string{"GITHUB_API_URL", "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY"}; !slices.Equal(names, want) {
				t.Errorf("the job's env is %v, want %v", names, want)
			}
			key := env["GITHUB_APP_PRIVATE_KEY"]
			if key.value != cty.NilVal || path(key.body, "value_source", "secret_key_ref") == nil {
				t.Errorf("GITHUB_APP_PRIVATE_KEY is not read from Secret Manager by reference")
			}
			// The worker's account already reads the key: the job needs no grant of its own.
			if sa := attrRefs(tmpl.Body, "service_account"); !slices.Contains(sa, "google_service_account.worker.email") {
				t.Errorf("the job runs as %v, want the worker's account", sa)
			}

			sched := c.resources["google_cloud_scheduler_job.redeliver"]
			ht := one(sched.Body, "http_target")
			wantURI := "https://run.googleapis.com/v2/projects/acme-ci-prod/locations/europe-west1/jobs/prreconciler-redeliver:run"
			if uri := evalIn(t, ctx, ht.Body, "uri").AsString(); uri != wantURI {
				t.Errorf("the scheduler calls %q, want %q", uri, wantURI)
			}
			if name := evalIn(t, ctx, job.Body, "name").AsString(); !strings.HasSuffix(wantURI, "/jobs/"+name+":run") {
				t.Errorf("the scheduler's URI does not name the job %q", name)
			}
			if m := evalIn(t, ctx, ht.Body, "http_method").AsString(); m != "POST" {
				t.Errorf("the scheduler's method is %s, want POST", m)
			}
			tok := one(ht.Body, "oauth_token")
			if tok == nil || !refersTo(tok.Body, "service_account_email", "google_service_account.scheduler") {
				t.Fatalf("the scheduler does not call with an OAuth token of its own account")
			}
			if _, ok := ht.Body.Attributes["body"]; ok {
				t.Errorf("the scheduler sends a body: overrides need more than roles/run.invoker")
			}

			// The scheduler's account: roles/run.invoker on the job, nothing else.
			var grants []string
			for k, b := range c.resources {
				if refersTo(b.Body, "member", "google_service_account.scheduler") {
					grants = append(grants, k+" "+evalIn(t, ctx, b.Body, "role").AsString())
				}
			}
			if want := []string{"google_cloud_run_v2_job_iam_member." + redeliverInvoker + " roles/run.invoker"}; !slices.Equal(grants, want) {
				t.Errorf("the scheduler's account has %v, want %v", grants, want)
			}
			if !refersTo(c.resources["google_cloud_run_v2_job_iam_member."+redeliverInvoker].Body, "name", "google_cloud_run_v2_job.redeliver") {
				t.Errorf("the scheduler's role is not on the redeliver job")
			}
		})
	}
}
