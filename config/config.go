// Package config reads and validates the environment of a reconciler process.
//
// Worker holds the variables every reconciler binary reads. Load reads all of them and
// validates them as a whole, so that a bad start names every problem at once (Errors).
//
// A reconciler with settings of its own keeps them in a go-envconfig struct of its own, reads
// them from the same environment with Process, and documents them with VariablesOf.
package config

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/events"
)

// Worker is the environment of a reconciler binary, such as any worker.Main. The `env` tag is
// read by go-envconfig. The `desc` tag documents the variable (see Variables). The
// `required:"true"` tag marks what Validate insists on, which the deployment must set.
type Worker struct {
	Mode string `env:"MODE, default=worker" desc:"what the process serves: worker (the intake and reconcile stages, push or pull) or ingress (only POST /webhook, GitHub's signed webhook deliveries published to RELAY_TOPIC, and GET /healthz; needs none of the GitHub App's variables)"`

	AppID          int64  `env:"GITHUB_APP_ID" required:"true" desc:"the GitHub App's id (MODE=worker)"`
	PrivateKey     string `env:"GITHUB_APP_PRIVATE_KEY" desc:"the App's PEM private key (or use GITHUB_APP_PRIVATE_KEY_FILE); from Secret Manager in production"`
	PrivateKeyFile string `env:"GITHUB_APP_PRIVATE_KEY_FILE" desc:"path of a file holding the App's PEM private key"`
	APIURL         string `env:"GITHUB_API_URL, default=https://api.github.com/" desc:"GitHub REST API root; GitHub Enterprise (https://HOST/api/v3/) or a fake otherwise"`
	Identity       string `env:"IDENTITY" required:"true" desc:"the check run name, which is also the reconciler's identity (MODE=worker)"`

	Port               int           `env:"PORT, default=8080" desc:"the listen port: in push mode POST /intake, POST /reconcile (and /), GET /healthz; in MODE=ingress POST /webhook, GET /healthz"`
	Subscription       string        `env:"PUBSUB_SUBSCRIPTION" desc:"when set, pull the reconcile stage from this ordered subscription of the reconcile topic (projects/P/subscriptions/S, or S with GOOGLE_CLOUD_PROJECT)"`
	IntakeSubscription string        `env:"INTAKE_SUBSCRIPTION" desc:"when set, pull the intake stage from this subscription of a relay topic (needs RECONCILE_TOPIC)"`
	ReconcileTopic     string        `env:"RECONCILE_TOPIC" desc:"the reconcile topic the intake stage publishes to, ordering key owner/repo@sha (projects/P/topics/T, or T with GOOGLE_CLOUD_PROJECT); required to serve intake, push or pull"`
	AckDeadline        time.Duration `env:"ACK_DEADLINE, default=10m" desc:"the reconcile subscription's ack deadline (pull: how long a message's lease is kept): each message's work, GitHub calls and final writes included, ends before it; 2m20s to 10m"`
	Project            string        `env:"GOOGLE_CLOUD_PROJECT" desc:"the Google Cloud project (else the metadata server, only on Cloud Run)"`
	EmulatorHost       string        `env:"PUBSUB_EMULATOR_HOST" desc:"host:port of a Pub/Sub emulator; honoured by the Pub/Sub client"`

	MaxInFlight         int           `env:"MAX_IN_FLIGHT, default=10" desc:"messages reconciled at once (pull mode's flow control; in push mode further pushes wait for a slot)"`
	ReconcileTimeout    time.Duration `env:"RECONCILE_TIMEOUT, default=5m" desc:"deadline of the reconciler itself; with 2m for the final status writes and a 10s margin it must fit in ACK_DEADLINE (at most 7m50s at the default)"`
	InProgressAfter     time.Duration `env:"IN_PROGRESS_AFTER, default=3s" desc:"how long a reconcile runs before its check run is written in_progress; one that ends sooner creates its run completed in one write (a rate-limit point less per commit); 0 writes in_progress before every reconcile"`
	ShutdownGrace       time.Duration `env:"SHUTDOWN_GRACE, default=8s" desc:"on SIGTERM, how long in-flight work may finish before it is nacked"`
	MaxDeliveryAttempts int           `env:"MAX_DELIVERY_ATTEMPTS, default=15" desc:"the dead-letter policy's max_delivery_attempts; at the last attempt a transient failure completes the run as failed"`
	RetryMinBackoff     time.Duration `env:"RETRY_MINIMUM_BACKOFF, default=10s" desc:"the subscription retry policy's minimum_backoff (for the retry window check)"`
	RetryMaxBackoff     time.Duration `env:"RETRY_MAXIMUM_BACKOFF, default=600s" desc:"the subscription retry policy's maximum_backoff (for the retry window check)"`
	MinRetryWindow      time.Duration `env:"MIN_RETRY_WINDOW, default=1h" desc:"refuse to start when the redeliveries of MAX_DELIVERY_ATTEMPTS with the retry policy span less than this (GitHub's rate limit resets hourly); 0 turns the check off"`
	RetryBudget         time.Duration `env:"GITHUB_RETRY_BUDGET, default=30s" desc:"how long one GitHub request may wait on secondary rate limits and 5xx retries; beyond it the message is nacked and comes back later"`
	BudgetReserve       int           `env:"GITHUB_BUDGET_RESERVE, default=10" desc:"rate-limit points kept back when admitting a commit, for runs already started; a commit starts only when its installation's known budget covers its cost and this"`
	ResetJitter         time.Duration `env:"GITHUB_RESET_JITTER, default=30s" desc:"after GitHub's rate limit resets (or a pause it asked for ends), each instance waits a random delay up to this before starting new work, so instances do not stampede"`
	DetailsURLTemplate  string        `env:"DETAILS_URL_TEMPLATE" desc:"the check runs' details link as a Go text/template of the request's labels and the run's time window ({{.PRURL}}, {{.SHA}}, {{.Owner}}, {{.Repo}}, {{.Number}}, {{.Identity}}, {{.Project}}, {{.Service}}, {{.Query}}, {{.Start}}, {{.End}}; functions urlquery, queryescape, pathescape, rfc3339, unixmilli), for logs kept elsewhere; default: the Cloud Logging link of the run's records"`
	RelayTypePrefix     string        `env:"RELAY_TYPE_PREFIX, default=dev.chainguard.github" desc:"CloudEvents type prefix of the webhook relay"`

	WebhookSecret         string        `env:"WEBHOOK_SECRET" desc:"MODE=ingress (required): the webhook secret of the GitHub App's settings; a delivery's X-Hub-Signature-256 must be made with it (or WEBHOOK_SECRET_PREVIOUS); from Secret Manager in production, never logged"`
	WebhookSecretPrevious string        `env:"WEBHOOK_SECRET_PREVIOUS" desc:"MODE=ingress: the previous webhook secret, also accepted during a rotation; unset it once GitHub signs with the new one"`
	RelayTopic            string        `env:"RELAY_TOPIC" desc:"MODE=ingress (required): the relay topic the ingress publishes each delivery to, in the webhook relay's format (projects/P/topics/T, or T with GOOGLE_CLOUD_PROJECT)"`
	WebhookPublishTimeout time.Duration `env:"WEBHOOK_PUBLISH_TIMEOUT, default=8s" desc:"MODE=ingress: how long a delivery's publish may take before it is answered 503; above 0 and below GitHub's 10s delivery timeout"`

	PushAudience       string `env:"PUSH_AUDIENCE" desc:"when set, verify each push's OIDC token for this audience, for a worker not behind Cloud Run's IAM check (needs PUSH_SERVICE_ACCOUNT)"`
	PushServiceAccount string `env:"PUSH_SERVICE_ACCOUNT" desc:"with PUSH_AUDIENCE, the service account emails a push token may carry (comma-separated, several for a rotation); required with it, since anyone can mint a Google token for any audience"`

	LogLevel       string `env:"LOG_LEVEL, default=info" desc:"debug, info, warn or error"`
	LogDestination string `env:"LOG_DESTINATION, default=auto" desc:"where logs go: stdout (JSON lines for the platform's agent), api (the Cloud Logging API; needs roles/logging.logWriter), or auto: stdout on Cloud Run, on GKE and beside a Pub/Sub emulator, else api when credentials and a project are found, else stdout"`
	LogFormat      string `env:"LOG_FORMAT" desc:"how stdout lines look: json (for the platform's agent) or text (one readable line per record, for people); empty: text when stdout is a terminal, else json. Does not apply with LOG_DESTINATION=api"`
}

// MaxAckDeadline is Pub/Sub's largest ack deadline, and MinAckDeadline its smallest.
const (
	MaxAckDeadline = 10 * time.Minute
	MinAckDeadline = 10 * time.Second
)

// MinReconcileTimeout is the shortest RECONCILE_TIMEOUT. MinUsableAckDeadline is the shortest
// ACK_DEADLINE a worker can run in: the shortest reconcile, the final status writes and the
// margin. It is above Pub/Sub's own minimum, MinAckDeadline.
const (
	MinReconcileTimeout  = 10 * time.Second
	MinUsableAckDeadline = MinReconcileTimeout + FinalWritesReserve + DeadlineMargin
)

// FinalWritesReserve is the time a message's deadline keeps after the reconciler for the
// status writes that record its result: two writes of a minute at most. DeadlineMargin is
// the time it keeps before the ack deadline for the answer to reach Pub/Sub.
// RECONCILE_TIMEOUT must fit in ACK_DEADLINE less both.
const (
	FinalWritesReserve = 2 * time.Minute
	DeadlineMargin     = 10 * time.Second
)

// Load reads the configuration from l (the process environment when nil) and validates it.
func Load(ctx context.Context, l envconfig.Lookuper) (*Worker, error) {
	if l == nil {
		l = envconfig.OsLookuper()
	}
	var c Worker
	var errs Errors
	if err := Process(ctx, l, &c); err != nil && !errors.As(err, &errs) {
		return nil, err
	}
	// A variable that did not parse holds its zero value: what Validate says of it would be
	// a second, wrong message.
	for _, e := range c.problems() {
		if !errs.has(e.Name) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("config: %w", errs)
	}
	return &c, nil
}

// Process modes (MODE).
const (
	// ModeWorker serves the intake and reconcile stages (the default).
	ModeWorker = "worker"
	// ModeIngress serves only the webhook ingress: POST /webhook and GET /healthz.
	ModeIngress = "ingress"
)

// MaxWebhookPublishTimeout is GitHub's delivery timeout: an answer later than it is a failed
// delivery whatever it says.
const MaxWebhookPublishTimeout = 10 * time.Second

// Ingress reports whether the process is the webhook ingress (MODE=ingress).
func (c *Worker) Ingress() bool { return c.Mode == ModeIngress }

// WebhookSecrets returns the secrets a webhook delivery may be signed with: WEBHOOK_SECRET,
// then WEBHOOK_SECRET_PREVIOUS when set.
func (c *Worker) WebhookSecrets() []string {
	var out []string
	for _, s := range []string{c.WebhookSecret, c.WebhookSecretPrevious} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// RelayTopicName returns the relay topic's full resource name ("" when unset).
func (c *Worker) RelayTopicName() string { return c.fullName(c.RelayTopic, "topics") }

// Validate reports every missing or bad variable at once, each by name once, in an Errors.
// In MODE=ingress the GitHub App's variables and IDENTITY are not checked, and
// WEBHOOK_SECRET and RELAY_TOPIC are.
func (c *Worker) Validate() error {
	if errs := c.problems(); len(errs) > 0 {
		return fmt.Errorf("config: %w", errs)
	}
	return nil
}

// problems returns the problem of each bad variable of c.
func (c *Worker) problems() Errors {
	var errs Errors
	bad := func(name, format string, args ...any) {
		if !errs.has(name) {
			errs.add(name, fmt.Sprintf(format, args...))
		}
	}
	switch c.Mode {
	case ModeWorker, ModeIngress, "": // "": a Worker built in code, a worker
	default:
		bad("MODE", "%q is neither %s nor %s", c.Mode, ModeWorker, ModeIngress)
	}
	if c.Ingress() {
		c.ingressProblems(bad)
		c.logProblems(bad)
		return errs
	}
	appProblems(c.AppID, c.PrivateKey, c.PrivateKeyFile, c.APIURL, bad)
	if c.Identity == "" {
		bad("IDENTITY", "is required (the check run name)")
	} else if err := events.ValidateIdentity(c.Identity); err != nil {
		var fe *events.FieldError
		if errors.As(err, &fe) {
			bad("IDENTITY", "%q %s", c.Identity, fe.Reason)
		} else {
			bad("IDENTITY", "%v", err)
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("PORT", "%d is not a TCP port", c.Port)
	}
	resourceName := func(name, value, kind string) { resourceNameProblem(c.Project, name, value, kind, bad) }
	resourceName("PUBSUB_SUBSCRIPTION", c.Subscription, "subscriptions")
	resourceName("INTAKE_SUBSCRIPTION", c.IntakeSubscription, "subscriptions")
	resourceName("RECONCILE_TOPIC", c.ReconcileTopic, "topics")
	if c.IntakeSubscription != "" && c.ReconcileTopic == "" {
		bad("INTAKE_SUBSCRIPTION", "needs RECONCILE_TOPIC, the topic the intake stage publishes to")
	}
	if c.IntakeSubscription != "" && c.Subscription != "" && c.IntakeSubscriptionName() == c.SubscriptionName() {
		bad("INTAKE_SUBSCRIPTION", "is PUBSUB_SUBSCRIPTION too; the intake and the reconcile stage need a subscription each")
	}
	ackOK := c.AckDeadline >= MinUsableAckDeadline && c.AckDeadline <= MaxAckDeadline
	if !ackOK {
		bad("ACK_DEADLINE", "%s must be between %s and %s: it holds the reconciler's RECONCILE_TIMEOUT (at least %s), %s for the final status writes and a %s margin, and Pub/Sub allows at most %s",
			c.AckDeadline, MinUsableAckDeadline, MaxAckDeadline, MinReconcileTimeout, FinalWritesReserve, DeadlineMargin, MaxAckDeadline)
	}
	if c.MaxInFlight < 1 {
		bad("MAX_IN_FLIGHT", "must be at least 1")
	}
	switch most := c.MaxReconcileTimeout(); {
	case c.ReconcileTimeout < MinReconcileTimeout:
		bad("RECONCILE_TIMEOUT", "%s must be at least %s", c.ReconcileTimeout, MinReconcileTimeout)
	case ackOK && c.ReconcileTimeout > most:
		// Only against a usable ACK_DEADLINE: a bad one is blamed on itself, above.
		bad("RECONCILE_TIMEOUT", "%s must be at most %s: ACK_DEADLINE %s less %s for the final status writes and a %s margin (or raise ACK_DEADLINE, up to %s)",
			c.ReconcileTimeout, most, c.AckDeadline, FinalWritesReserve, DeadlineMargin, MaxAckDeadline)
	}
	if c.InProgressAfter < 0 || c.InProgressAfter > c.ReconcileTimeout {
		bad("IN_PROGRESS_AFTER", "%s must be between 0s and RECONCILE_TIMEOUT %s", c.InProgressAfter, c.ReconcileTimeout)
	}
	if c.ShutdownGrace < 0 {
		bad("SHUTDOWN_GRACE", "must not be negative")
	}
	if c.MaxDeliveryAttempts < 1 || c.MaxDeliveryAttempts > 100 {
		bad("MAX_DELIVERY_ATTEMPTS", "%d must be between 1 and 100", c.MaxDeliveryAttempts)
	}
	backoffOK := true
	for _, b := range []struct {
		name string
		d    time.Duration
	}{{"RETRY_MINIMUM_BACKOFF", c.RetryMinBackoff}, {"RETRY_MAXIMUM_BACKOFF", c.RetryMaxBackoff}} {
		if b.d < 0 || b.d > MaxBackoff {
			bad(b.name, "%s must be between 0s and %s, as Pub/Sub's retry policy's", b.d, MaxBackoff)
			backoffOK = false
		}
	}
	if backoffOK && c.RetryMaxBackoff < c.RetryMinBackoff {
		bad("RETRY_MAXIMUM_BACKOFF", "%s is below RETRY_MINIMUM_BACKOFF %s", c.RetryMaxBackoff, c.RetryMinBackoff)
		backoffOK = false
	}
	if c.MinRetryWindow < 0 {
		bad("MIN_RETRY_WINDOW", "must not be negative")
	} else if backoffOK && c.MaxDeliveryAttempts >= 1 && c.MinRetryWindow > 0 {
		if w := RetryWindow(c.RetryMinBackoff, c.RetryMaxBackoff, c.MaxDeliveryAttempts); w < c.MinRetryWindow {
			bad("MAX_DELIVERY_ATTEMPTS", "%d attempts with backoff %s to %s span %s of redeliveries, less than MIN_RETRY_WINDOW %s: a message would be given up before GitHub's rate limit resets; raise the attempts",
				c.MaxDeliveryAttempts, c.RetryMinBackoff, c.RetryMaxBackoff, w, c.MinRetryWindow)
		}
	}
	if c.RetryBudget < 0 {
		bad("GITHUB_RETRY_BUDGET", "must not be negative")
	}
	if c.BudgetReserve < 0 {
		bad("GITHUB_BUDGET_RESERVE", "must not be negative")
	}
	if c.ResetJitter < 0 || c.ResetJitter > 10*time.Minute {
		bad("GITHUB_RESET_JITTER", "%s must be between 0s and 10m", c.ResetJitter)
	}
	if c.RelayTypePrefix == "" {
		bad("RELAY_TYPE_PREFIX", "must not be empty")
	}
	switch accounts := c.PushServiceAccounts(); {
	case len(accounts) > 0 && c.PushAudience == "":
		bad("PUSH_SERVICE_ACCOUNT", "needs PUSH_AUDIENCE")
	case c.PushAudience != "" && len(accounts) == 0:
		bad("PUSH_AUDIENCE", "needs PUSH_SERVICE_ACCOUNT: without it a token of any Google identity would be accepted")
	default:
		for _, a := range accounts {
			if at := strings.Index(a, "@"); at < 1 || at == len(a)-1 || strings.ContainsAny(a, " \t/") {
				bad("PUSH_SERVICE_ACCOUNT", "%q is not a service account email", a)
			}
		}
	}
	c.logProblems(bad)
	return errs
}

// logProblems reports the problems of LOG_LEVEL, LOG_DESTINATION and LOG_FORMAT with bad.
func (c *Worker) logProblems(bad func(name, format string, args ...any)) {
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		bad("LOG_LEVEL", "%v", err)
	}
	// cloudlog's parser is the one definition of LOG_DESTINATION ("" is auto: a Worker built in code).
	if _, err := cloudlog.ParseDestination(c.LogDestination); err != nil {
		var de *cloudlog.DestinationError
		if errors.As(err, &de) {
			bad("LOG_DESTINATION", "%s", de.Reason())
		} else {
			bad("LOG_DESTINATION", "%v", err)
		}
	}
	if _, err := cloudlog.ParseFormat(c.LogFormat); err != nil {
		bad("LOG_FORMAT", "%v", err)
	}
}

// ingressProblems reports the problems of the variables of MODE=ingress with bad.
func (c *Worker) ingressProblems(bad func(name, format string, args ...any)) {
	if c.WebhookSecret == "" {
		// Never echo a secret's value, not even in part.
		bad("WEBHOOK_SECRET", "is required in MODE=ingress (the GitHub App's webhook secret)")
	}
	if c.RelayTopic == "" {
		bad("RELAY_TOPIC", "is required in MODE=ingress (the topic deliveries are published to)")
	} else {
		resourceNameProblem(c.Project, "RELAY_TOPIC", c.RelayTopic, "topics", bad)
	}
	if c.WebhookPublishTimeout <= 0 || c.WebhookPublishTimeout >= MaxWebhookPublishTimeout {
		bad("WEBHOOK_PUBLISH_TIMEOUT", "%s must be above 0 and below GitHub's %s delivery timeout", c.WebhookPublishTimeout, MaxWebhookPublishTimeout)
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("PORT", "%d is not a TCP port", c.Port)
	}
	// The ingress is public: it must never pull (or serve) the worker's stages.
	for _, v := range []struct{ name, value string }{{"PUBSUB_SUBSCRIPTION", c.Subscription}, {"INTAKE_SUBSCRIPTION", c.IntakeSubscription}} {
		if v.value != "" {
			bad(v.name, "is set, but MODE=ingress serves only POST /webhook; run the worker stages in a MODE=worker process")
		}
	}
	if c.RelayTypePrefix == "" {
		bad("RELAY_TYPE_PREFIX", "must not be empty")
	}
}

// resourceNameProblem checks a Pub/Sub resource name: projects/P/KIND/NAME, or a short name
// with a project.
func resourceNameProblem(project, name, value, kind string, bad func(name, format string, args ...any)) {
	switch {
	case value == "":
	case strings.HasPrefix(value, "projects/"):
		if p := strings.Split(value, "/"); len(p) != 4 || p[1] == "" || p[2] != kind || p[3] == "" {
			bad(name, "%q is not projects/P/%s/NAME", value, kind)
		}
	case strings.Contains(value, "/"):
		bad(name, "%q is neither a short name nor projects/P/%s/NAME", value, kind)
	case project == "":
		bad(name, "%q is a short name; set GOOGLE_CLOUD_PROJECT or give projects/P/%s/NAME", value, kind)
	}
}

// Key returns the App's private key, read from the file when one is configured.
func (c *Worker) Key() ([]byte, error) {
	return readKey(c.PrivateKey, c.PrivateKeyFile)
}

// MaxBackoff is the largest backoff of a Pub/Sub retry policy.
const MaxBackoff = 600 * time.Second

// RetryWindow is how long Pub/Sub keeps redelivering a message that is never acked before
// its dead-letter policy gives it up. Between deliveries k and k+1 it waits
// min(maxBackoff, minBackoff × 2^(k-1)), and the window is the sum of those waits. Handling
// time is not counted. With backoffs of 10 s and 600 s, 10 attempts span 40.5 minutes and 15
// attempts 90.5 minutes.
func RetryWindow(minBackoff, maxBackoff time.Duration, attempts int) time.Duration {
	var w time.Duration
	d := minBackoff
	for k := 1; k < attempts; k++ {
		w += min(d, maxBackoff)
		if d < maxBackoff {
			d *= 2
		}
	}
	return w
}

// MaxReconcileTimeout is the longest RECONCILE_TIMEOUT that fits in ACK_DEADLINE.
func (c *Worker) MaxReconcileTimeout() time.Duration {
	return c.AckDeadline - FinalWritesReserve - DeadlineMargin
}

// PushServiceAccounts returns the emails of PUSH_SERVICE_ACCOUNT, a comma-separated list.
func (c *Worker) PushServiceAccounts() []string {
	var out []string
	for _, a := range strings.Split(c.PushServiceAccount, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Pull reports whether the worker pulls (either stage) instead of serving pushes.
func (c *Worker) Pull() bool { return c.Subscription != "" || c.IntakeSubscription != "" }

// SubscriptionName returns the reconcile subscription's full resource name ("" when unset).
func (c *Worker) SubscriptionName() string { return c.fullName(c.Subscription, "subscriptions") }

// IntakeSubscriptionName returns the intake subscription's full resource name ("" when unset).
func (c *Worker) IntakeSubscriptionName() string {
	return c.fullName(c.IntakeSubscription, "subscriptions")
}

// ReconcileTopicName returns the reconcile topic's full resource name ("" when unset).
func (c *Worker) ReconcileTopicName() string { return c.fullName(c.ReconcileTopic, "topics") }

func (c *Worker) fullName(name, kind string) string {
	if name == "" || strings.HasPrefix(name, "projects/") {
		return name
	}
	return "projects/" + c.Project + "/" + kind + "/" + name
}

// Variable describes one environment variable.
type Variable struct {
	Name        string
	Default     string
	Required    bool
	Description string
}

// Variables lists every variable Worker reads, in declaration order, for documentation and
// for the deployment's tests.
func Variables() []Variable { return VariablesOf(Worker{}) }

// VariablesOf lists the variables that a go-envconfig struct, or a pointer to one, reads, in
// declaration order, from its `env`, `required` and `desc` tags. It documents a reconciler's
// own configuration as Variables documents Worker.
func VariablesOf(spec any) []Variable {
	var vs []Variable
	t := reflect.TypeOf(spec)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("env")
		if tag == "" {
			continue
		}
		parts := strings.Split(tag, ",")
		v := Variable{Name: strings.TrimSpace(parts[0]), Required: f.Tag.Get("required") == "true", Description: f.Tag.Get("desc")}
		for _, p := range parts[1:] {
			if d, ok := strings.CutPrefix(strings.TrimSpace(p), "default="); ok {
				v.Default = d
			}
		}
		vs = append(vs, v)
	}
	return vs
}
