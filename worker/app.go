package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"cloud.google.com/go/pubsub/v2"
	"github.com/sethvargo/go-envconfig"
	"golang.org/x/sync/errgroup"

	"github.com/prreconciler/prreconciler/cloudlog"
	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/internal/buildinfo"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/webhook"
)

// App describes a reconciler binary: its reconciler, and what Main, Run and Start need
// beyond the environment. Everything else is read from the environment that config.Worker
// documents, the same for every reconciler: the GitHub App and its key, the API URL, the
// check run name, push or pull, the intake stage, timeouts, retries, budgets, push token
// checks and logging.
type App[T any] struct {
	// Reconcile is the reconciler, for one without configuration of its own. Set either
	// Reconcile or New.
	Reconcile Reconciler[T]
	// New builds the reconciler, for one with configuration of its own. It reads its
	// variables from lookup, for example with config.Process on a go-envconfig struct of
	// its own, and validates them. Its error is reported together with the worker's
	// configuration errors, and the process does not start.
	New func(ctx context.Context, lookup envconfig.Lookuper) (Reconciler[T], error)
	// Cost, when set, estimates the rate-limit points the reconciler spends on a request
	// (see Worker.Cost). nil means DefaultReconcilerCost.
	Cost func(req *events.Request) int
	// PullRequestActions are pull_request actions that re-evaluate the pull request's head
	// commit, beyond the default opened, reopened, synchronize and ready_for_review. They
	// serve a reconciler that checks metadata such as the title ("edited") or the labels
	// ("labeled", "unlabeled"). Because a result belongs to a commit, each such action
	// creates a fresh run at the head commit, as a Re-run does, and the previous run is
	// kept. The reconciler learns why it runs from the request's Trigger, such as
	// "pull_request.edited".
	PullRequestActions []string
	// DetailsURLTemplate, when set, is the check runs' details link, as a text/template of
	// statusmanager.DetailsLink (see statusmanager.WithDetailsURLTemplate). It is for a
	// reconciler whose team reads its logs elsewhere than in Cloud Logging.
	// DETAILS_URL_TEMPLATE overrides it.
	DetailsURLTemplate string
	// Commands are the binary's own subcommands. `BINARY NAME ARGS...` starts the process,
	// which reads and validates the whole configuration and makes the clients, and then runs
	// Commands[NAME] with it instead of serving. Without arguments the binary serves. A name
	// here takes precedence over the built-in ones (help, version, redrive, redeliver),
	// which need only the configuration they use.
	Commands map[string]Command[T]
	// Variables are the reconciler's own environment variables (config.VariablesOf on its
	// go-envconfig struct), listed by -h after the worker's.
	Variables []config.Variable
}

// Command is a subcommand of a reconciler binary (see App.Commands). It runs with the
// started process p and the arguments after its name. Its error is the binary's.
type Command[T any] func(ctx context.Context, p *Process[T], args []string) error

// Main is the whole main function of a reconciler binary:
//
//	func main() { worker.Main(worker.App[Details]{Reconcile: reconcile}) }
//
// It runs Run with the process's arguments and environment until SIGTERM or an interrupt.
// It exits 0 after a clean shutdown, help or version, and 2 with the usage on stderr for a
// command line it does not understand. Any other failure, such as a bad configuration, is
// printed on stderr as one error, and the process exits 1.
func Main[T any](app App[T]) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	name := filepath.Base(os.Args[0])
	err := Run(ctx, app, Env{Args: os.Args[1:], Name: name})
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		var usage *UsageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// Run starts the process of app in env (see Start) and serves until ctx is done, or it runs
// the command that env.Args names. Help and version print on env's stdout. The redrive and
// redeliver commands read only the variables they use. The App's Commands run with the
// started process, in MODE=worker only.
//
// Run returns nil after a clean shutdown, and a *UsageError for a command line it does not
// understand.
func Run[T any](ctx context.Context, app App[T], env Env) (err error) {
	sub, done, err := app.dispatch(env)
	if done || err != nil {
		return err
	}
	if sub.builtin != nil {
		return sub.builtin(ctx, env, sub.args)
	}
	p, err := Start(ctx, app, env)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, p.Close()) }()
	if sub.user != nil && p.Config.Ingress() {
		return fmt.Errorf("%s runs in MODE=worker; this process is MODE=ingress", env.Args[0])
	}
	if sub.user != nil {
		return sub.user(ctx, p, sub.args)
	}
	return p.Serve(ctx)
}

// reconciler returns the App's reconciler, built by New when it has one.
func (a App[T]) reconciler(ctx context.Context, lookup envconfig.Lookuper) (Reconciler[T], error) {
	switch {
	case a.Reconcile != nil && a.New != nil:
		return nil, errors.New("worker: App: set Reconcile or New, not both")
	case a.Reconcile != nil:
		return a.Reconcile, nil
	case a.New != nil:
		r, err := a.New(ctx, lookup)
		if err == nil && r == nil {
			err = errors.New("worker: App.New returned no reconciler")
		}
		return r, err
	}
	return nil, errors.New("worker: App has no reconciler: set Reconcile (or New)")
}

// Process is a started reconciler process: its configuration, its logger and both stages,
// wired as the configuration says. Set the stages' optional fields, such as OnOutcome,
// before Serve. Close releases what Start made.
type Process[T any] struct {
	// Config is the worker's configuration, read and validated.
	Config *config.Worker
	// Logger writes to the configured destination (LOG_DESTINATION, LOG_LEVEL).
	Logger *slog.Logger
	// Worker is the reconcile stage. Its Clients is a *githubapp.Factory.
	Worker *Worker[T]
	// Intake is the intake stage, publishing to RECONCILE_TOPIC. It is nil when
	// RECONCILE_TOPIC is not set.
	Intake *Intake
	// Webhook is the webhook ingress of MODE=ingress, publishing to RELAY_TOPIC. It is nil
	// in MODE=worker. In MODE=ingress, Worker is nil instead.
	Webhook *webhook.Handler
	// PubSub is the Pub/Sub client of the subscriptions and of the topic the process
	// publishes to. It is nil when there are none (push mode without intake).
	PubSub *pubsub.Client
	// Logging is where Logger writes. Its Choice says which destination and why. Close
	// flushes it.
	Logging *cloudlog.Logging

	publisher *pubsub.Publisher
	closeOnce sync.Once
	closeErr  error
}

// Start reads and validates the configuration of env: config.Worker, and the reconciler's own
// through App.New. It then builds the process without serving anything yet: logging, the
// GitHub App's clients, the status manager, the reconcile stage and, with RECONCILE_TOPIC,
// the intake stage.
//
// Start checks the App's id and key once with GET /app. A 401 or 404 answer is an
// *AppCredentialsError. No answer within AppCheckTimeout is only logged. Every problem of
// the configuration is reported in the one error returned, and then nothing is left
// running.
//
// With MODE=ingress it builds the webhook ingress instead (Process.Webhook), without the
// GitHub App or the reconciler.
func Start[T any](ctx context.Context, app App[T], env Env) (_ *Process[T], err error) {
	lookup, getenv := env.lookuper(), env.getenv()
	cfg, cfgErr := config.Load(ctx, lookup)
	if ingressMode(lookup) {
		if cfgErr != nil {
			return nil, cfgErr
		}
		return startIngress[T](ctx, cfg, env)
	}
	rec, recErr := app.reconciler(ctx, lookup)
	var actionsErr error
	if err := events.ValidatePullRequestActions(app.PullRequestActions); err != nil {
		actionsErr = fmt.Errorf("worker: App.PullRequestActions: %w", err)
	}
	if err := errors.Join(cfgErr, recErr, actionsErr); err != nil {
		return nil, err
	}
	p, cloud, err := newProcess[T](ctx, cfg, cfg, env)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	project := cmp.Or(cfg.Project, p.Logging.Choice().Project)
	if project == "" {
		project = cloud.Project(ctx) // the metadata server's, on Cloud Run only
	}
	key, err := cfg.Key()
	if err != nil {
		return nil, err
	}
	build := buildinfo.Read()
	p.Logger.Info("worker starting", "version", build.Version, "commit", build.Commit, "built", build.Date)
	clients, err := githubapp.New(cfg.AppID, key, githubapp.Options{BaseURL: cfg.APIURL, RetryBudget: cfg.RetryBudget,
		Logger: p.Logger, BudgetReserve: cfg.GitHubBudgetReserve(), ResetJitter: cfg.GitHubResetJitter(), UserAgent: build.UserAgent()})
	if err != nil {
		return nil, fmt.Errorf("github app: %w", err)
	}
	if err := checkApp(ctx, clients, cfg, p.Logger); err != nil {
		return nil, err
	}
	smOpts := []statusmanager.Option{statusmanager.WithAppID(cfg.AppID), statusmanager.WithProject(project, cloudlog.Service(getenv))}
	// The configuration's template is the operator's choice, over the reconciler's.
	if tmpl := cmp.Or(cfg.DetailsURLTemplate, app.DetailsURLTemplate); tmpl != "" {
		smOpts = append(smOpts, statusmanager.WithDetailsURLTemplate(tmpl))
	}
	sm, err := statusmanager.NewStatusManager[T](ctx, cfg.Identity, smOpts...)
	if err != nil {
		return nil, err
	}
	decoder := &events.Decoder{TypePrefix: cfg.RelayTypePrefix, AppID: cfg.AppID, Identity: cfg.Identity,
		PullRequestActions: app.PullRequestActions}
	p.Worker = &Worker[T]{
		Manager:             sm,
		Clients:             clients,
		Reconcile:           rec,
		Decoder:             decoder,
		Logger:              p.Logger,
		Timeout:             cfg.ReconcileTimeout,
		AckDeadline:         cfg.AckDeadline,
		MaxDeliveryAttempts: cfg.MaxDeliveryAttempts,
		Cost:                app.Cost,
		InProgressAfter:     cfg.WorkerInProgressAfter(),
	}
	if err := p.Worker.Validate(); err != nil {
		return nil, err
	}
	if err := p.connect(ctx, env); err != nil {
		return nil, err
	}
	return p, nil
}

// connect makes the Pub/Sub client that pull mode and the intake stage need, and the intake
// stage's publisher. A push-only reconcile stage needs neither.
func (p *Process[T]) connect(ctx context.Context, env Env) (err error) {
	cfg := p.Config
	if !cfg.Pull() && cfg.ReconcileTopic == "" {
		return nil
	}
	if p.PubSub, err = newPubSubClient(ctx, cfg, env, cfg.ReconcileTopicName(), cfg.IntakeSubscriptionName(), cfg.SubscriptionName()); err != nil {
		return err
	}
	if cfg.ReconcileTopic != "" {
		p.publisher = p.PubSub.Publisher(cfg.ReconcileTopicName())
		p.publisher.EnableMessageOrdering = true // the ordering key is what serializes a commit
		p.Intake = p.Worker.Intake(p.publisher)
	}
	return nil
}

// Serve serves as the configuration says until ctx is done:
//
//   - with push, the default, Pub/Sub pushes on PORT: POST /reconcile (or /), POST /intake
//     when RECONCILE_TOPIC is set, and GET /healthz;
//   - with pull, the messages of INTAKE_SUBSCRIPTION and PUBSUB_SUBSCRIPTION, each when set;
//   - with MODE=ingress, the webhook ingress on PORT: POST /webhook and GET /healthz.
//
// In-flight work gets SHUTDOWN_GRACE to finish. Serve returns nil after a clean shutdown.
func (p *Process[T]) Serve(ctx context.Context) error {
	cfg := p.Config
	if cfg.Ingress() {
		return p.serveIngress(ctx)
	}
	if !cfg.Pull() {
		p.Logger.Info("worker listening for Pub/Sub pushes", "port", cfg.Port, "identity", cfg.Identity, "app_id", cfg.AppID,
			"intake", p.Intake != nil, "reconcile_topic", cfg.ReconcileTopicName())
		err := p.Worker.Serve(ctx, ":"+strconv.Itoa(cfg.Port), PushOptions{
			Audience: cfg.PushAudience, ServiceAccounts: cfg.PushServiceAccounts(),
			MaxInFlight: cfg.MaxInFlight, ShutdownGrace: cfg.ShutdownGrace, Intake: p.Intake,
		})
		p.Logger.Info("worker stopped")
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	opts := PullOptions{MaxInFlight: cfg.MaxInFlight, ShutdownGrace: cfg.ShutdownGrace}
	if name := cfg.IntakeSubscriptionName(); name != "" {
		p.Logger.Info("intake pulling", "subscription", name, "reconcile_topic", cfg.ReconcileTopicName())
		g.Go(func() error { return stopped(p.Intake.Pull(gctx, p.PubSub.Subscriber(name), opts)) })
	}
	if name := cfg.SubscriptionName(); name != "" {
		p.Logger.Info("worker pulling", "subscription", name, "identity", cfg.Identity, "app_id", cfg.AppID)
		g.Go(func() error { return stopped(p.Worker.Pull(gctx, p.PubSub.Subscriber(name), opts)) })
	}
	err := g.Wait()
	p.Logger.Info("worker stopped")
	return err
}

// stopped treats the end of a pull by shutdown as success.
func stopped(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close flushes and stops the publisher, closes the Pub/Sub client, and flushes the logs
// within cloudlog.DefaultFlushTimeout. Call it once Serve has returned. Later calls do
// nothing.
func (p *Process[T]) Close() error {
	p.closeOnce.Do(func() {
		if p.publisher != nil {
			p.publisher.Stop()
		}
		if p.PubSub != nil {
			if err := p.PubSub.Close(); err != nil {
				p.closeErr = fmt.Errorf("close pubsub client: %w", err)
			}
		}
		closeLogging(p.Logging)
	})
	return p.closeErr
}
