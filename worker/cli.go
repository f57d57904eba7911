package worker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/internal/buildinfo"
	"github.com/prreconciler/prreconciler/redeliver"
)

// UsageError is a command line the binary does not understand. Main prints it with the
// usage on stderr and exits 2, as flag-parsing programs do. Any other failure exits 1.
type UsageError struct {
	// Problem says what is wrong ("unknown argument \"-x\"").
	Problem string
	// Usage is the help of the command concerned.
	Usage string
}

// Error is the problem, then the usage.
func (e *UsageError) Error() string { return e.Problem + "\n\n" + e.Usage }

// Version is the running build's identity, "VERSION (commit C, built D)". It comes from the
// build's -ldflags, which make build sets, or from the Go toolchain's build information.
// The version subcommand prints it, and the start-up log and the GitHub User-Agent carry
// it.
func Version() string { return buildinfo.Read().String() }

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// builtinNames are the subcommands every reconciler binary has.
func builtinNames() []string { return []string{"help", "redeliver", "redrive", "version"} }

// usage is the binary's help: the modes, the subcommands and every environment variable.
func (a App[T]) usage(env Env) string { return named(a.usageText(), env) }

// named puts the program's name in a usage text.
func named(usage string, env Env) string { return strings.ReplaceAll(usage, "BINARY", env.name()) }

func (a App[T]) usageText() string {
	var b strings.Builder
	names := builtinNames()
	for n := range maps.Keys(a.Commands) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	fmt.Fprintf(&b, `usage: BINARY                serve, configured by the environment below
       BINARY COMMAND [ARGS] one of: %s
       BINARY -h | --help    this help
       BINARY -version       the build's version

Modes (chosen by the environment):
  push (default)  serve Pub/Sub pushes on PORT: POST /reconcile (and /), POST /intake with
                  RECONCILE_TOPIC, GET /healthz
  pull            pull the reconcile stage from PUBSUB_SUBSCRIPTION and the intake stage from
                  INTAKE_SUBSCRIPTION

Commands:
  redrive    move dead-lettered messages back to their topics (needs only Pub/Sub settings)
  redeliver  ask GitHub again for the App's webhook deliveries that failed (needs only
             GITHUB_APP_ID, the key and GITHUB_API_URL)
  version    print the build's version, commit and date
`, strings.Join(names, ", "))
	for _, n := range names {
		if !slices.Contains(builtinNames(), n) {
			fmt.Fprintf(&b, "  %-10s this reconciler's own command (needs the whole configuration)\n", n)
		}
	}
	b.WriteString("\nRun BINARY COMMAND -h for a command's flags.\n\nEnvironment (variable, default, meaning):\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, v := range append(config.Variables(), a.Variables...) {
		def := v.Default
		switch {
		case v.Required:
			def = "(required)"
		case def == "":
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Description)
	}
	tw.Flush()
	return b.String()
}

// subcommand is how Run treats a command line. A builtin runs without Start, with only the
// configuration it needs. A user command is the App's own and runs with the started
// Process. With neither, the process serves.
type subcommand[T any] struct {
	builtin func(ctx context.Context, env Env, args []string) error
	user    Command[T]
	args    []string
}

// dispatch parses the command line. Help and version are answered here, on env's stdout.
// They leave a zero subcommand, with done set.
func (a App[T]) dispatch(env Env) (sub subcommand[T], done bool, err error) {
	args := env.Args
	if len(args) == 0 {
		return sub, false, nil
	}
	name, rest := args[0], args[1:]
	if cmd := a.Commands[name]; cmd != nil {
		return subcommand[T]{user: cmd, args: rest}, false, nil
	}
	switch {
	case isHelp(name):
		_, err := io.WriteString(env.stdout(), a.usage(env))
		return sub, true, err
	case name == "version" || name == "-version" || name == "--version":
		_, err := fmt.Fprintln(env.stdout(), Version())
		return sub, true, err
	case name == "redrive":
		return subcommand[T]{builtin: redriveCommand, args: rest}, false, nil
	case name == "redeliver":
		return subcommand[T]{builtin: redeliverCommand, args: rest}, false, nil
	}
	return sub, false, &UsageError{Problem: fmt.Sprintf("unknown argument %q", name), Usage: a.usage(env)}
}

// parseFlags parses a subcommand's flags. -h prints its usage on stdout and reports done.
// Anything it does not know is a UsageError.
func parseFlags(fs *flag.FlagSet, usage string, args []string, env Env) (done bool, err error) {
	fs.SetOutput(io.Discard)
	usage, stdout := named(usage, env), env.stdout()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, err := io.WriteString(stdout, usage+"\n")
			return true, err
		}
		return false, &UsageError{Problem: fs.Name() + ": " + err.Error(), Usage: usage}
	}
	return false, nil
}

// pubsubOptions are the Pub/Sub client's options for env: the emulator's when
// emulatorHost, env's PUBSUB_EMULATOR_HOST, is set, then env's own. The client itself reads
// that variable from the process environment only, and env may be another.
func pubsubOptions(emulatorHost string, env Env) []option.ClientOption {
	if emulatorHost == "" {
		return env.PubSubOptions
	}
	return append([]option.ClientOption{option.WithEndpoint(emulatorHost),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithoutAuthentication(), option.WithTelemetryDisabled()}, env.PubSubOptions...)
}

// redeliverUsage is the redeliver subcommand's help.
const redeliverUsage = `usage: BINARY redeliver [-since 24h] [-dry-run] [-max-redeliveries 3]

Lists the GitHub App's webhook deliveries (GET /app/hook/deliveries, as the App) and, for each
delivery first made within -since that no attempt answered 2xx, asks GitHub for it again
(POST /app/hook/deliveries/{id}/attempts), once per run. A delivery that succeeded, or has an
attempt still pending, is skipped; one redelivered -max-redeliveries times already is given up.
Safe to run repeatedly, e.g. hourly from Cloud Scheduler. Prints a line per delivery and a summary.

Needs only GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_FILE) and GITHUB_API_URL.`

// redeliverCommand is the redeliver subcommand of every reconciler binary (see package redeliver).
func redeliverCommand(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("redeliver", flag.ContinueOnError)
	var opts redeliver.Options
	fs.DurationVar(&opts.Since, "since", redeliver.DefaultSince, "redeliver deliveries first made this long ago at most")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "print what would be redelivered; request nothing")
	fs.IntVar(&opts.MaxRedeliveries, "max-redeliveries", redeliver.DefaultMaxRedeliveries, "redeliveries of one delivery at most, over all runs")
	if done, err := parseFlags(fs, redeliverUsage, args, env); done || err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &UsageError{Problem: fmt.Sprintf("redeliver: unexpected argument %q", fs.Arg(0)), Usage: named(redeliverUsage, env)}
	}
	if opts.Since <= 0 || opts.Since > 72*time.Hour {
		return &UsageError{Problem: fmt.Sprintf("redeliver: -since %s must be above 0 and at most 72h (GitHub keeps deliveries 3 days)", opts.Since), Usage: named(redeliverUsage, env)}
	}
	if opts.MaxRedeliveries < 1 {
		return &UsageError{Problem: "redeliver: -max-redeliveries must be at least 1", Usage: named(redeliverUsage, env)}
	}
	cfg, err := config.LoadGitHubApp(ctx, env.lookuper())
	if err != nil {
		return err
	}
	key, err := cfg.Key()
	if err != nil {
		return err
	}
	clients, err := githubapp.New(cfg.AppID, key, githubapp.Options{BaseURL: cfg.APIURL, UserAgent: buildinfo.Read().UserAgent()})
	if err != nil {
		return fmt.Errorf("redeliver: github app: %w", err)
	}
	opts.Progress = env.stdout()
	_, err = redeliver.Run(ctx, clients.AppClient(), opts)
	return err
}
