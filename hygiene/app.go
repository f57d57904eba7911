package hygiene

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

// Cost is the rate-limit points a diff hygiene reconcile spends (worker.App.Cost): one
// comparison of the commit with its base, and one read of the pull request when the request
// does not carry the base. Past 300 files (req.ChangedFiles) it adds a read of the pull
// request and one point per 100 files beyond the first 300 (see Reconciler); the re-read of
// the head is answered 304 and costs nothing.
func Cost(req *events.Request) int {
	c := 1
	if req.BaseSHA == "" {
		c++
	}
	if n := req.ChangedFiles; n > MaxCompareFiles {
		c += 1 + (n-MaxCompareFiles+99)/100
	}
	return c
}

// App is the diff hygiene worker, the whole of cmd/worker:
//
//	func main() { worker.Main(hygiene.App()) }
func App() worker.App[Details] {
	return worker.App[Details]{New: New, Cost: Cost, Variables: config.VariablesOf(Config{})}
}

// Reconciler returns the diff hygiene reconciler for the worker: the details carry their own
// conclusion and title. GitHub's errors are returned as they are, for the worker to classify
// (a 5xx or a rate limit is retried, a missing pull request fails the run).
//
// It checks the diff of exactly req.SHA: the comparison of req.SHA with the base commit the
// event carried (req.BaseSHA), else with the pull request's base, read first. That is one
// request, answered for req.SHA whatever the pull request's head is by then, so a request
// for a commit the pull request has moved past is checked with that commit's own diff.
//
// The rule past GitHub's limit: a comparison lists at most 300 files, and does not say when
// it cut. When it lists fewer, or exactly req.ChangedFiles, it is the whole diff. Otherwise
// the rest comes from the pull request's files, which are its current head's: the pull
// request is read (its head and its changed_files), then its files from the 4th page of 100
// on, then it is read again (a conditional read, free while nothing changed); the diff is
// checked only if req.SHA was the head on both reads and the comparison and the pages
// together name changed_files distinct files. If the pages do not complete the comparison
// (GitHub ordered them otherwise), all pages are listed. A request for a commit the pull
// request has moved past is then completed as skipped ("Superseded"); the new head gets its
// own event. So does a commit GitHub no longer compares (404 or 422: force-pushed away).
func Reconciler(opts Options) worker.Reconciler[Details] {
	return func(ctx context.Context, req *events.Request, gh *github.Client) (*worker.Result[Details], error) {
		res := req.Resource
		var pr *github.PullRequest
		base := req.BaseSHA
		if base == "" {
			var err error
			if pr, err = readPR(ctx, gh, res); err != nil {
				return nil, err
			}
			if base = pr.GetBase().GetSHA(); base == "" {
				return nil, fmt.Errorf("hygiene: read %s: GitHub names no base commit", res.String())
			}
		}
		files, err := compare(ctx, gh, res.Owner, res.Repo, base, req.SHA)
		switch {
		case err != nil && !gone(err):
			return nil, err
		case err == nil && (len(files) < MaxCompareFiles || len(files) == req.ChangedFiles):
			return result(check(files, opts)), nil
		}
		return beyondCompare(ctx, gh, req, pr, files, opts)
	}
}

func result(d Details) *worker.Result[Details] {
	return &worker.Result[Details]{Conclusion: d.Conclusion(), Title: d.Title(), Details: d}
}

func readPR(ctx context.Context, gh *github.Client, res events.Resource) (*github.PullRequest, error) {
	pr, _, err := gh.PullRequests.Get(ctx, res.Owner, res.Repo, res.Number)
	if err != nil {
		return nil, fmt.Errorf("hygiene: read %s: %w", res.String(), err)
	}
	return pr, nil
}

// gone reports whether GitHub answered that it cannot compare the commit (404 or 422).
func gone(err error) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil &&
		(er.Response.StatusCode == http.StatusNotFound || er.Response.StatusCode == http.StatusUnprocessableEntity)
}

// beyondCompare completes a diff the comparison cut (compared: its files; none when GitHub
// did not compare) from the pull request's files, while req.SHA is its head. pr, when not
// nil, is a read of the pull request made just before the comparison.
func beyondCompare(ctx context.Context, gh *github.Client, req *events.Request, pr *github.PullRequest, compared []*github.CommitFile, opts Options) (*worker.Result[Details], error) {
	res := req.Resource
	superseded := func(h string) *worker.Result[Details] {
		return &worker.Result[Details]{Conclusion: statusmanager.ConclusionSkipped,
			Title: fmt.Sprintf("Superseded: the pull request's head is now %.12s", h)}
	}
	if pr == nil {
		var err error
		if pr, err = readPR(ctx, gh, res); err != nil {
			return nil, err
		}
	}
	if h := strings.ToLower(pr.GetHead().GetSHA()); h != req.SHA {
		return superseded(h), nil
	}
	total := pr.GetChangedFiles()
	files := compared
	if len(compared) < total {
		// The pages past the comparison's, then, if they do not complete it, all of them.
		tail, err := listFiles(ctx, gh, res.Owner, res.Repo, res.Number, len(compared)/100+1)
		if err != nil {
			return nil, err
		}
		// Relisted only when that can help: the tail did not start at the first page, and
		// GitHub lists all of the files (at most 3,000).
		if files = union(compared, tail); len(files) != total && len(compared) > 0 && total <= maxListedFiles {
			if files, err = listFiles(ctx, gh, res.Owner, res.Repo, res.Number, 1); err != nil {
				return nil, err
			}
		}
		again, err := readPR(ctx, gh, res)
		if err != nil {
			return nil, err
		}
		if h := strings.ToLower(again.GetHead().GetSHA()); h != req.SHA {
			return superseded(h), nil
		}
	}
	d := check(files, opts)
	d.FileListCapped = len(files) >= maxListedFiles || len(files) < total
	return result(d), nil
}

// union is a's files, then b's that a does not name.
func union(a, b []*github.CommitFile) []*github.CommitFile {
	seen := make(map[string]bool, len(a)+len(b))
	out := make([]*github.CommitFile, 0, len(a)+len(b))
	for _, fs := range [][]*github.CommitFile{a, b} {
		for _, f := range fs {
			if f != nil && !seen[f.GetFilename()] {
				seen[f.GetFilename()] = true
				out = append(out, f)
			}
		}
	}
	return out
}
