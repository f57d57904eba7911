package hygiene

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/statusmanager"
	"github.com/prreconciler/prreconciler/worker"
)

// Config is diff hygiene's own environment, read beside the worker's (config.Worker) from the
// same variables: a go-envconfig struct, documented by config.VariablesOf(Config{}).
type Config struct {
	MaxFileBytes int `env:"HYGIENE_MAX_FILE_BYTES, default=1048576" desc:"diff hygiene: warn when a file's added lines exceed this many bytes"`
	MaxFileLines int `env:"HYGIENE_MAX_FILE_LINES, default=1000" desc:"diff hygiene: warn when a file adds more than this many lines"`
}

// Validate reports every bad variable of c at once, each by name.
func (c Config) Validate() error {
	var errs []error
	if c.MaxFileBytes < 1 {
		errs = append(errs, errors.New("HYGIENE_MAX_FILE_BYTES: must be at least 1"))
	}
	if c.MaxFileLines < 1 {
		errs = append(errs, errors.New("HYGIENE_MAX_FILE_LINES: must be at least 1"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hygiene: %w", err)
	}
	return nil
}

// Options are the check options of c.
func (c Config) Options() Options {
	return Options{MaxFileBytes: c.MaxFileBytes, MaxFileLines: c.MaxFileLines}
}

// LoadConfig reads Config from l (the process environment when nil) and validates it.
func LoadConfig(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	var c Config
	if err := config.Process(ctx, l, &c); err != nil {
		return Config{}, fmt.Errorf("hygiene: %w", err)
	}
	return c, c.Validate()
}

// New reads diff hygiene's configuration from lookup and returns its reconciler: the
// worker.App New of the diff hygiene worker.
func New(ctx context.Context, lookup envconfig.Lookuper) (worker.Reconciler[Details], error) {
	c, err := LoadConfig(ctx, lookup)
	if err != nil {
		return nil, err
	}
	return Reconciler(c.Options()), nil
}

// Cost is the rate-limit points a diff hygiene reconcile spends (worker.App.Cost): it reads
// the pull request's head twice and its files, 100 a page; each further 100 files is one
// more point, which the budget reserve absorbs.
func Cost(*events.Request) int { return 3 }

// App is the diff hygiene worker, the whole of cmd/worker:
//
//	func main() { worker.Main(hygiene.App()) }
func App() worker.App[Details] {
	return worker.App[Details]{New: New, Cost: Cost}
}

// Reconciler returns the diff hygiene reconciler for the worker: the details carry their own
// conclusion and title. GitHub's errors are returned as they are, for the worker to classify
// (a 5xx or a rate limit is retried, a missing pull request fails the run).
//
// GitHub lists a pull request's files as of its current head, so the reconcile is only about
// req.SHA while that is the head: the head is read before and after the files, and a request
// for a commit the pull request has moved past is completed as skipped ("Superseded"); the
// new head gets its own event.
func Reconciler(opts Options) worker.Reconciler[Details] {
	return func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[Details], error) {
		res := req.Resource
		head := func() (string, error) {
			pr, _, err := gh.PullRequests.Get(ctx, res.Owner, res.Repo, res.Number)
			if err != nil {
				return "", fmt.Errorf("hygiene: read %s: %w", res.String(), err)
			}
			return strings.ToLower(pr.GetHead().GetSHA()), nil
		}
		superseded := func(h string) *worker.Result[Details] {
			return &worker.Result[Details]{Conclusion: statusmanager.ConclusionSkipped,
				Title: fmt.Sprintf("Superseded: the pull request's head is now %.12s", h)}
		}
		h, err := head()
		if err != nil {
			return nil, err
		}
		if h != req.SHA {
			return superseded(h), nil
		}
		d, err := Reconcile(ctx, gh, res.Owner, res.Repo, res.Number, opts)
		if err != nil {
			return nil, err
		}
		if h, err = head(); err != nil {
			return nil, err
		} else if h != req.SHA {
			return superseded(h), nil
		}
		return &worker.Result[Details]{Conclusion: d.Conclusion(), Title: d.Title(), Details: d}, nil
	}
}
